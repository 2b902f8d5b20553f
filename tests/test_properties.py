"""Property-based tests of SiameseEmbedder and SiameseVerifier with hypothesis.

Hypothesis draws the data (rows, shapes, dtypes, label types, number of
classes) and the parameters from the ranges the estimators accept, and checks
what must hold for every draw. Invalid draws must be rejected with a
ValueError or TypeError before any training, leaving a fitted estimator as it
was.

The runs are reproducible: every test is derandomized and uses no example
database, so CI sees the same examples on every run. Set
``SKSIAMESE_HYPOTHESIS_SCALE`` (e.g. 10) to run that many times more examples
locally. Each test counts the examples it tried and those that passed, in
every phase (a failure's shrinking included); the counts are printed when the
module finishes (see also ``pytest --hypothesis-show-statistics``).

Domain of the valid-data properties: float rows lie within +-1e6 and integer
rows span their dtype. Far larger floats (above ~1e19) overflow the float32
training precision; tests/test_validation.py documents that case.
"""

import collections
import functools
import os
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.base import clone

from sksiamese import SiameseEmbedder, SiameseVerifier

_SCALE = max(1, int(os.environ.get("SKSIAMESE_HYPOTHESIS_SCALE", "1")))

RUNS = collections.defaultdict(collections.Counter)
"""Examples tried and passed by each test, this session."""


def counted(test):
    """Count the examples ``test`` tries and passes, under its pytest id."""

    @functools.wraps(test)
    def body(*args, **kwargs):
        current = os.environ.get("PYTEST_CURRENT_TEST", test.__name__)
        name = current.split("::")[-1].rsplit(" (", 1)[0]
        RUNS[name]["tried"] += 1
        result = test(*args, **kwargs)
        RUNS[name]["passed"] += 1
        return result

    return body


def examples(n):
    """Reproducible settings: derandomized, no database, no deadline."""
    return settings(
        max_examples=n * _SCALE,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
        ],
    )


@pytest.fixture(scope="module", autouse=True)
def report_example_counts(request):
    """Print how many examples each property ran, when the module ends."""
    yield
    plugins = request.config.pluginmanager
    reporter, capture = plugins.getplugin("terminalreporter"), plugins.getplugin("capturemanager")
    if reporter is None or capture is None or not RUNS:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line("hypothesis examples per property, tried / passed:")
        for name, count in RUNS.items():
            reporter.write_line(f"  {name}: {count['tried']} / {count['passed']}")
        tried = sum(count["tried"] for count in RUNS.values())
        passed = sum(count["passed"] for count in RUNS.values())
        reporter.write_line(f"  all {len(RUNS)} properties: {tried} / {passed}")


def never_trains():
    """A patch that fails the example if fit reaches the training loop."""
    return mock.patch(
        "sksiamese._engine.train",
        side_effect=AssertionError("training started on invalid input"),
    )


# Strategies -------------------------------------------------------------------

DTYPES = ["float32", "float64", "float16", "int8", "int32", "int64", "uint8", "bool"]
LABEL_KINDS = ["int", "negative int", "uint8", "float", "str", "object", "bool", "list"]


def element_strategy(dtype):
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return st.floats(-1e4, 1e4, width=32)
    if dtype == np.float64:
        return st.floats(-1e6, 1e6)
    if dtype == np.float16:
        return st.floats(-1e3, 1e3, width=16)
    if dtype == np.bool_:
        return st.booleans()
    info = np.iinfo(dtype)
    return st.integers(int(info.min), int(info.max))


@st.composite
def rows(draw, shape, dtype=None):
    """An array of ``shape``; its dtype is drawn from DTYPES unless given."""
    dtype = dtype or draw(st.sampled_from(DTYPES))
    return draw(hnp.arrays(np.dtype(dtype), shape, elements=element_strategy(dtype)))


label_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=6,
)


@st.composite
def class_labels(draw, n_samples, n_classes, kind=None):
    """Labels of ``n_samples`` rows, every one of ``n_classes`` classes present.

    ``kind`` (drawn from LABEL_KINDS unless given) is how they are written;
    "bool" needs ``n_classes == 2``.
    """
    codes = np.concatenate(
        [
            np.arange(n_classes),
            draw(
                hnp.arrays(np.int64, n_samples - n_classes, elements=st.integers(0, n_classes - 1))
            ),
        ]
    )
    codes = np.asarray(draw(st.permutations(codes.tolist())))
    if kind is None:
        kind = draw(st.sampled_from([k for k in LABEL_KINDS if n_classes == 2 or k != "bool"]))
    event(f"labels: {kind}")
    unique = dict(unique=True, min_size=n_classes, max_size=n_classes)
    if kind == "int":
        values = np.array(draw(st.lists(st.integers(-(2**40), 2**40), **unique)))
    elif kind == "negative int":
        values = np.array(draw(st.lists(st.integers(-(2**62), -1), **unique)))
    elif kind == "uint8":
        values = np.array(draw(st.lists(st.integers(0, 255), **unique)), dtype=np.uint8)
    elif kind == "float":  # integral floats are classes, not a continuous target
        values = np.array(draw(st.lists(st.integers(-1000, 1000), **unique)), dtype=np.float64)
    elif kind in ("str", "object"):
        values = np.array(
            draw(st.lists(label_text, **unique)), dtype=str if kind == "str" else object
        )
    elif kind == "bool":
        values = np.array([False, True])
    else:  # a plain Python list of ints
        return [
            int(value) for value in np.array(draw(st.lists(st.integers(-50, 50), **unique)))[codes]
        ]
    return values[codes]


embedder_params = st.fixed_dictionaries(
    {
        "n_components": st.integers(1, 6),
        "margin": st.floats(0, 2, exclude_min=True),
        "loss": st.sampled_from(["triplet", "contrastive"]),
        "mining": st.sampled_from(["semi-hard", "hard", "all"]),
        "distance": st.sampled_from(["euclidean", "sqeuclidean", "cosine"]),
        "normalize": st.booleans(),
        "batch_size": st.integers(2, 16),
        "samples_per_class": st.integers(2, 4),
        "random_state": st.integers(0, 2**31 - 1),
    }
)


def expected_dtype(X):
    return np.float32 if isinstance(X, np.ndarray) and X.dtype == np.float32 else np.float64


def check_embedding(Z, n_samples, params, dtype, X):
    assert Z.shape == (n_samples, params["n_components"])
    assert Z.dtype == dtype
    assert np.all(np.isfinite(Z))
    if params["normalize"]:
        norms = np.linalg.norm(Z.astype(np.float64), axis=1)
        X = np.asarray(X)
        if np.all(X == X[:1]):
            # KNOWN: identical rows standardise to zeros, the loss is 0, the
            # zero-initialised biases never move, and every row embeds to
            # the zero vector, which normalisation leaves at norm 0.
            event("all rows identical: zero embeddings")
            assert np.all((norms == 0) | np.isclose(norms, 1.0, rtol=1e-5))
        else:
            np.testing.assert_allclose(norms, 1.0, rtol=1e-5)


def check_subset(embedder, X, Z, subset):
    """Embedding a subset of the rows gives the subset of the embedding."""
    # To float32's rounding, in which the encoder computes whatever the rows' dtype.
    tolerance = 1e-5
    np.testing.assert_allclose(
        embedder.transform(X[subset]), Z[subset], rtol=tolerance, atol=tolerance
    )


# Valid data: fit and transform ----------------------------------------------


@st.composite
def tabular_problem(draw, dtype, label_kind):
    n_classes = 2 if label_kind == "bool" else draw(st.integers(2, 5))
    # One row more than classes: some class has two, so batches hold a positive pair.
    n_samples = draw(st.integers(n_classes + 1, 40))
    n_features = draw(st.integers(1, 12))
    X = draw(rows((n_samples, n_features), dtype=dtype))
    layout = draw(st.sampled_from(["C", "F", "list"]))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "list":
        X = X.tolist()
    y = draw(class_labels(n_samples, n_classes, label_kind))
    subset = draw(hnp.arrays(bool, n_samples))
    subset[draw(st.integers(0, n_samples - 1))] = True
    return X, y, subset


# Each row dtype once, each label kind once.
MLP_CASES = list(
    zip(DTYPES, ["str", "negative int", "bool", "object", "float", "list", "uint8", "int"])
)


@pytest.mark.slow
@pytest.mark.parametrize("dtype, label_kind", MLP_CASES)
@examples(3)
@given(data=st.data(), params=embedder_params)
@counted
def test_mlp_fit_transform_properties(dtype, label_kind, data, params):
    X, y, subset = data.draw(tabular_problem(dtype, label_kind), label="X, y, subset")
    embedder = SiameseEmbedder(epochs=1, **params).fit(X, y)
    Z = embedder.transform(X)
    check_embedding(Z, len(y), params, expected_dtype(X), X)
    np.testing.assert_array_equal(embedder.classes_, np.unique(np.asarray(y)))
    assert embedder.n_features_in_ == np.asarray(X).shape[1]
    check_subset(embedder, np.asarray(X), Z, subset)
    # The same random_state gives the same embedding, bit for bit.
    again = clone(embedder).fit(X, y)
    np.testing.assert_array_equal(again.transform(X), Z)


@st.composite
def image_problem(draw, layout):
    height, width = draw(st.integers(3, 8)), draw(st.integers(3, 8))
    channels = 1 if layout.endswith("2d") else draw(st.integers(1, 3))
    n_classes = draw(st.integers(2, 4))
    n_samples = draw(st.integers(n_classes + 1, 24))
    # Pixels from a drawn seed: every example, the simplest too, is a real
    # image rather than a constant one.
    dtype = draw(st.sampled_from(["float32", "float64", "uint8"]))
    event(f"pixels: {dtype}")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    images = (rng.random((n_samples, height, width, channels)) * 255).astype(dtype)
    y = draw(class_labels(n_samples, n_classes))
    return images, y


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["images", "flat", "images-2d", "flat-2d"])
@examples(2)
@given(data=st.data(), params=embedder_params)
@counted
def test_cnn_fit_transform_properties(layout, data, params):
    images, y = data.draw(image_problem(layout), label="images, y")
    n, height, width, channels = images.shape
    X, input_shape = {
        "images": (images, None),
        "flat": (images.reshape(n, -1), (height, width, channels)),
        "images-2d": (images[..., 0], None),
        "flat-2d": (images.reshape(n, -1), (height, width)),
    }[layout]
    embedder = SiameseEmbedder(network="cnn", input_shape=input_shape, epochs=1, **params)
    Z = embedder.fit(X, y).transform(X)
    check_embedding(Z, n, params, expected_dtype(X), X)
    assert embedder.input_shape_ == (height, width, channels)
    assert embedder.n_features_in_ == height * width * channels
    np.testing.assert_array_equal(embedder.classes_, np.unique(np.asarray(y)))
    # Flat and image-shaped rows are the same rows.
    np.testing.assert_array_equal(embedder.transform(images.reshape(n, -1).astype(X.dtype)), Z)
    np.testing.assert_array_equal(embedder.transform(images.astype(X.dtype)), Z)
    check_subset(embedder, X, Z, np.arange(n) % 2 == 0)
    np.testing.assert_array_equal(clone(embedder).fit(X, y).transform(X), Z)


# Valid pairs: fit_pairs and the verifier -------------------------------------

PAIR_LABELS = {
    "0/1": lambda same: same.astype(np.int64),
    "bool": lambda same: same.astype(bool),
    "-1/1": lambda same: 2 * same.astype(np.int64) - 1,
    "0./1.": lambda same: same.astype(np.float64),
}


@st.composite
def pair_problem(draw, min_each=1):
    n_pairs = draw(st.integers(max(4, 2 * min_each), 30))
    n_features = draw(st.integers(1, 8))
    pairs = draw(
        rows((n_pairs, 2, n_features), dtype=draw(st.sampled_from(["float32", "float64", "int32"])))
    )
    same = np.zeros(n_pairs, dtype=np.int64)
    same[: draw(st.integers(min_each, n_pairs - min_each))] = 1
    same = np.asarray(draw(st.permutations(same.tolist())))
    kind = draw(st.sampled_from(sorted(PAIR_LABELS)))
    event(f"pair labels: {kind}")
    return pairs, PAIR_LABELS[kind](same), kind


pair_params = st.fixed_dictionaries(
    {
        "n_components": st.integers(1, 6),
        "margin": st.floats(0, 2, exclude_min=True),
        "distance": st.sampled_from(["euclidean", "sqeuclidean", "cosine"]),
        "normalize": st.booleans(),
        "batch_size": st.integers(2, 16),
        "random_state": st.integers(0, 2**31 - 1),
    }
)


@pytest.mark.slow
@examples(6)
@given(problem=pair_problem(), params=pair_params)
@counted
def test_fit_pairs_properties(problem, params):
    pairs, same, _ = problem
    embedder = SiameseEmbedder(loss="contrastive", epochs=1, **params).fit_pairs(pairs, same)
    rows_ = pairs.reshape(-1, pairs.shape[-1])
    Z = embedder.transform(rows_)
    check_embedding(Z, len(rows_), params, expected_dtype(pairs), rows_)
    assert embedder.n_features_in_ == pairs.shape[-1]
    assert not hasattr(embedder, "classes_")
    np.testing.assert_array_equal(clone(embedder).fit_pairs(pairs, same).transform(rows_), Z)


@examples(12)
@given(
    problem=pair_problem(),
    params=pair_params,
    threshold=st.one_of(st.sampled_from(["accuracy", "f1", "eer"]), st.floats(-2, 0)),
    calibration_fraction=st.floats(0.1, 0.5),
)
@counted
def test_verifier_properties(problem, params, threshold, calibration_fraction):
    pairs, same, kind = problem
    counts = np.unique(same, return_counts=True)[1]
    note(f"{len(same)} pairs, {counts.tolist()} per kind")
    embedder = SiameseEmbedder(loss="contrastive", epochs=1, **params)
    verifier = SiameseVerifier(
        embedder, threshold=threshold, calibration_fraction=calibration_fraction, random_state=0
    )
    if counts.min() < 2:
        # Each kind needs a pair to train on and one to calibrate with:
        # checked before training.
        event("too few pairs of a kind: rejected")
        assert_rejected(verifier.fit, pairs, same, match="calibration_fraction")
        return
    verifier.fit(pairs, same)
    np.testing.assert_array_equal(verifier.classes_, np.unique(same))
    scores = verifier.decision_function(pairs)
    assert scores.shape == (len(same),) and np.all(np.isfinite(scores))
    predicted = verifier.predict(pairs)
    assert predicted.shape == (len(same),)
    assert set(predicted.tolist()) <= set(verifier.classes_.tolist())
    np.testing.assert_array_equal(
        predicted, verifier.classes_[(scores >= verifier.threshold_).astype(int)]
    )
    proba = verifier.predict_proba(pairs)
    assert proba.shape == (len(same), 2)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert 0.0 <= verifier.score(pairs, same) <= 1.0


# Invalid input: rejected before training, fitted state kept -------------------

_X = np.random.default_rng(0).normal(size=(24, 5))
_Y = np.arange(24) % 3
_FITTED = {}


def fitted_embedder():
    """One small fitted embedder for the module, with its reference embedding."""
    if not _FITTED:
        embedder = SiameseEmbedder(n_components=3, epochs=1, batch_size=8, random_state=0)
        embedder.fit(_X, _Y)
        _FITTED.update(embedder=embedder, embedding=embedder.transform(_X))
    return _FITTED["embedder"], _FITTED["embedding"]


def assert_rejected(call, *args, match=None):
    """``call(*args)`` raises ValueError or TypeError, without training."""
    with never_trains():
        with pytest.raises((ValueError, TypeError), match=match) as caught:
            call(*args)
    event(f"rejected with {type(caught.value).__name__}")
    return caught.value


def assert_unchanged(embedder, reference):
    np.testing.assert_array_equal(embedder.transform(_X), reference)
    assert embedder.n_features_in_ == _X.shape[1] and embedder.input_shape_ == (_X.shape[1],)


@st.composite
def nonfinite_rows(draw, shape):
    X = draw(rows(shape, dtype=draw(st.sampled_from(["float32", "float64"]))))
    n_bad = draw(st.integers(1, min(5, X.size)))
    flat = draw(st.lists(st.integers(0, X.size - 1), min_size=n_bad, max_size=n_bad, unique=True))
    values = draw(
        st.lists(st.sampled_from([np.nan, np.inf, -np.inf]), min_size=n_bad, max_size=n_bad)
    )
    X.reshape(-1)[flat] = values
    return X


# scikit-learn's finiteness check sums the rows: +inf + -inf warns.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("target", ["fit", "refit", "fit_pairs", "transform"])
@examples(15)
@given(data=st.data())
@counted
def test_nonfinite_values_are_rejected(target, data):
    embedder, reference = fitted_embedder()
    n = data.draw(st.integers(2, 30), label="n_samples")
    match = "NaN|infinity"
    if target in ("fit", "refit"):
        X = data.draw(nonfinite_rows((n, data.draw(st.integers(1, 8)))))
        estimator = SiameseEmbedder() if target == "fit" else embedder
        assert_rejected(estimator.fit, X, np.arange(n) % 2, match=match)
    elif target == "fit_pairs":
        pairs = data.draw(nonfinite_rows((n, 2, data.draw(st.integers(1, 8)))))
        assert_rejected(
            SiameseEmbedder(loss="contrastive").fit_pairs, pairs, np.arange(n) % 2, match=match
        )
    else:
        X = data.draw(nonfinite_rows((n, _X.shape[1])))
        assert_rejected(embedder.transform, X, match=match)
    assert_unchanged(embedder, reference)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@settings(examples(20), phases=[Phase.generate])  # no shrinking: fail fast
@given(data=st.data())
@counted
def test_verifier_rejects_nonfinite_pairs_before_training(data):
    n = data.draw(st.integers(10, 30), label="n_pairs")
    pairs = data.draw(nonfinite_rows((n, 2, data.draw(st.integers(1, 6)))))
    verifier = SiameseVerifier(SiameseEmbedder(loss="contrastive", epochs=1))
    assert_rejected(verifier.fit, pairs, np.arange(n) % 2, match="NaN|infinity")


TRAINING_DATA_CASES = [
    "scalar X",
    "1-d X",
    "no rows",
    "no features",
    "n-d no rows",
    "one row",
    "one class",
    "too few labels",
    "too many labels",
    "2-d y",
    "continuous y",
    "y NaN",
    "y None",
    "text X",
    "complex X",
    "mixed-type labels",
]


@st.composite
def malformed_training_data(draw, case):
    """(X, y) for fit, wrong as ``case`` says, with random sizes and values."""
    n = draw(st.integers(2, 30))
    f = draw(st.integers(1, 8))
    X = draw(rows((n, f), dtype="float64"))
    y = np.arange(n) % draw(st.integers(2, min(n, 5)))
    if case == "scalar X":
        X = X[0, 0]
    elif case == "1-d X":
        X = X[:, 0]
    elif case == "no rows":
        X, y = X[:0], y[:0]
    elif case == "no features":
        X = X[:, :0]
    elif case == "n-d no rows":
        X, y = X[:0].reshape(0, f, 1), y[:0]
    elif case == "one row":
        X, y = X[:1], y[:1]
    elif case == "one class":
        y = np.full(n, draw(st.one_of(st.integers(), label_text)))
    elif case == "too few labels":
        y = y[: draw(st.integers(0, n - 1))]
    elif case == "too many labels":
        y = np.r_[y, np.arange(draw(st.integers(1, 5)))]
    elif case == "2-d y":
        y = np.c_[y, y]
    elif case == "continuous y":
        y = np.linspace(0, 1, n) + 0.5 / n
    elif case == "y NaN":
        y = y.astype(float)
        y[draw(st.integers(0, n - 1))] = np.nan
    elif case == "y None":
        y = None
    elif case == "text X":
        X = X.astype(str)
        X[draw(st.integers(0, n - 1)), draw(st.integers(0, f - 1))] = draw(
            st.sampled_from(["a", "", "x1"])
        )
    elif case == "complex X":
        X = X + 1j
    elif case == "mixed-type labels":
        y = np.array(["a" if i % 2 else i for i in range(n)], dtype=object)
    return X, y


@pytest.mark.parametrize("case", TRAINING_DATA_CASES)
@examples(8)
@given(data=st.data())
@counted
def test_malformed_training_data_is_rejected(case, data):
    X, y = data.draw(malformed_training_data(case))
    embedder, reference = fitted_embedder()
    assert_rejected(SiameseEmbedder().fit, X, y)
    assert_rejected(embedder.fit, X, y)
    assert_unchanged(embedder, reference)


PAIR_CASES = [
    "rank 2",
    "rank 1",
    "3 per pair",
    "1 per pair",
    "no pairs",
    "one kind",
    "label count",
    "label values",
    "text labels",
    "no features",
]


@st.composite
def malformed_pairs(draw, case):
    n = draw(st.integers(1, 20))
    f = draw(st.integers(1, 6))
    pairs = draw(rows((n, 2, f), dtype="float64"))
    same = np.arange(n) % 2
    if case == "rank 2":
        pairs = pairs[:, 0]
    elif case == "rank 1":
        pairs = pairs[:, 0, 0]
    elif case == "3 per pair":
        pairs = np.concatenate([pairs, pairs[:, :1]], axis=1)
    elif case == "1 per pair":
        pairs = pairs[:, :1]
    elif case == "no pairs":
        pairs, same = pairs[:0], same[:0]
    elif case == "one kind":
        same = np.full(n, draw(st.sampled_from([0, 1, -1, True, False])))
    elif case == "label count":
        same = np.arange(n + draw(st.sampled_from([-1, 1, 3]))) % 2
    elif case == "label values":
        same = same + draw(st.sampled_from([2, -3, 0.5]))
    elif case == "text labels":
        same = np.array(["same", "different"])[same]
    elif case == "no features":
        same = np.arange(max(n, 2)) % 2
        pairs = np.zeros((len(same), 2, 0))
    return pairs, same


@pytest.mark.parametrize("case", PAIR_CASES)
@examples(8)
@given(data=st.data())
@counted
def test_malformed_pairs_are_rejected(case, data):
    pairs, same = data.draw(malformed_pairs(case))
    assert_rejected(SiameseEmbedder(loss="contrastive").fit_pairs, pairs, same)
    assert_rejected(SiameseVerifier(SiameseEmbedder(loss="contrastive")).fit, pairs, same)


def not_one_of(options):
    return st.text(max_size=12).filter(lambda text: text not in options)


BOOLEAN_NOT = st.one_of(st.integers(), st.text(max_size=3), st.none())

INVALID_PARAMETERS = {
    "n_components": st.one_of(st.integers(max_value=0), st.floats(0.5, 8), st.text(max_size=3)),
    "margin": st.one_of(st.floats(max_value=0), st.just(np.nan), st.just(np.inf)),
    "batch_size": st.integers(max_value=1),
    "samples_per_class": st.integers(max_value=1),
    "epochs": st.integers(max_value=0),
    "n_iter_no_change": st.integers(max_value=0),
    "learning_rate": st.one_of(st.floats(max_value=0), st.just(np.nan), st.just(np.inf)),
    "validation_fraction": st.one_of(st.floats(max_value=0), st.floats(min_value=1)),
    "network": st.one_of(not_one_of({"mlp", "cnn"}), st.integers()),
    "loss": not_one_of({"triplet", "contrastive"}),
    "mining": not_one_of({"semi-hard", "hard", "all"}),
    "distance": not_one_of({"euclidean", "sqeuclidean", "cosine"}),
    "optimizer": st.one_of(not_one_of({"adam", "adamw", "rmsprop", "sgd"}), st.integers()),
    "normalize": BOOLEAN_NOT,
    "early_stopping": BOOLEAN_NOT,
    "warm_start": BOOLEAN_NOT,
    "augment": st.one_of(st.integers(), st.text(max_size=3)),
    "rotated_classes": st.one_of(st.integers(), st.text(max_size=3)),
    "mirrored_classes": st.one_of(st.integers(), st.text(max_size=3)),
    "test_time_shifts": st.one_of(
        st.integers(max_value=-1), st.floats(0.5, 3), st.text(max_size=3), st.none()
    ),
    "input_shape": st.one_of(st.integers(), st.text(max_size=3)),
    "callbacks": st.one_of(st.integers(), st.text(max_size=3)),
    "verbose": st.integers(max_value=-1),
    "random_state": st.one_of(st.integers(max_value=-1), st.text(max_size=3)),
}


@pytest.mark.parametrize("name", sorted(INVALID_PARAMETERS))
@examples(6)
@given(data=st.data(), method=st.sampled_from(["fit", "fit_pairs"]))
@counted
def test_invalid_parameters_are_rejected(name, data, method):
    value = data.draw(INVALID_PARAMETERS[name], label=name)
    embedder, reference = fitted_embedder()
    original = embedder.get_params()[name]
    if method == "fit":
        assert_rejected(SiameseEmbedder(**{name: value}).fit, _X, _Y, match=name)
        embedder.set_params(**{name: value})
        try:
            assert_rejected(embedder.fit, _X[:, :4], _Y, match=name)
        finally:
            embedder.set_params(**{name: original})
        assert_unchanged(embedder, reference)
    else:
        params = {"loss": "contrastive", name: value}
        pairs = _X.reshape(12, 2, 5)
        assert_rejected(SiameseEmbedder(**params).fit_pairs, pairs, np.arange(12) % 2, match=name)


INVALID_VERIFIER_PARAMETERS = {
    "threshold": st.one_of(not_one_of({"accuracy", "f1", "eer"}), st.none()),
    "calibration_fraction": st.one_of(st.floats(max_value=0), st.floats(min_value=1)),
    "random_state": st.one_of(st.integers(max_value=-1), st.text(max_size=3)),
    "embedder": st.one_of(st.integers(), st.text(max_size=3)),
}


@pytest.mark.parametrize("name", sorted(INVALID_VERIFIER_PARAMETERS))
@examples(8)
@given(data=st.data())
@counted
def test_invalid_verifier_parameters_are_rejected(name, data):
    value = data.draw(INVALID_VERIFIER_PARAMETERS[name], label=name)
    pairs = _X.reshape(12, 2, 5)
    assert_rejected(SiameseVerifier(**{name: value}).fit, pairs, np.arange(12) % 2, match=name)


TRANSFORM_CASES = [
    "features",
    "rank 1",
    "scalar",
    "no rows",
    "n-d no rows",
    "row shape",
    "text",
    "complex",
]


@st.composite
def malformed_transform_input(draw, case):
    n = draw(st.integers(1, 10))
    if case == "features":
        f = draw(st.integers(1, 12).filter(lambda f: f != _X.shape[1]))
        return draw(rows((n, f), dtype="float64"))
    if case == "rank 1":
        return draw(rows((_X.shape[1],), dtype="float64"))
    if case == "scalar":
        return np.float64(draw(st.floats(-1, 1)))
    if case == "no rows":
        return np.zeros((0, _X.shape[1]))
    if case == "n-d no rows":
        return np.zeros((0, _X.shape[1], 1))
    if case == "row shape":
        shape = draw(st.sampled_from([(n, 5, 2), (n, 1, 5), (n, 3, 2, 1), (n, 2, 2)]))
        return np.zeros(shape)
    if case == "text":
        return np.full((n, _X.shape[1]), "a")
    return np.zeros((n, _X.shape[1])) + 1j


@pytest.mark.parametrize("case", TRANSFORM_CASES)
@examples(8)
@given(data=st.data())
@counted
def test_bad_transform_input_is_rejected_and_the_model_kept(case, data):
    X = data.draw(malformed_transform_input(case))
    embedder, reference = fitted_embedder()
    assert_rejected(embedder.transform, X)
    assert_unchanged(embedder, reference)
