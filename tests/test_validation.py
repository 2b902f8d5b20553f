"""Bad input gets a clear scikit-learn style error before any training."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import InvalidParameterError

from sksiamese import SiameseEmbedder, SiameseVerifier
from sksiamese.datasets import make_pairs, make_triplets

X = np.random.default_rng(0).normal(size=(40, 6))
y = np.arange(40) % 4


def never_trains(monkeypatch):
    """Fail loudly if fit reached the training loop."""

    def forbidden(*args, **kwargs):
        raise AssertionError("training started on invalid input")

    monkeypatch.setattr("sksiamese._engine.train", forbidden)


def with_value(array, row, col, value):
    array = array.copy()
    array[row, col] = value
    return array


@pytest.mark.parametrize(
    "X_bad, y_bad, error, match",
    [
        (with_value(X, 3, 2, np.nan), y, ValueError, "NaN"),
        (with_value(X, 3, 2, np.inf), y, ValueError, "infinity"),
        (X, np.zeros(40), ValueError, "one class"),
        (X, np.linspace(0, 1, 40), ValueError, "continuous"),
        (X, None, ValueError, "requires y"),
        (np.empty((0, 6)), np.empty(0), ValueError, "0 sample"),
        (X[:, 0], y, ValueError, "Expected 2D array"),
        (X, y[:30], ValueError, "inconsistent numbers of samples"),
        (np.array([["a", "b"]] * 40), y, ValueError, "string"),
        (X[:1], y[:1], ValueError, "1 sample"),
        (X, np.c_[y, y], ValueError, "y should be a 1d array"),
    ],
    ids=[
        "nan",
        "inf",
        "one-class",
        "continuous-y",
        "y-none",
        "empty",
        "1d-X",
        "length-mismatch",
        "text",
        "one-sample",
        "2d-y",
    ],
)
def test_bad_training_input(monkeypatch, X_bad, y_bad, error, match):
    never_trains(monkeypatch)
    with pytest.raises(error, match=match):
        SiameseEmbedder().fit(X_bad, y_bad)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components": 0}, "n_components"),
        ({"margin": -1.0}, "margin"),
        ({"mining": "easy"}, "mining"),
        ({"distance": "manhattan"}, "distance"),
        ({"network": "transformer"}, "network"),
        ({"optimizer": "adagrad"}, "optimizer"),
        ({"batch_size": 1}, "batch_size"),
        ({"samples_per_class": 1}, "samples_per_class"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"loss": "hinge"}, "loss"),
        ({"callbacks": "EarlyStopping"}, "callbacks"),
    ],
)
def test_invalid_parameters(monkeypatch, params, match):
    never_trains(monkeypatch)
    with pytest.raises(InvalidParameterError, match=match):
        SiameseEmbedder(**params).fit(X, y)


@pytest.mark.parametrize(
    "params, X_bad, match",
    [
        (
            {"input_shape": (4, 4)},
            X,
            "input_shape=\\(4, 4\\) holds 16 values per row but X has 6 features",
        ),
        ({"input_shape": (0, 6)}, X, "positive ints"),
        ({"input_shape": (2.5, 2)}, X, "positive ints"),
        ({"network": "cnn"}, X, "needs input_shape"),
        ({"network": "cnn", "input_shape": (6,)}, X, "height, width, channels"),
        ({"input_shape": (3, 2)}, X.reshape(40, 2, 3), "rows of shape \\(2, 3\\)"),
    ],
)
def test_bad_shapes(monkeypatch, params, X_bad, match):
    never_trains(monkeypatch)
    with pytest.raises(ValueError, match=match):
        SiameseEmbedder(**params).fit(X_bad, y)


def test_custom_network_must_return_a_model_of_vectors():
    with pytest.raises(TypeError, match="must return a keras.Model"):
        SiameseEmbedder(network=lambda shape, n: "not a model").fit(X, y)

    def feature_maps(input_shape, n_components):
        import keras

        inputs = keras.Input(input_shape)
        return keras.Model(inputs, keras.layers.Conv2D(n_components, 1)(inputs))

    with pytest.raises(ValueError, match="must map each row to a vector"):
        SiameseEmbedder(network=feature_maps, input_shape=(2, 3, 1), n_components=3).fit(X, y)


def test_transform_before_fit():
    with pytest.raises(NotFittedError, match="not fitted"):
        SiameseEmbedder().transform(X)


@pytest.fixture(scope="module")
def fitted():
    return SiameseEmbedder(n_components=3, epochs=1, random_state=0).fit(X, y)


@pytest.mark.parametrize(
    "X_bad, match",
    [
        (X[:, :5], "X has 5 features, but SiameseEmbedder is expecting 6"),
        (with_value(X, 0, 0, np.nan), "NaN"),
        (X[0], "Expected 2D array"),
        (np.array([["a"] * 6]), "string"),
        (X.reshape(40, 3, 2), "rows of shape \\(3, 2\\)"),
    ],
)
def test_bad_transform_input_leaves_estimator_usable(fitted, X_bad, match):
    before = fitted.transform(X)
    with pytest.raises(ValueError, match=match):
        fitted.transform(X_bad)
    np.testing.assert_array_equal(fitted.transform(X), before)


def test_rejected_refit_keeps_the_fitted_model(fitted):
    before = fitted.transform(X)
    with pytest.raises(ValueError, match="one class"):
        fitted.fit(np.zeros((10, 9)), np.zeros(10))
    assert fitted.n_features_in_ == 6
    np.testing.assert_array_equal(fitted.transform(X), before)


def test_warm_start_rejects_rows_of_another_shape():
    embedder = SiameseEmbedder(n_components=3, epochs=1, warm_start=True, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="warm_start"):
        embedder.fit(X[:, :5], y)
    assert embedder.n_features_in_ == 6


def test_float32_and_integer_input_just_work():
    embedder = SiameseEmbedder(n_components=3, epochs=1, random_state=0)
    assert embedder.fit_transform(X.astype(np.float32), y).dtype == np.float32
    assert embedder.fit_transform((X * 10).astype(np.int64), y).dtype == np.float64


def test_score_checks_its_labels(fitted):
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fitted.score(X, y[:10])
    with pytest.raises(ValueError, match="at least 2 samples"):
        fitted.score(X[:1], y[:1])


# Every other bad-input case the estimators handle --------------------------
#
# One test per raise site (or scikit-learn check the estimators delegate to)
# that the tests above, test_verifier.py, test_datasets.py and
# test_reliability.py leave out; each asserts the exception type and a
# fragment of the message.

PAIRS = X[:20].reshape(10, 2, 6)
SAME = np.arange(10) % 2


@pytest.mark.parametrize(
    "X_bad, y_bad, error, match",
    [
        (X[0, 0], y, ValueError, "Expected 2D array, got scalar"),
        (X[:, :0], y, ValueError, "0 feature\\(s\\)"),
        (X + 1j, y, ValueError, "Complex data not supported"),
        (X, np.r_[np.nan, y[1:]], ValueError, "Input y contains NaN"),
        (X, np.array([None, 1] * 20, dtype=object), ValueError, "Unknown label type"),
        (X, y + 0j, ValueError, "Complex data not supported"),
        (X, np.array(["a", 1] * 20, dtype=object), ValueError, "Mix of label input types"),
    ],
    ids=["scalar-X", "no-features", "complex-X", "nan-y", "none-y", "complex-y", "mixed-type-y"],
)
def test_more_bad_training_input(monkeypatch, X_bad, y_bad, error, match):
    never_trains(monkeypatch)
    with pytest.raises(error, match=match):
        SiameseEmbedder().fit(X_bad, y_bad)


@pytest.mark.parametrize(
    "params",
    [
        {"input_shape": "abc"},
        {"normalize": "yes"},
        {"epochs": 0},
        {"augment": "sometimes"},
        {"rotated_classes": "auto"},
        {"mirrored_classes": "auto"},
        {"learning_rate": 0.0},
        {"learning_rate": "fast"},
        {"early_stopping": None},
        {"n_iter_no_change": 0},
        {"random_state": "seed"},
        {"verbose": -1},
        {"warm_start": 1},
        {"checkpoint_dir": 3},
        {"margin": np.inf},
        {"learning_rate": np.nan},
    ],
    ids=lambda params: "-".join(f"{k}={v!r}" for k, v in params.items()),
)
def test_every_parameter_is_validated(monkeypatch, params):
    never_trains(monkeypatch)
    (name,) = params
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of SiameseEmbedder"):
        SiameseEmbedder(**params).fit(X, y)


def test_fit_pairs_validates_parameters(monkeypatch):
    never_trains(monkeypatch)
    with pytest.raises(InvalidParameterError, match="'margin' parameter"):
        SiameseEmbedder(loss="contrastive", margin=0.0).fit_pairs(PAIRS, SAME)


@pytest.mark.parametrize("input_shape", [(), ("a", 6), (-6,)])
def test_input_shape_must_hold_positive_ints(monkeypatch, input_shape):
    never_trains(monkeypatch)
    with pytest.raises(ValueError, match="input_shape must be a tuple of positive ints"):
        SiameseEmbedder(input_shape=input_shape).fit(X, y)


def test_cnn_network_needs_images(monkeypatch):
    # Without augmentation the network itself rejects the shape (with it,
    # the augmenter does first: test_augment_needs_image_rows).
    never_trains(monkeypatch)
    message = "network='cnn' needs input_shape=\\(height, width, channels\\), got \\(6,\\)"
    with pytest.raises(ValueError, match=message):
        SiameseEmbedder(network="cnn", input_shape=(6,), augment=False).fit(X, y)
    with pytest.raises(ValueError, match="got \\(1, 2, 3, 1\\)"):
        SiameseEmbedder(network="cnn", input_shape=(1, 2, 3, 1), augment=False).fit(X, y)


@pytest.mark.parametrize("params", [{"augment": True}, {"augment": True, "input_shape": (2, 3)}])
def test_augment_needs_image_rows(monkeypatch, params):
    never_trains(monkeypatch)
    message = "augment=True transforms images; it needs rows of shape \\(height, width, channels\\)"
    with pytest.raises(ValueError, match=message):
        SiameseEmbedder(**params).fit(X, y)


def test_classes_of_one_row_each_are_refused_before_training(monkeypatch, fitted):
    before = fitted.transform(X)
    never_trains(monkeypatch)
    message = "Every class in y has a single training row.*no batch can hold a positive pair"
    with pytest.raises(ValueError, match=message):
        SiameseEmbedder().fit(X[:10], np.arange(10))
    with pytest.raises(ValueError, match=message):
        SiameseEmbedder().partial_fit(X[:10], np.arange(10))
    with pytest.raises(ValueError, match=message):
        fitted.fit(X[:10], np.arange(10))
    np.testing.assert_array_equal(fitted.transform(X), before)


def test_early_stopping_needs_rows_to_hold_out(monkeypatch, fitted):
    before = fitted.transform(X)
    never_trains(monkeypatch)
    params = dict(early_stopping=True, validation_fraction=0.01)
    with pytest.raises(ValueError, match="validation_fraction=0.01 leaves too few rows"):
        SiameseEmbedder(**params).fit(X[:4], y[:4])
    with pytest.raises(ValueError, match="leaves too few pairs"):
        SiameseEmbedder(loss="contrastive", **params).fit_pairs(PAIRS[:4], SAME[:4])
    # A rejected refit of a fitted estimator keeps its model.
    fitted.set_params(**params)
    try:
        with pytest.raises(ValueError, match="leaves too few rows"):
            fitted.fit(X[:4, :5], y[:4])
    finally:
        fitted.set_params(early_stopping=False, validation_fraction=0.1)
    assert fitted.n_features_in_ == 6
    np.testing.assert_array_equal(fitted.transform(X), before)


@pytest.mark.parametrize(
    "labels, fraction, match",
    [
        (
            np.arange(40) % 10,
            0.1,
            "holds out 1 of the 10 classes; scoring unseen classes needs "
            "at least 2 held-out classes of 2 rows or more, and these hold 1",
        ),
        (np.arange(40) % 3, 0.5, "holds out 2 of the 3 classes, leaving fewer than 2 classes"),
        (
            np.r_[np.zeros(20), np.ones(10), np.arange(2, 12)],
            0.5,
            "holds out 6 whole classes of at least 2 rows.*y has 2 classes with 2 rows or more",
        ),
    ],
    ids=["one-class", "none-left", "singletons"],
)
def test_validation_on_classes_needs_classes_to_hold_out(
    monkeypatch, fitted, labels, fraction, match
):
    before = fitted.transform(X)
    never_trains(monkeypatch)
    params = dict(early_stopping=True, validation="classes", validation_fraction=fraction)
    with pytest.raises(ValueError, match=match):
        SiameseEmbedder(**params).fit(X, labels)
    with pytest.raises(
        ValueError, match="validation='classes' holds out whole classes, and pairs have none"
    ):
        SiameseEmbedder(loss="contrastive", **params).fit_pairs(PAIRS, SAME)
    with pytest.raises(InvalidParameterError, match="'validation' parameter"):
        SiameseEmbedder(validation="groups").fit(X, y)
    np.testing.assert_array_equal(fitted.transform(X), before)


def test_groups_are_checked_before_training(monkeypatch):
    never_trains(monkeypatch)
    params = dict(early_stopping=True, validation="classes", validation_fraction=0.5)
    with pytest.raises(
        ValueError, match="groups must be a 1-D array of shape .n_samples,. = .40,."
    ):
        SiameseEmbedder(**params).fit(X, y, groups=np.zeros(39))
    with pytest.raises(ValueError, match="same group.*some classes have rows in several groups"):
        SiameseEmbedder(**params).fit(X, y, groups=np.arange(40) % 3)
    # Two groups of two classes: holding out both leaves nothing to train on.
    with pytest.raises(ValueError, match="holds out 2 of the 2 groups, leaving fewer than 2"):
        SiameseEmbedder(**{**params, "validation_fraction": 0.9}).fit(X, y, groups=y // 2)


@pytest.mark.parametrize(
    "pairs, same, match",
    [
        (None, SAME, "got a NoneType"),
        ("pairs", SAME, "got a str"),
        (PAIRS[:, 0, 0], SAME, "got shape \\(10,\\)"),
        (PAIRS, SAME * 0.5, "must be 1 .same. and 0 or -1.*0.5"),
        (PAIRS, np.r_[np.nan, SAME[1:]], "must be 1 .same."),
        (PAIRS, np.c_[SAME, SAME], "y should be a 1d array"),
        (PAIRS[:1], SAME[:1], "every label is 0"),
        (np.zeros((10, 2, 0)), SAME, "0 feature\\(s\\)"),
    ],
    ids=["none", "str", "rank-1", "half", "nan-label", "2d-labels", "one-pair", "no-features"],
)
def test_more_bad_pairs(monkeypatch, pairs, same, match):
    never_trains(monkeypatch)
    with pytest.raises(ValueError, match=match):
        SiameseEmbedder(loss="contrastive").fit_pairs(pairs, same)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"threshold": "median"}, "'threshold' parameter"),
        ({"threshold": None}, "'threshold' parameter"),
        ({"calibration_fraction": 0.0}, "'calibration_fraction' parameter"),
        ({"calibration_fraction": 1.0}, "'calibration_fraction' parameter"),
        ({"random_state": "seed"}, "'random_state' parameter"),
    ],
)
def test_verifier_parameters_are_validated(monkeypatch, params, match):
    never_trains(monkeypatch)
    with pytest.raises(InvalidParameterError, match=match):
        SiameseVerifier(**params).fit(PAIRS, SAME)


@pytest.fixture(scope="module")
def frozen_verifier(fitted):
    pairs = X.reshape(20, 2, 6)
    return SiameseVerifier(FrozenEstimator(fitted)).fit(pairs, np.arange(20) % 2)


@pytest.mark.parametrize(
    "pairs, error, match",
    [
        (X, ValueError, "pairs must be an array of shape \\(n_pairs, 2, n_features\\)"),
        (X[:0].reshape(0, 2, 3), ValueError, "pairs holds no pair"),
        (X[:, :5].reshape(20, 2, 5)[:, :, :4], ValueError, "X has 4 features"),
        (np.full((3, 2, 6), np.inf), ValueError, "infinity"),
    ],
    ids=["2d", "empty", "features", "inf"],
)
def test_verifier_checks_pairs_to_predict(frozen_verifier, pairs, error, match):
    with pytest.raises(error, match=match):
        frozen_verifier.decision_function(pairs)
    with pytest.raises(error, match=match):
        frozen_verifier.predict_proba(pairs)


@pytest.mark.parametrize(
    "X_bad, error, match",
    [
        (X[:0], ValueError, "0 sample\\(s\\)"),
        (X + 1j, ValueError, "Complex data not supported"),
        (X[0, 0], ValueError, "Expected 2D array, got scalar"),
    ],
    ids=["empty", "complex", "scalar"],
)
def test_more_bad_transform_input(fitted, X_bad, error, match):
    before = fitted.transform(X)
    with pytest.raises(error, match=match):
        fitted.transform(X_bad)
    np.testing.assert_array_equal(fitted.transform(X), before)


def test_score_before_fit():
    with pytest.raises(NotFittedError, match="not fitted"):
        SiameseEmbedder().score(X, y)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: make_pairs(3.0, [0]),
            "make_pairs needs X of shape \\(n_samples, ...\\); got a scalar",
        ),
        (lambda: make_triplets(3.0, [0]), "make_triplets needs X of shape"),
        (
            lambda: make_pairs(X, y, n_pairs=True),
            "n_pairs must be an integer >= 1 or None; got True",
        ),
        (lambda: make_triplets(X, y, n_triplets=-2), "n_triplets must be"),
        (lambda: make_pairs(X, y, positive_fraction="0.5"), "positive_fraction must be a number"),
        (lambda: make_pairs(X, y, positive_fraction=True), "positive_fraction must be a number"),
        (lambda: make_pairs(X, np.linspace(0, 1, 40)), "Unknown label type"),
        (lambda: make_triplets(X, y[:3]), "same length"),
        (lambda: make_pairs(X[:2], [0, 1], positive_fraction=1.0), "at least 2 samples"),
    ],
    ids=[
        "pairs-scalar",
        "triplets-scalar",
        "n_pairs-bool",
        "n_triplets-negative",
        "fraction-str",
        "fraction-bool",
        "continuous-y",
        "triplets-length",
        "positives-singletons",
    ],
)
def test_more_bad_dataset_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# Inputs that property-based testing found slipping through, now rejected ---


def test_verifier_checks_every_pair_before_training(monkeypatch):
    never_trains(monkeypatch)
    for index in range(len(PAIRS)):
        pairs = PAIRS.copy()
        pairs[index, 1, 0] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            SiameseVerifier(SiameseEmbedder(loss="contrastive"), random_state=0).fit(pairs, SAME)


def test_verifier_calibration_split_keeps_both_kinds_on_both_sides():
    rng = np.random.RandomState(0)
    for same in ([1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0], [0, 1] * 20):
        same = np.array(same)
        pairs = np.arange(len(same))
        verifier = SiameseVerifier(calibration_fraction=0.2)
        _, _, train, calibration = verifier._calibration_split(pairs, same, rng)
        assert set(train) == {0, 1} and set(calibration) == {0, 1}
        assert len(train) + len(calibration) == len(same)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score"])
def test_unfitted_verifier_raises_not_fitted_everywhere(method):
    args = (PAIRS, SAME) if method == "score" else (PAIRS,)
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(SiameseVerifier(), method)(*args)


@pytest.mark.parametrize("method", ["fit", "transform"])
def test_image_shaped_input_with_no_rows(fitted, method):
    empty = np.zeros((0, 6, 1))
    with pytest.raises(ValueError, match="0 sample"):
        if method == "fit":
            SiameseEmbedder().fit(empty, np.zeros(0))
        else:
            fitted.transform(empty)


def test_callbacks_must_be_keras_callbacks(monkeypatch):
    never_trains(monkeypatch)
    with pytest.raises((ValueError, TypeError), match="callbacks"):
        SiameseEmbedder(callbacks=["EarlyStopping"]).fit(X, y)


def test_rows_too_large_for_float32_are_rejected(monkeypatch):
    never_trains(monkeypatch)
    with pytest.raises(ValueError, match="float32|too large|infinity"):
        SiameseEmbedder().fit(X * 1e20, y)


def test_early_stopping_holding_out_every_row(monkeypatch):
    never_trains(monkeypatch)
    with pytest.raises(ValueError, match="validation_fraction"):
        SiameseEmbedder(early_stopping=True, validation_fraction=0.99).fit(X[:20], y[:20])


def test_verifier_threshold_nan_is_rejected(monkeypatch):
    never_trains(monkeypatch)
    with pytest.raises(ValueError, match="threshold"):
        SiameseVerifier(threshold=float("nan")).fit(PAIRS, SAME)


def test_numpy_integer_n_components_works():
    embedder = SiameseEmbedder(n_components=np.int64(3), epochs=1, random_state=0).fit(X, y)
    assert embedder.transform(X).shape == (40, 3)


def test_numpy_float32_learning_rate_works():
    embedder = SiameseEmbedder(learning_rate=np.float32(1e-3), epochs=1, random_state=0).fit(X, y)
    assert embedder.transform(X).shape == (40, 32)


def test_verifier_calibration_split_holds_both_kinds():
    same = np.r_[np.ones(8, dtype=int), np.zeros(2, dtype=int)]
    verifier = SiameseVerifier(
        SiameseEmbedder(loss="contrastive", n_components=2, epochs=1),
        threshold="eer",
        random_state=0,
    )
    # Two non-matching pairs are enough: one to train on, one to calibrate.
    verifier.fit(PAIRS, same)
    np.testing.assert_array_equal(verifier.classes_, [0, 1])
    _, _, train_codes, calibration_codes = verifier._calibration_split(
        PAIRS, same, np.random.RandomState(0)
    )
    assert set(train_codes) == set(calibration_codes) == {0, 1}
    # One is not: the error names the parameter before any training.
    with pytest.raises(ValueError, match=r"calibration_fraction=0.2 needs at least 2 non-matching"):
        verifier.fit(PAIRS, np.r_[np.ones(9, dtype=int), 0])
