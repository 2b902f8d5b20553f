"""Mixed precision: precision="mixed", "mixed_float16" and "mixed_bfloat16"."""

import pickle

import keras
import numpy as np
import pytest
import tensorflow as tf

import sksiamese
from sksiamese import SiameseEmbedder
from sksiamese._encoder import compute_policy
from sksiamese._training import dtype_policy


def layer_policies(encoder):
    policies = {}
    for layer in encoder.layers:
        for inner in getattr(layer, "layers", [layer]):
            policies[inner.name] = inner.dtype_policy.name
    return policies


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_and_keeps_edges_in_float32(digits, precision):
    X, y = digits
    embedder = SiameseEmbedder(n_components=16, epochs=4, precision=precision, random_state=0)
    embedder.fit(X[:1200], y[:1200])
    policies = layer_policies(embedder.encoder_)
    assert policies["standardize"] == policies["l2_normalize"] == "float32"
    dense = [name for name in policies if name.startswith("dense")]
    assert dense and all(policies[name] == precision for name in dense)
    assert compute_policy(embedder.encoder_) == precision
    # Weights stay float32; embeddings come out in the rows' precision.
    assert all(weight.dtype == "float32" for weight in embedder.encoder_.weights)
    embedded = embedder.transform(X[1200:].astype(np.float32))
    assert embedded.dtype == np.float32 and np.isfinite(embedded).all()
    assert embedder.transform(X[1200:]).dtype == np.float64
    assert embedder.score(X[1200:], y[1200:]) > 0.85
    assert embedder.history_["loss"][-1] < 0.5 * embedder.history_["loss"][0]


def test_float16_scales_the_loss_and_bfloat16_does_not(small_digits, monkeypatch):
    X, y = small_digits
    built = []
    import sksiamese._engine as module

    real = module.make_optimizer

    def recording(*args, **kwargs):
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(module, "make_optimizer", recording)
    for precision in ("mixed_float16", "mixed_bfloat16", "float32"):
        SiameseEmbedder(n_components=4, epochs=1, precision=precision, random_state=0).fit(X, y)
    scaled = [isinstance(opt, keras.optimizers.LossScaleOptimizer) for opt in built]
    assert scaled == [True, False, False]


def test_mixed_means_float16_on_gpus_and_bfloat16_elsewhere():
    expected = "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"
    assert dtype_policy("mixed") == expected
    assert dtype_policy("float32") == "float32"


def test_mixed_precision_is_reproducible_and_round_trips(small_digits, tmp_path):
    X, y = small_digits
    params = dict(n_components=4, epochs=2, precision="mixed", random_state=0)
    first = SiameseEmbedder(**params).fit(X, y)
    again = SiameseEmbedder(**params).fit(X, y)
    np.testing.assert_array_equal(first.transform(X), again.transform(X))
    restored = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(restored.transform(X), first.transform(X))
    first.save(tmp_path / "model.zip")
    loaded = sksiamese.load(tmp_path / "model.zip")
    assert compute_policy(loaded.encoder_) == dtype_policy("mixed")
    np.testing.assert_array_equal(loaded.transform(X), first.transform(X))


def test_warm_start_keeps_the_encoders_precision(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(n_components=4, epochs=1, precision="mixed_bfloat16", random_state=0)
    embedder.fit(X, y)
    embedder.set_params(precision="float32", warm_start=True).fit(X, y)
    assert compute_policy(embedder.encoder_) == "mixed_bfloat16"


class Subclassed(keras.Model):
    def __init__(self, n_components, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(n_components)

    def call(self, rows):
        return self.dense(rows)


def subclassed_network(input_shape, n_components):
    return Subclassed(n_components)


def test_subclassed_network_with_mixed_precision_gets_a_clear_error(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(network=subclassed_network, precision="mixed_bfloat16", epochs=1)
    with pytest.raises(ValueError, match="functional or Sequential"):
        embedder.fit(X, y)
