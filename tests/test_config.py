"""The training configuration: every "auto" and None of the parameters, settled once."""

import pytest

from sksiamese import SiameseEmbedder
from sksiamese._config import TrainingConfig


def config(input_shape=(64,), *, paired=False, incremental=False, **params):
    return TrainingConfig.from_params(
        SiameseEmbedder(**params).get_params(deep=False),
        input_shape=input_shape,
        paired=paired,
        incremental=incremental,
    )


def test_defaults_for_the_mlp():
    settled = config()
    assert settled.encoder.input_shape == (64,) and settled.encoder.standardize
    assert settled.encoder.policy == "float32" and settled.encoder.n_components == 32
    assert settled.learning_rate == 1e-3
    assert not (settled.augment or settled.rotated_classes or settled.mirrored_classes)
    assert settled.validation_fraction is None and settled.epochs == 20
    assert settled.callbacks == () and not settled.resume and settled.verbose == 0


def test_the_cnn_turns_on_its_image_defaults_for_square_images():
    square = config((28, 28, 1), network="cnn")
    assert square.learning_rate == 3e-3
    assert square.augment and square.rotated_classes and square.mirrored_classes
    wide = config((28, 32, 1), network="cnn")
    assert wide.mirrored_classes and not wide.rotated_classes


def test_pairs_are_never_turned_nor_mirrored():
    paired = config((28, 28, 1), paired=True, network="cnn", rotated_classes=True)
    assert paired.paired and paired.augment
    assert not (paired.rotated_classes or paired.mirrored_classes)


def test_partial_fit_trains_one_epoch_without_early_stopping():
    settled = config(incremental=True, epochs=7, early_stopping=True, validation_fraction=0.2)
    assert settled.epochs == 1 and settled.validation_fraction is None
    assert config(early_stopping=True, validation_fraction=0.2).validation_fraction == 0.2


@pytest.mark.parametrize("network", ["mlp", "cnn"])
def test_given_values_win_over_auto(network):
    settled = config(
        (8, 8, 1),
        network=network,
        learning_rate=0.05,
        standardize=False,
        augment=False,
        mirrored_classes=False,
        rotated_classes=False,
        verbose=5,
        margin=1,
        warm_start=True,
        callbacks=[],
    )
    assert settled.learning_rate == 0.05 and not settled.encoder.standardize
    assert not (settled.augment or settled.rotated_classes or settled.mirrored_classes)
    # Keras takes verbose 0, 1 or 2; the margin is kept as written, for messages.
    assert settled.verbose == 2 and settled.objective.margin == 1 and settled.resume


def test_a_users_network_gets_rows_as_given():
    def builder(input_shape, n_components):  # pragma: no cover - never called here
        raise AssertionError

    settled = config(network=builder)
    assert settled.encoder.network is builder and not settled.encoder.standardize


def test_the_configuration_is_frozen():
    with pytest.raises(AttributeError):
        config().epochs = 3
