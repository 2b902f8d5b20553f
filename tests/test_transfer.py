"""Transfer learning: networks given as models or pretrained builders, frozen layers."""

import functools
import os
from unittest import mock

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

import sksiamese
from sksiamese import SiameseEmbedder
from sksiamese._checkpoint import read_checkpoint
from sksiamese._frozen import frozen_features, split_frozen
from sksiamese.networks import build_mlp


def pretrained_backbone(seed=0, n_features=64, width=12):
    """A small backbone whose weights are 'pretrained': set to known values."""
    inputs = keras.Input((n_features,))
    hidden = keras.layers.Dense(width, activation="relu", name="dense")(inputs)
    hidden = keras.layers.BatchNormalization(name="norm")(hidden)
    backbone = keras.Model(inputs, hidden, name="backbone")
    rng = np.random.default_rng(seed)
    backbone.set_weights(
        [rng.uniform(0.5, 1.5, size=w.shape).astype("float32") for w in backbone.get_weights()]
    )
    return backbone


_PRETRAINED = pretrained_backbone(seed=1)


def pretrained_builder(input_shape, n_components):
    """A builder that hands out one pretrained backbone and puts a new layer on it."""
    return keras.Model(
        _PRETRAINED.inputs,
        keras.layers.Dense(n_components, name="new")(_PRETRAINED.outputs[0]),
        name="pretrained",
    )


def weights_of(model):
    return [keras.ops.convert_to_numpy(weight) for weight in model.weights]


def same_weights(first, second):
    return len(first) == len(second) and all(np.array_equal(a, b) for a, b in zip(first, second))


@pytest.fixture(scope="module")
def data(small_digits):
    X, y = small_digits
    return (X / 16).astype(np.float32), y


def frozen_model(seed=0):
    backbone = pretrained_backbone(seed)
    backbone.trainable = False
    return backbone


def embed(model, X):
    """What an encoder holding ``model`` unchanged embeds: its L2-normalised output."""
    out = np.asarray(model(X, training=False), dtype=np.float64)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_model_instance_trains_from_its_weights(data):
    X, y = data
    model = pretrained_backbone()
    # A zero learning rate leaves the weights where training starts (batch
    # normalisation, frozen, does not move its statistics either).
    model.get_layer("norm").trainable = False
    params = dict(epochs=1, n_components=12, optimizer=keras.optimizers.SGD(0.0), random_state=0)
    kept = SiameseEmbedder(network=model, **params).fit(X, y)
    assert not any(layer.name == "projection" for layer in kept.encoder_.layers)
    np.testing.assert_allclose(kept.transform(X), embed(model, X), rtol=1e-5, atol=1e-6)
    redrawn = SiameseEmbedder(network=model, init="redraw", **params).fit(X, y)
    assert not np.allclose(redrawn.transform(X), embed(model, X), atol=1e-2)


def test_pretrained_builder_keeps_its_backbone_and_draws_its_new_layer(data):
    X, y = data
    before = weights_of(_PRETRAINED)
    params = dict(network=pretrained_builder, n_components=4, epochs=1, random_state=0)
    start = SiameseEmbedder(optimizer=keras.optimizers.SGD(0.0), **params).fit(X, y)
    body = start.encoder_.get_layer("pretrained")
    assert same_weights(weights_of(body.get_layer("dense")), before[:2])
    # The new layer is drawn from random_state, so fits are reproducible.
    first = SiameseEmbedder(**params).fit(X, y).transform(X)
    second = SiameseEmbedder(**params).fit(X, y).transform(X)
    assert np.array_equal(first, second)
    assert same_weights(weights_of(_PRETRAINED), before)


def test_the_users_model_is_never_changed(data):
    X, y = data
    model = pretrained_backbone()
    before = weights_of(model)
    embedder = SiameseEmbedder(network=model, n_components=4, epochs=2, learning_rate=0.05)
    embedder.fit(X, y)
    assert same_weights(weights_of(model), before)
    assert all(layer.trainable for layer in model.layers)
    trained = embedder.encoder_.get_layer("backbone")
    assert trained is not model and not same_weights(weights_of(trained), before)


def test_init_auto_redraws_a_network_built_from_scratch(data):
    X, y = data
    network = functools.partial(build_mlp, hidden_units=(16,))
    params = dict(network=network, n_components=4, epochs=1, random_state=0)
    auto = SiameseEmbedder(**params).fit(X, y).transform(X)
    assert np.array_equal(auto, SiameseEmbedder(**params).fit(X, y).transform(X))
    assert np.array_equal(auto, SiameseEmbedder(init="redraw", **params).fit(X, y).transform(X))


@pytest.mark.parametrize("augment", [False, True])
def test_frozen_layers_keep_their_weights(data, augment):
    X, y = data
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    hidden = keras.layers.BatchNormalization(name="norm")(hidden)
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(6, name="top")(hidden))
    model.set_weights([w + 0.25 for w in model.get_weights()])  # 'pretrained'
    for name in ("conv", "norm"):
        model.get_layer(name).trainable = False
    frozen = weights_of(model.get_layer("conv")) + weights_of(model.get_layer("norm"))
    embedder = SiameseEmbedder(
        network=model,
        input_shape=(8, 8, 1),
        n_components=6,
        epochs=2,
        augment=augment,
        learning_rate=0.05,
        random_state=0,
    ).fit(X, y)
    body = embedder.encoder_.get_layer(model.name)
    after = weights_of(body.get_layer("conv")) + weights_of(body.get_layer("norm"))
    assert same_weights(after, frozen)
    assert not same_weights(weights_of(body.get_layer("top")), weights_of(model.get_layer("top")))


def test_frozen_backbone_trains_its_head_on_features_computed_once(data):
    X, y = data
    params = dict(network=frozen_model(), n_components=4, epochs=3, random_state=0)
    with mock.patch("sksiamese._frozen.frozen_features", wraps=frozen_features) as spy:
        fast = SiameseEmbedder(**params).fit(X, y)
    assert spy.call_count == 1
    # The same encoder trained on the rows, through the frozen layers each batch.
    with mock.patch("sksiamese._frozen.split_frozen", return_value=None):
        slow = SiameseEmbedder(**params).fit(X, y)
    # The same arithmetic in another order: float32 rounding differs, and
    # three epochs of training carry it on (1.5e-4 at most measured on one
    # CPU, 1e-5 on another), far below what a wrong path would change.
    np.testing.assert_allclose(fast.transform(X), slow.transform(X), atol=1e-3)
    np.testing.assert_allclose(fast.history_["loss"], slow.history_["loss"], rtol=1e-3)
    assert [layer.name for layer in fast.encoder_.layers] == [
        "rows",
        "backbone",
        "projection",
        "l2_normalize",
    ]


@pytest.mark.parametrize("variants", ["rotated_classes", "mirrored_classes"])
def test_rotated_classes_train_through_the_frozen_layers(data, variants):
    # Turned or mirrored images change what frozen layers compute, as
    # augmentation does: their output cannot be computed once.
    X, y = data
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Conv2D(4, 3, name="conv", trainable=False)(inputs)
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    model = keras.Model(inputs, keras.layers.Dense(6, name="top")(hidden))
    model.set_weights([w + 0.25 for w in model.get_weights()])  # 'pretrained'
    frozen = weights_of(model.get_layer("conv"))
    with (
        mock.patch("sksiamese._frozen.frozen_features", wraps=frozen_features) as spy,
        pytest.warns(UserWarning, match=f"frozen, but {variants} change"),
    ):
        embedder = SiameseEmbedder(
            network=model,
            input_shape=(8, 8, 1),
            n_components=6,
            epochs=1,
            augment=False,
            random_state=0,
            **{variants: True},
        ).fit(X, y)
    assert spy.call_count == 0
    body = embedder.encoder_.get_layer(model.name)
    assert same_weights(weights_of(body.get_layer("conv")), frozen)
    assert np.isfinite(embedder.history_["loss"]).all()


def test_fast_path_reads_disk_backed_rows(data, tmp_path):
    X, y = data
    np.save(tmp_path / "X.npy", X)
    on_disk = np.load(tmp_path / "X.npy", mmap_mode="r")
    params = dict(network=frozen_model(), n_components=4, epochs=2, random_state=0)
    from_disk = SiameseEmbedder(**params).fit(on_disk, y)
    in_memory = SiameseEmbedder(**params).fit(X, y)
    np.testing.assert_allclose(from_disk.transform(X), in_memory.transform(X), atol=1e-6)
    assert not [name for name in os.listdir(tmp_path) if name != "X.npy"]


def test_frozen_part_ends_where_training_changes_what_a_layer_computes():
    def frozen_dense(units=4):
        return keras.layers.Dense(units, trainable=False)

    inputs = keras.Input((5,))
    hidden = frozen_dense()(keras.layers.Dropout(0.5)(frozen_dense()(inputs)))
    split = split_frozen(keras.Model(inputs, keras.layers.Dense(3)(hidden)))
    # Dropout draws anew in every batch: the frozen part stops before it.
    assert split.frozen.count_params() == 5 * 4 + 4
    assert sum(isinstance(layer, keras.layers.Dropout) for layer in split.head.layers) == 1
    # A frozen backbone without such layers is frozen as a whole.
    backbone = keras.Sequential([keras.Input((5,)), frozen_dense(), frozen_dense(6)])
    split = split_frozen(keras.Sequential([backbone, keras.layers.Dense(3)]))
    assert split.frozen.count_params() == backbone.count_params()
    assert split.frozen.output_shape == (None, 6)
    assert split_frozen(keras.Model(inputs, keras.layers.Dense(3)(inputs))) is None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_keras_applications_backbone_frozen_with_a_projection_head():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 255, size=(32, 32, 32, 3)).astype(np.float32)
    y = np.repeat(np.arange(4), 8)
    backbone = keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), weights=None, include_top=False, pooling="avg"
    )
    # Stand-in for ImageNet weights: values no initializer draws.
    backbone.set_weights([w + 0.01 for w in backbone.get_weights()])
    backbone.trainable = False
    before = weights_of(backbone)
    embedder = SiameseEmbedder(network=backbone, n_components=8, epochs=1, batch_size=16)
    embedder.fit(X.reshape(len(X), -1), y)  # flat rows take the model's input shape
    assert embedder.input_shape_ == (32, 32, 3)
    assert embedder.transform(X).shape == (32, 8)
    assert same_weights(weights_of(backbone), before)
    assert same_weights(weights_of(embedder.encoder_.get_layer(backbone.name)), before)
    assert embedder.encoder_.get_layer("projection").output.shape == (None, 8)


def test_clones_share_the_model_and_refit_identically(data):
    X, y = data
    model = frozen_model()
    embedder = SiameseEmbedder(network=model, n_components=4, epochs=1, random_state=0)
    copy = clone(embedder)
    assert copy.network is model
    assert np.array_equal(embedder.fit(X, y).transform(X), copy.fit(X, y).transform(X))


def test_save_and_load_with_a_model_as_network(data, tmp_path):
    X, y = data
    model = frozen_model()
    embedder = SiameseEmbedder(network=model, n_components=4, epochs=1, random_state=0)
    embedder.fit(X, y)
    loaded = sksiamese.load(embedder.save(tmp_path / "e.sksiamese"))
    assert np.array_equal(loaded.transform(X), embedder.transform(X))
    assert same_weights(weights_of(loaded.network), weights_of(model))
    assert not loaded.network.trainable_weights
    # The loaded network trains as the original did.
    assert np.array_equal(clone(loaded).fit(X, y).transform(X), embedder.transform(X))


def test_warm_start_partial_fit_and_checkpoints_keep_frozen_weights(data, tmp_path):
    X, y = data
    model = frozen_model()
    frozen = weights_of(model)
    embedder = SiameseEmbedder(
        network=model, n_components=4, epochs=1, warm_start=True, checkpoint_dir=tmp_path
    )
    embedder.fit(X, y).fit(X, y)
    embedder.partial_fit(X[:100], y[:100])
    assert embedder.n_iter_ == 3
    assert same_weights(weights_of(embedder.encoder_.get_layer("backbone")), frozen)
    saved, history = read_checkpoint(tmp_path)
    assert [layer.name for layer in saved.layers] == [
        layer.name for layer in embedder.encoder_.layers
    ]
    assert same_weights(weights_of(saved), weights_of(embedder.encoder_))
    assert len(history["loss"]) == 3


def test_mixed_precision_with_a_frozen_backbone(data):
    X, y = data
    model = frozen_model()
    embedder = SiameseEmbedder(
        network=model, n_components=4, epochs=1, precision="mixed_bfloat16", random_state=0
    ).fit(X, y)
    backbone = embedder.encoder_.get_layer("backbone")
    assert backbone.get_layer("dense").compute_dtype == "bfloat16"
    assert same_weights(weights_of(backbone), weights_of(model))


@keras.saving.register_keras_serializable("sksiamese_tests")
class Subclassed(keras.Model):
    def __init__(self, units=6, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = keras.layers.Dense(units, activation="tanh")

    def call(self, rows):
        return self.dense(rows)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_subclassed_model_is_copied(data):
    X, y = data
    model = Subclassed(units=6)
    model(X[:1])
    model.set_weights([w + 0.05 for w in model.get_weights()])
    before = weights_of(model)
    embedder = SiameseEmbedder(network=model, n_components=6, epochs=1, random_state=0)
    embedder.fit(X, y)
    assert same_weights(weights_of(model), before)
    assert embedder.transform(X).shape == (len(X), 6)


def test_standardize_is_a_parameter(data):
    X, y = data
    network = functools.partial(build_mlp, hidden_units=(8,))

    def names(**params):
        embedder = SiameseEmbedder(n_components=4, epochs=1, **params).fit(X, y)
        return [layer.name for layer in embedder.encoder_.layers]

    assert "standardize" in names()
    assert "standardize" not in names(standardize=False)
    assert "standardize" not in names(network=network)
    assert "standardize" in names(network=network, standardize=True)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"init": "pretrained"}, InvalidParameterError, "'init' parameter"),
        ({"standardize": "yes"}, InvalidParameterError, "'standardize' parameter"),
        (
            {"network": keras.Sequential([keras.layers.Dense(3)])},
            TypeError,
            "no weights yet; build it",
        ),
        (
            {"network": pretrained_backbone(n_features=5)},
            ValueError,
            "cannot take rows of shape \\(64,\\)",
        ),
    ],
)
def test_bad_networks_and_parameters_are_refused(data, params, error, match):
    X, y = data
    with pytest.raises(error, match=match):
        SiameseEmbedder(epochs=1, **params).fit(X, y)


class Unconfigured(keras.Model):
    def __init__(self, units):
        super().__init__()
        self.dense = keras.layers.Dense(units)

    def call(self, rows):
        return self.dense(rows)


def test_a_subclassed_model_that_cannot_be_copied_is_refused(data):
    X, y = data
    model = Unconfigured(5)
    model(X[:1])
    with pytest.raises(TypeError, match="'unconfigured' cannot be copied") as error:
        SiameseEmbedder(network=model, epochs=1).fit(X, y)
    assert "must implement get_config()" in str(error.value)


def nested_frozen_network():
    """A network built from an Input around nested models: frozen conv and BN, a trainable top."""
    inner = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.BatchNormalization(name="norm"),
        ],
        name="inner",
    )
    block = keras.Sequential([keras.Input((8, 8, 1)), inner, keras.layers.ReLU()], name="block")
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.GlobalAveragePooling2D()(block(inputs))
    model = keras.Model(inputs, keras.layers.Dense(6, name="top")(hidden), name="user")
    model.set_weights([w + 0.25 for w in model.get_weights()])  # 'pretrained'
    for layer in model.layers[:-1]:
        layer.trainable = False
    return model


def test_frozen_layers_of_nested_networks_built_from_an_input_are_computed_once(data):
    # Keras records mask=None where a model calls a network built from an
    # Input: the network is still opened, at any depth, and its frozen
    # leading layers (batch normalisation in inference mode included) run
    # once per fit.
    X, y = data
    model = nested_frozen_network()
    frozen = weights_of(model.get_layer("block"))
    params = dict(network=model, input_shape=(8, 8, 1), n_components=6, epochs=2, random_state=0)
    with mock.patch("sksiamese._frozen.frozen_features", wraps=frozen_features) as spy:
        fast = SiameseEmbedder(**params).fit(X, y)
    assert spy.call_count == 1
    features_model = spy.call_args.args[0]
    assert features_model.output_shape == (None, 4)
    assert features_model.count_params() == model.get_layer("block").count_params()
    assert same_weights(weights_of(fast.encoder_.get_layer("user").get_layer("block")), frozen)
    with mock.patch("sksiamese._frozen.split_frozen", return_value=None):
        slow = SiameseEmbedder(**params).fit(X, y)
    np.testing.assert_allclose(fast.transform(X), slow.transform(X), atol=1e-3)


def test_frozen_layers_with_augmentation_warn_that_they_run_every_batch(data):
    X, y = data
    params = dict(network=nested_frozen_network(), input_shape=(8, 8, 1), n_components=6)
    with mock.patch("sksiamese._frozen.frozen_features", wraps=frozen_features) as spy:
        with pytest.warns(UserWarning, match=r"frozen.*augment=False.*mirrored_classes=False"):
            SiameseEmbedder(**params, epochs=1, augment=True, mirrored_classes=True).fit(X, y)
    assert spy.call_count == 0
