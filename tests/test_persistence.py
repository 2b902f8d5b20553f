"""save() and sksiamese.load(): the pickle-free file format."""

import io
import json
import os
import pathlib
import pickle
import re
import sys
import zipfile

import keras
import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator

import sksiamese
from sksiamese import SiameseEmbedder, SiameseVerifier, UntrustedTypesError
from sksiamese._compat import _SigmoidCalibration
from sksiamese._io import SaveMixin, _registry, register
from sksiamese._keras_io import model_to_bytes
from sksiamese.datasets import make_pairs
from sksiamese.networks import build_cnn


def small_network(input_shape, n_components):
    """A custom network at module level: saved as a reference to this function."""
    inputs = keras.Input(shape=input_shape)
    hidden = keras.layers.Dense(16, activation="tanh")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, keras.layers.Dense(n_components)(hidden))


class HalfSGD(keras.optimizers.SGD):
    """A custom optimizer at module level: saved as a reference to this class."""


def lambda_layer_network(input_shape, n_components):
    """A network whose Keras model holds a Python lambda: safe mode refuses it."""
    inputs = keras.Input(shape=input_shape)
    hidden = keras.layers.Lambda(lambda rows: rows * 0.5)(inputs)
    return keras.Model(inputs, keras.layers.Dense(n_components)(hidden))


# Helpers --------------------------------------------------------------------


def round_trip(estimator, tmp_path, name="model.sksiamese", trusted=None):
    path = tmp_path / name
    assert estimator.save(path) == os.fspath(path)
    return sksiamese.load(path, trusted=trusted), path


def assert_same_params(original, loaded):
    expected, got = original.get_params(deep=False), loaded.get_params(deep=False)
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        if key == "callbacks":
            assert got[key] is None or got[key] == value
        elif isinstance(value, keras.optimizers.Optimizer):
            assert type(got[key]) is type(value)
            assert got[key].get_config() == value.get_config()
        elif isinstance(value, FrozenEstimator):
            assert isinstance(got[key], FrozenEstimator)
            assert_same_embedder(value.estimator, got[key].estimator)
        elif isinstance(value, SiameseEmbedder):
            assert_same_embedder(value, got[key])
        else:
            assert type(got[key]) is type(value), key
            assert got[key] == value, key


def assert_same_embedder(original, loaded):
    """Same class, parameters and fitted state, weights included."""
    assert type(loaded) is type(original)
    assert_same_params(original, loaded)
    assert hasattr(loaded, "encoder_") == hasattr(original, "encoder_")
    if not hasattr(original, "encoder_"):
        return
    for name in ("input_shape_", "n_features_in_", "history_", "n_iter_"):
        assert getattr(loaded, name) == getattr(original, name), name
        assert type(getattr(loaded, name)) is type(getattr(original, name)), name
    for name in ("classes_", "feature_names_in_"):
        assert hasattr(loaded, name) == hasattr(original, name), name
        if hasattr(original, name):
            assert getattr(loaded, name).dtype == getattr(original, name).dtype, name
            np.testing.assert_array_equal(getattr(loaded, name), getattr(original, name))
    assert len(loaded.encoder_.weights) == len(original.encoder_.weights)
    for got, expected in zip(loaded.encoder_.weights, original.encoder_.weights):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


def assert_same_embeddings(original, loaded, X):
    for dtype in (np.float64, np.float32):
        rows = np.asarray(X, dtype=dtype)
        np.testing.assert_array_equal(loaded.transform(rows), original.transform(rows))


def assert_same_verifier(original, loaded, pairs):
    assert type(loaded) is SiameseVerifier
    assert_same_params(original, loaded)
    assert loaded.threshold_ == original.threshold_
    assert loaded.n_features_in_ == original.n_features_in_
    np.testing.assert_array_equal(loaded.classes_, original.classes_)
    assert loaded.classes_.dtype == original.classes_.dtype
    assert isinstance(loaded.calibrator_, _SigmoidCalibration)
    assert (loaded.calibrator_.a_, loaded.calibrator_.b_) == (
        original.calibrator_.a_,
        original.calibrator_.b_,
    )
    np.testing.assert_array_equal(
        loaded.decision_function(pairs), original.decision_function(pairs)
    )
    np.testing.assert_array_equal(loaded.predict_proba(pairs), original.predict_proba(pairs))
    np.testing.assert_array_equal(loaded.predict(pairs), original.predict(pairs))


def rewrite(source, target, replace=(), drop=()):
    """Copy the zip ``source`` to ``target``, replacing or dropping members."""
    replace = dict(replace)
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            if name in drop:
                continue
            new.writestr(name, replace.pop(name, None) or old.read(name))
        for name, data in replace.items():
            new.writestr(name, data)
    return target


def edit_json(source, target, edit, member="estimator.json"):
    with zipfile.ZipFile(source) as archive:
        document = json.loads(archive.read(member))
    edit(document)
    return rewrite(source, target, {member: json.dumps(document).encode()})


def looks_like_pickle(data):
    protocol_2_plus = data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
    return protocol_2_plus or data.startswith((b"(dp", b"(lp", b"cnumpy", b"ccopy_reg"))


# Fixtures -------------------------------------------------------------------


@pytest.fixture(scope="module")
def pairs(small_digits):
    X, y = small_digits
    return make_pairs(X, y, n_pairs=400, random_state=0)


@pytest.fixture(scope="module")
def saved_embedder(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "embedder.sksiamese"
    fitted.save(path)
    return path


@pytest.fixture(scope="module")
def saved_verifier(fitted, pairs, tmp_path_factory):
    verifier = SiameseVerifier(
        SiameseEmbedder(loss="contrastive", n_components=8, epochs=1), random_state=0
    ).fit(*pairs)
    path = tmp_path_factory.mktemp("saved") / "verifier.sksiamese"
    verifier.save(path)
    return verifier, path


# Round trips ----------------------------------------------------------------


def test_unfitted_estimators_round_trip(tmp_path):
    embedder = SiameseEmbedder(
        input_shape=(8, 8, 1),
        network="cnn",
        n_components=4,
        margin=0.25,
        augment=False,
        optimizer="rmsprop",
        random_state=3,
        checkpoint_dir=pathlib.Path("checkpoints"),
    )
    loaded, _ = round_trip(embedder, tmp_path)
    assert_same_embedder(embedder, loaded)
    assert isinstance(loaded.input_shape, tuple)
    assert isinstance(loaded.checkpoint_dir, pathlib.Path)
    assert not hasattr(loaded, "encoder_")

    list_shape = SiameseEmbedder(input_shape=[8, 8])
    assert round_trip(list_shape, tmp_path)[0].input_shape == [8, 8]

    verifier = SiameseVerifier(SiameseEmbedder(loss="contrastive"), threshold=-0.5)
    loaded, _ = round_trip(verifier, tmp_path)
    assert_same_params(verifier, loaded)
    assert not hasattr(loaded, "embedder_")


def test_fitted_mlp_embedder_round_trips_bit_identically(fitted, small_digits, tmp_path):
    X, y = small_digits
    loaded, _ = round_trip(fitted, tmp_path)
    assert_same_embedder(fitted, loaded)
    assert_same_embeddings(fitted, loaded, X)
    assert loaded.score(X, y) == fitted.score(X, y)
    np.testing.assert_array_equal(loaded.get_feature_names_out(), fitted.get_feature_names_out())


def test_cnn_embedder_with_input_shape_round_trips(small_digits, tmp_path):
    X, y = small_digits
    embedder = SiameseEmbedder(
        network="cnn", input_shape=(8, 8), n_components=8, epochs=1, random_state=0
    ).fit(X, y)
    loaded, _ = round_trip(embedder, tmp_path)
    assert loaded.input_shape == (8, 8) and loaded.input_shape_ == (8, 8, 1)
    assert_same_embedder(embedder, loaded)
    assert_same_embeddings(embedder, loaded, X)
    assert_same_embeddings(embedder, loaded, X.reshape(-1, 8, 8))


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param(lambda y: np.array([f"digit {v}" for v in y]), id="str"),
        pytest.param(lambda y: np.array([f"d{v}" for v in y], dtype=object), id="object"),
        pytest.param(lambda y: y % 2 == 0, id="bool"),
        pytest.param(lambda y: y.astype(np.float32), id="float32"),
        pytest.param(lambda y: y.astype(np.uint8), id="uint8"),
    ],
)
def test_class_labels_keep_their_dtype(small_digits, tmp_path, labels):
    X, y = small_digits
    embedder = SiameseEmbedder(n_components=4, epochs=1, random_state=0).fit(X, labels(y))
    loaded, _ = round_trip(embedder, tmp_path)
    assert loaded.classes_.dtype == embedder.classes_.dtype
    assert_same_embedder(embedder, loaded)


def test_feature_names_from_a_dataframe_round_trip(small_digits, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = small_digits
    frame = pd.DataFrame(X, columns=[f"pixel_{i}" for i in range(X.shape[1])])
    embedder = SiameseEmbedder(n_components=4, epochs=1, random_state=0).fit(frame, y.astype(str))
    loaded, _ = round_trip(embedder, tmp_path)
    assert_same_embedder(embedder, loaded)
    np.testing.assert_array_equal(loaded.feature_names_in_, frame.columns)
    np.testing.assert_array_equal(loaded.transform(frame), embedder.transform(frame))
    loaded.set_output(transform="pandas")
    assert list(loaded.transform(frame).columns) == [f"siameseembedder{i}" for i in range(4)]


def test_custom_network_is_saved_by_reference(small_digits, tmp_path):
    X, y = small_digits
    embedder = SiameseEmbedder(
        network=small_network, normalize=False, n_components=4, epochs=1, random_state=0
    ).fit(X, y)
    loaded, path = round_trip(embedder, tmp_path, trusted=[small_network])
    assert loaded.network is small_network
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("estimator.json"))
    assert document["params"]["network"] == {
        "type": "function",
        "reference": f"{__name__}:small_network",
    }
    assert_same_embedder(embedder, loaded)
    assert_same_embeddings(embedder, loaded, X)


def test_optimizer_instance_round_trips(small_digits, tmp_path):
    X, y = small_digits
    optimizer = keras.optimizers.SGD(learning_rate=0.05, momentum=0.5, nesterov=True)
    embedder = SiameseEmbedder(optimizer=optimizer, n_components=4, epochs=1, random_state=0)
    loaded, _ = round_trip(embedder.fit(X, y), tmp_path)
    assert loaded.optimizer is not optimizer
    assert_same_embedder(embedder, loaded)
    assert_same_embeddings(embedder, loaded, X)


def test_verifier_with_default_embedder_round_trips(pairs, tmp_path):
    verifier = SiameseVerifier(random_state=0).fit(*pairs)
    loaded, path = round_trip(verifier, tmp_path)
    assert loaded.embedder is None
    assert_same_embedder(verifier.embedder_, loaded.embedder_)
    assert_same_verifier(verifier, loaded, pairs[0])
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == [
            "classes.npy",
            "embedder_/encoder.keras",
            "embedder_/estimator.json",
            "estimator.json",
        ]


def test_verifier_with_an_unfitted_embedder_round_trips(saved_verifier, pairs):
    verifier, path = saved_verifier
    loaded = sksiamese.load(path)
    assert not hasattr(loaded.embedder, "encoder_")
    assert_same_embedder(verifier.embedder_, loaded.embedder_)
    assert_same_verifier(verifier, loaded, pairs[0])


def test_verifier_with_a_frozen_embedder_round_trips(fitted, pairs, tmp_path):
    verifier = SiameseVerifier(FrozenEstimator(fitted)).fit(*pairs)
    loaded, path = round_trip(verifier, tmp_path)
    assert isinstance(loaded.embedder, FrozenEstimator)
    assert loaded.embedder_ is loaded.embedder  # one embedder, stored once
    assert_same_verifier(verifier, loaded, pairs[0])
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == [
            "classes.npy",
            "embedder/classes.npy",
            "embedder/encoder.keras",
            "embedder/estimator.json",
            "estimator.json",
        ]


def test_saving_again_gives_the_same_estimator(saved_embedder, tmp_path):
    loaded = sksiamese.load(saved_embedder)
    again, _ = round_trip(loaded, tmp_path)
    assert_same_embedder(loaded, again)


# No pickle ------------------------------------------------------------------


def test_files_hold_no_pickle(saved_embedder, saved_verifier, monkeypatch):
    for path in (saved_embedder, saved_verifier[1]):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                assert name.endswith(("estimator.json", "encoder.keras", ".npy")), name
                data = archive.read(name)
                assert not looks_like_pickle(data), name
                if name.endswith(".json"):
                    json.loads(data)
                    continue
                if name.endswith(".npy"):
                    # Plain numbers or text: readable without pickle.
                    assert np.load(io.BytesIO(data), allow_pickle=False).dtype.kind in "biufU"
                    continue
                with zipfile.ZipFile(io.BytesIO(data)) as model:
                    assert sorted(model.namelist()) == [
                        "config.json",
                        "metadata.json",
                        "model.weights.h5",
                    ]
                    for member in model.namelist():
                        assert not looks_like_pickle(model.read(member)), (name, member)
                    assert "__lambda__" not in model.read("config.json").decode()

    def refuse(*args, **kwargs):
        raise AssertionError("load unpickled something")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    assert hasattr(sksiamese.load(saved_embedder), "encoder_")
    assert hasattr(sksiamese.load(saved_verifier[1]).embedder_, "encoder_")


def test_keras_member_with_a_lambda_layer_is_refused(saved_embedder, small_digits, tmp_path):
    inputs = keras.Input(shape=(64,))
    outputs = keras.layers.Lambda(lambda rows: rows[:, :8] * 2.0)(inputs)
    malicious = model_to_bytes(keras.Model(inputs, outputs))
    path = rewrite(saved_embedder, tmp_path / "lambda.sksiamese", {"encoder.keras": malicious})
    with pytest.raises(ValueError, match="holds Python code.*safe mode") as error:
        sksiamese.load(path)
    assert "lambda.sksiamese" in str(error.value)


def test_keras_member_naming_a_foreign_class_is_refused(saved_embedder, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda *args: calls.append(args))
    with zipfile.ZipFile(saved_embedder) as archive:
        model = zipfile.ZipFile(io.BytesIO(archive.read("encoder.keras")))
        config = json.loads(model.read("config.json"))
        layer = config["config"]["layers"][-1]
        layer.update(module="os", class_name="system", registered_name=None)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as edited:
            for name in model.namelist():
                data = json.dumps(config) if name == "config.json" else model.read(name)
                edited.writestr(name, data)
    path = rewrite(
        saved_embedder, tmp_path / "foreign.sksiamese", {"encoder.keras": buffer.getvalue()}
    )
    with pytest.raises(ValueError, match="Keras model 'encoder.keras' could not be loaded"):
        sksiamese.load(path)
    assert calls == []


def _set(keys, value):
    def edit(document):
        target = document
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return edit


def _delete(keys):
    def edit(document):
        target = document
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return edit


def _flip_a_byte(source, target, member="estimator.json"):
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo(member)
    # Inside the (compressed) data of the member, past the local header and
    # its extra field: its CRC no longer matches.
    start = info.header_offset
    name_length, extra_length = (
        int.from_bytes(data[start + i : start + i + 2], "little") for i in (26, 28)
    )
    data[start + 30 + name_length + extra_length + 10] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


# (name, how to damage the saved embedder, what the error says)
CORRUPT_EMBEDDER_FILES = [
    ("random bytes", lambda s, t: t.write_bytes(os.urandom(4096)) and t, "not a readable zip"),
    ("empty file", lambda s, t: t.write_bytes(b"") or t, "not a readable zip"),
    (
        "truncated zip",
        lambda s, t: t.write_bytes(s.read_bytes()[: s.stat().st_size // 2]) and t,
        "not a readable zip",
    ),
    ("damaged member", _flip_a_byte, "damaged"),
    (
        "no estimator.json",
        lambda s, t: rewrite(s, t, drop={"estimator.json"}),
        "no 'estimator.json'",
    ),
    (
        "foreign zip",
        lambda s, t: rewrite(
            s, t, {"notes.txt": b"hello"}, drop={"estimator.json", "encoder.keras"}
        ),
        "no 'estimator.json'",
    ),
    (
        "bad JSON",
        lambda s, t: rewrite(s, t, {"estimator.json": b'{"format": "sksi'}),
        "not valid JSON",
    ),
    (
        "JSON not an object",
        lambda s, t: rewrite(s, t, {"estimator.json": b"[1, 2]"}),
        "does not describe a sksiamese estimator",
    ),
    (
        "other format name",
        lambda s, t: edit_json(s, t, _set(["format"], "skops")),
        "does not describe a sksiamese estimator",
    ),
    (
        "newer format version",
        lambda s, t: edit_json(s, t, _set(["format_version"], 3)),
        "format version 3 .*reads versions 1 and 2.*pip install --upgrade",
    ),
    (
        "unknown class",
        lambda s, t: edit_json(s, t, _set(["class"], "sklearn.pipeline.Pipeline")),
        "only GalleryClassifier, SiameseEmbedder and SiameseVerifier can be loaded",
    ),
    (
        "unknown parameter",
        lambda s, t: edit_json(s, t, _set(["params", "evil"], 1)),
        "parameters 'evil', unknown",
    ),
    (
        "params not an object",
        lambda s, t: edit_json(s, t, _set(["params"], [1])),
        "lacks its params",
    ),
    (
        "missing fitted attribute",
        lambda s, t: edit_json(s, t, _delete(["fitted", "history_"])),
        "lacks the fitted attribute history_",
    ),
    (
        "missing .keras member",
        lambda s, t: rewrite(s, t, drop={"encoder.keras"}),
        "'encoder.keras', which is missing",
    ),
    (
        "garbage .keras member",
        lambda s, t: rewrite(s, t, {"encoder.keras": b"garbage" * 100}),
        "'encoder.keras' could not be loaded",
    ),
    (
        "model member outside its folder",
        lambda s, t: edit_json(s, t, _set(["fitted", "encoder_", "member"], "../../etc/passwd")),
        "names the member",
    ),
    (
        "encoder_ not a model",
        lambda s, t: edit_json(s, t, _set(["fitted", "encoder_"], "x")),
        "encoder_ is not a Keras model",
    ),
    (
        "bad attribute name",
        lambda s, t: edit_json(s, t, _set(["fitted", "__class__"], 1)),
        "not a fitted attribute name",
    ),
    (
        "unknown value type",
        lambda s, t: edit_json(
            s, t, _set(["params", "margin"], {"type": "pickle", "data": "gAS."})
        ),
        "unknown type 'pickle'",
    ),
    (
        "malformed network reference",
        lambda s, t: edit_json(
            s, t, _set(["params", "network"], {"type": "function", "reference": "os; rm -rf:x"})
        ),
        "malformed reference",
    ),
    (
        "malformed optimizer class reference",
        lambda s, t: edit_json(
            s,
            t,
            _set(
                ["params", "optimizer"],
                {"type": "keras_optimizer", "class": "os.system", "config": {}},
            ),
        ),
        "malformed reference",
    ),
    (
        "foreign optimizer class",
        lambda s, t: edit_json(
            s,
            t,
            _set(
                ["params", "optimizer"],
                {
                    "type": "keras_optimizer",
                    "config": {"module": "os", "class_name": "system", "config": {}},
                },
            ),
        ),
        "not one of Keras' own",
    ),
    (
        "input_shape_ not ints",
        lambda s, t: edit_json(s, t, _set(["fitted", "input_shape_"], "64")),
        "input_shape_ is not a tuple of ints",
    ),
]


@pytest.mark.parametrize(
    "damage, message",
    [pytest.param(d, m, id=name) for name, d, m in CORRUPT_EMBEDDER_FILES],
)
def test_damaged_and_malicious_embedder_files_are_refused(
    saved_embedder, tmp_path, damage, message
):
    path = damage(saved_embedder, tmp_path / "damaged.sksiamese")
    with pytest.raises(ValueError, match=message) as error:
        sksiamese.load(path)
    assert type(error.value) is ValueError
    assert "damaged.sksiamese" in str(error.value)


CORRUPT_VERIFIER_FILES = [
    (
        "nested verifier",
        lambda s, t: edit_json(
            s, t, _set(["class"], "SiameseVerifier"), "embedder_/estimator.json"
        ),
        "holds a SiameseVerifier, where a SiameseEmbedder belongs",
    ),
    (
        "nested folder elsewhere",
        lambda s, t: edit_json(s, t, _set(["fitted", "embedder_", "folder"], "../")),
        "names the folder",
    ),
    (
        "missing nested estimator.json",
        lambda s, t: rewrite(s, t, drop={"embedder_/estimator.json"}),
        "no 'embedder_/estimator.json'",
    ),
    (
        "nested .keras with a lambda",
        lambda s, t: rewrite(
            s,
            t,
            {
                "embedder_/encoder.keras": model_to_bytes(
                    keras.Sequential(
                        [keras.Input((64,)), keras.layers.Lambda(lambda rows: rows + 1)]
                    )
                )
            },
        ),
        "'embedder_/encoder.keras' holds Python code",
    ),
    (
        "calibrator not numbers",
        lambda s, t: edit_json(s, t, _set(["fitted", "calibrator_", "a"], "1.0")),
        "malformed calibration",
    ),
    (
        "calibrator replaced",
        lambda s, t: edit_json(s, t, _set(["fitted", "calibrator_"], 1.0)),
        "calibrator_ is not a sigmoid calibration",
    ),
]


@pytest.mark.parametrize(
    "damage, message",
    [pytest.param(d, m, id=name) for name, d, m in CORRUPT_VERIFIER_FILES],
)
def test_damaged_and_malicious_verifier_files_are_refused(
    saved_verifier, tmp_path, damage, message
):
    path = damage(saved_verifier[1], tmp_path / "damaged.sksiamese")
    with pytest.raises(ValueError, match=message) as error:
        sksiamese.load(path)
    assert type(error.value) is ValueError


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        sksiamese.load(tmp_path / "nothing-here.sksiamese")


def test_load_raises_its_own_errors_as_they_are(saved_verifier, monkeypatch):
    # Only problems of the file become "Cannot load": a fault in the code does not.
    def broken(self, state):
        raise AttributeError("a bug in __setstate__")

    monkeypatch.setattr(SiameseVerifier, "__setstate__", broken)
    with pytest.raises(AttributeError, match="a bug in __setstate__"):
        sksiamese.load(saved_verifier[1])

    def broken_decoder(fields, reader):
        raise KeyError("a bug in the decoder")

    codec = _registry.codec_for_tag("ndarray")
    monkeypatch.setitem(_registry._CODECS, "ndarray", codec._replace(decode=broken_decoder))
    with pytest.raises(KeyError, match="a bug in the decoder"):
        sksiamese.load(saved_verifier[1])


# Trust: what a file names is imported only when the caller trusts it -------------


def _forget(module):
    del sys.modules[module.name]
    module.marker.unlink()


def _untrusted_message(name):
    escaped = re.escape(repr([name]))
    return (
        f"Untrusted types found in the file .*: {escaped}.*"
        f"sksiamese.load\\(path, trusted={escaped}\\)"
    )


def test_untrusted_network_is_refused_and_its_module_never_imported(side_effect_module, tmp_path):
    module = side_effect_module
    name = f"{module.name}.network"
    embedder = SiameseEmbedder(network=module.module.network, n_components=3)
    path = embedder.save(tmp_path / "custom.sksiamese")
    # The name is also found in an estimator nested in another.
    verifier = SiameseVerifier(SiameseEmbedder(loss="contrastive", network=module.module.network))
    nested = verifier.save(tmp_path / "nested.sksiamese")
    _forget(module)

    for file in (path, nested):
        with pytest.raises(UntrustedTypesError, match=_untrusted_message(name)):
            sksiamese.load(file)
        with pytest.raises(UntrustedTypesError, match=re.escape(repr([name]))):
            sksiamese.load(file, trusted=[f"{module.name}.other", "network"])
        assert sksiamese.get_untrusted_types(file) == [name]
    assert module.name not in sys.modules
    assert not module.marker.exists()

    loaded = sksiamese.load(path, trusted=[name])
    assert module.marker.exists()
    assert loaded.network is sys.modules[module.name].network
    assert loaded.n_components == 3
    assert sksiamese.load(nested, trusted=(name,)).embedder.network is loaded.network


def test_untrusted_optimizer_is_refused_and_its_module_never_imported(side_effect_module, tmp_path):
    module = side_effect_module
    name = f"{module.name}.Optimizer"
    optimizer = module.module.Optimizer(learning_rate=0.05, momentum=0.5)
    path = SiameseEmbedder(optimizer=optimizer).save(tmp_path / "custom.sksiamese")
    _forget(module)

    with pytest.raises(UntrustedTypesError, match=_untrusted_message(name)):
        sksiamese.load(path)
    assert sksiamese.get_untrusted_types(path) == [name]
    assert module.name not in sys.modules
    assert not module.marker.exists()

    loaded = sksiamese.load(path, trusted=[name])
    assert module.marker.exists()
    assert type(loaded.optimizer) is sys.modules[module.name].Optimizer
    assert loaded.optimizer.get_config() == optimizer.get_config()


def test_custom_optimizer_round_trips_when_trusted(small_digits, tmp_path):
    X, y = small_digits
    embedder = SiameseEmbedder(
        optimizer=HalfSGD(learning_rate=0.05), n_components=4, epochs=1, random_state=0
    ).fit(X, y)
    loaded, _ = round_trip(embedder, tmp_path, trusted=[HalfSGD])
    assert_same_embedder(embedder, loaded)
    assert_same_embeddings(embedder, loaded, X)

    class LocalSGD(keras.optimizers.SGD):
        pass

    with pytest.raises(ValueError, match="LocalSGD is defined inside a function"):
        SiameseEmbedder(optimizer=LocalSGD()).save(tmp_path / "local.sksiamese")


def test_built_in_networks_and_keras_optimizers_need_no_trust(tmp_path):
    embedder = SiameseEmbedder(
        network=build_cnn, input_shape=(8, 8, 1), optimizer=keras.optimizers.AdamW(0.01)
    )
    path = embedder.save(tmp_path / "built_in.sksiamese")
    assert sksiamese.get_untrusted_types(path) == []
    loaded = sksiamese.load(path)
    assert loaded.network is build_cnn
    assert_same_params(embedder, loaded)


@pytest.mark.parametrize("reference", ["os:system", "builtins:eval", "sksiamese:load"])
def test_trusted_names_must_still_be_functions_defined_where_they_say(
    saved_embedder, tmp_path, reference
):
    path = edit_json(
        saved_embedder,
        tmp_path / "edited.sksiamese",
        _set(["params", "network"], {"type": "function", "reference": reference}),
    )
    name = reference.replace(":", ".")
    with pytest.raises(UntrustedTypesError, match=re.escape(repr([name]))):
        sksiamese.load(path)
    module = reference.split(":")[0]
    with pytest.raises(ValueError, match=f"not a function defined in '{module}'") as error:
        sksiamese.load(path, trusted=[name])
    assert type(error.value) is ValueError


def test_trusted_must_be_a_list_of_names_functions_or_classes(saved_embedder):
    with pytest.raises(TypeError, match="'trusted' parameter of load must be an instance of"):
        sksiamese.load(saved_embedder, trusted=True)
    with pytest.raises(TypeError, match="trusted must list names .*; got 3"):
        sksiamese.load(saved_embedder, trusted=[3])
    with pytest.raises(ValueError, match="not a readable zip"):
        sksiamese.get_untrusted_types(__file__)


# What cannot be saved, and what is not saved -------------------------------------


def test_callbacks_are_not_saved_and_warn(tmp_path):
    embedder = SiameseEmbedder(callbacks=[keras.callbacks.TerminateOnNaN()])
    with pytest.warns(UserWarning, match="The parameter callbacks is not saved"):
        loaded, _ = round_trip(embedder, tmp_path)
    assert loaded.callbacks is None
    assert_same_params(embedder, loaded)


def test_random_state_instance_is_not_saved_and_warns(tmp_path):
    verifier = SiameseVerifier(
        SiameseEmbedder(loss="contrastive", random_state=np.random.RandomState(0)),
        random_state=np.random.RandomState(1),
    )
    with pytest.warns(UserWarning, match="RandomState instance") as record:
        loaded, _ = round_trip(verifier, tmp_path)
    assert len(record) == 2
    assert loaded.random_state is None and loaded.embedder.random_state is None


def test_lambda_and_local_networks_cannot_be_saved(tmp_path):
    def local_network(input_shape, n_components):
        return small_network(input_shape, n_components)

    with pytest.raises(ValueError, match="is a lambda.*module level"):
        SiameseEmbedder(network=lambda shape, n: small_network(shape, n)).save(tmp_path / "a")
    with pytest.raises(ValueError, match="defined inside a function"):
        SiameseEmbedder(network=local_network).save(tmp_path / "b")
    assert os.listdir(tmp_path) == []  # nothing written, not even a partial file


def test_network_with_a_lambda_layer_cannot_be_saved(small_digits, tmp_path):
    X, y = small_digits
    embedder = SiameseEmbedder(network=lambda_layer_network, n_components=4, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="Lambda layer.*safe mode"):
        embedder.save(tmp_path / "lambda.sksiamese")


def test_other_embedders_need_pickle(small_digits, pairs, tmp_path):
    X, _ = small_digits
    verifier = SiameseVerifier(FrozenEstimator(PCA(8).fit(X))).fit(*pairs)
    with pytest.raises(ValueError, match="FrozenEstimator\\(PCA\\).*SiameseEmbedder.*pickle"):
        verifier.save(tmp_path / "pca.sksiamese")
    with pytest.raises(ValueError, match="PCA.*pickle or joblib.*trust"):
        SiameseVerifier(PCA(8)).save(tmp_path / "pca.sksiamese")

    class MyEmbedder(SiameseEmbedder):
        pass

    with pytest.raises(ValueError, match="not .*MyEmbedder"):
        MyEmbedder().save(tmp_path / "subclass.sksiamese")


def test_unimportable_network_still_embeds_and_says_so_on_refit(small_digits, tmp_path):
    X, y = small_digits
    embedder = SiameseEmbedder(
        network=small_network, normalize=False, n_components=4, epochs=1, random_state=0
    ).fit(X, y)
    path = embedder.save(tmp_path / "model.sksiamese")
    reference = "sksiamese_missing_module_for_tests:small_network"
    moved = edit_json(
        path,
        tmp_path / "moved.sksiamese",
        _set(["params", "network"], {"type": "function", "reference": reference}),
    )
    trusted = ["sksiamese_missing_module_for_tests.small_network"]
    with pytest.warns(UserWarning, match="cannot be imported.*refitting it needs the function"):
        loaded = sksiamese.load(moved, trusted=trusted)
    assert_same_embeddings(embedder, loaded, X)
    with pytest.raises(ValueError, match="could not be imported when the estimator was loaded"):
        clone(loaded).fit(X, y)
    with pytest.warns(UserWarning, match="cannot be imported"):
        # Saving again keeps the reference.
        again, _ = round_trip(loaded, tmp_path, "again.sksiamese", trusted=trusted)
    assert again.network == loaded.network


# Loaded estimators keep working -----------------------------------------------


def test_loaded_embedder_can_be_refit_and_warm_started(saved_embedder, fitted, small_digits):
    X, y = small_digits
    refit = clone(sksiamese.load(saved_embedder)).fit(X, y)
    # Same parameters and seed: the refit reproduces the original fit.
    np.testing.assert_array_equal(refit.transform(X), fitted.transform(X))

    loaded = sksiamese.load(saved_embedder)
    n_epochs = len(loaded.history_["loss"])
    loaded.set_params(warm_start=True, epochs=1).fit(X, y)
    assert len(loaded.history_["loss"]) == n_epochs + 1 == loaded.n_iter_


def test_loaded_verifier_can_be_refit(saved_verifier, pairs):
    verifier, path = saved_verifier
    refit = clone(sksiamese.load(path)).fit(*pairs)
    np.testing.assert_array_equal(refit.predict_proba(pairs[0]), verifier.predict_proba(pairs[0]))


def test_save_replaces_an_existing_file(fitted, tmp_path):
    path = tmp_path / "model.sksiamese"
    path.write_bytes(b"old")
    fitted.save(str(path))
    assert zipfile.is_zipfile(path)
    assert sorted(os.listdir(tmp_path)) == ["model.sksiamese"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_mixin_leaves_scikit_learn_tags_alone():
    # SaveMixin comes first and adds only ``save``, which no other base has:
    # the MRO of the scikit-learn bases, which makes the tags, is unchanged.
    assert [name for name in vars(SaveMixin) if not name.startswith("__")] == ["save"]
    for cls in (SiameseEmbedder, SiameseVerifier):
        assert cls.__bases__[0] is SaveMixin
        plain = type("Plain", cls.__bases__[1:], {})
        assert [c for c in cls.__mro__[1:] if c is not SaveMixin] == list(plain.__mro__[1:])
        assert not any(hasattr(base, "save") for base in cls.__bases__[1:])
    embedder, verifier = SiameseEmbedder().__sklearn_tags__(), SiameseVerifier().__sklearn_tags__()
    assert embedder.estimator_type is None and embedder.target_tags.required
    assert embedder.transformer_tags.preserves_dtype == ["float64", "float32"]
    assert verifier.estimator_type == "classifier" and verifier.input_tags.three_d_array
    assert not verifier.input_tags.two_d_array and not verifier.classifier_tags.multi_class


def test_a_registered_estimator_saves_and_loads_without_changes_to_the_format(
    tmp_path, monkeypatch
):
    # A class from elsewhere joins the format by declaring what it saves. It is
    # registered for this test only: monkeypatch removes the entry afterwards.
    monkeypatch.setitem(_registry._ESTIMATORS, "Gallery", None)

    @register(
        required=("embedder_", "labels_"),
        kinds={"shape_": "shape"},
        estimators={"embedder": SiameseEmbedder, "embedder_": SiameseEmbedder},
    )
    class Gallery(SaveMixin, BaseEstimator):
        def __init__(self, embedder=None, k=1):
            self.embedder = embedder
            self.k = k

    gallery = Gallery(FrozenEstimator(SiameseEmbedder(n_components=3)), k=5)
    gallery.embedder_ = gallery.embedder
    gallery.labels_ = np.array(["a", "b"])
    gallery.shape_ = (2, 3)
    loaded, path = round_trip(gallery, tmp_path)
    assert type(loaded) is Gallery and loaded.k == 5
    assert isinstance(loaded.embedder, FrozenEstimator) and loaded.embedder_ is loaded.embedder
    assert loaded.embedder.estimator.n_components == 3
    np.testing.assert_array_equal(loaded.labels_, gallery.labels_)
    assert loaded.shape_ == (2, 3)

    # Its declarations are checked like the library's own.
    edited = edit_json(path, tmp_path / "edited.sksiamese", _set(["fitted", "shape_"], 3))
    with pytest.raises(ValueError, match="fitted attribute shape_ is not a tuple of ints"):
        sksiamese.load(edited)
    edited = edit_json(path, tmp_path / "edited.sksiamese", _delete(["fitted", "labels_"]))
    with pytest.raises(ValueError, match="lacks the fitted attribute labels_"):
        sksiamese.load(edited)
    edited = edit_json(path, tmp_path / "edited.sksiamese", _set(["fitted", "embedder_"], 1))
    with pytest.raises(ValueError, match="embedder_ is not a SiameseEmbedder, frozen or not"):
        sksiamese.load(edited)
    del gallery.labels_
    with pytest.raises(ValueError, match="lacks labels_; it cannot be saved"):
        gallery.save(tmp_path / "unfinished.sksiamese")


def test_load_is_public():
    for name in ("load", "get_untrusted_types", "UntrustedTypesError"):
        assert name in sksiamese.__all__
        assert getattr(sksiamese, name).__module__ == "sksiamese._io._load"
