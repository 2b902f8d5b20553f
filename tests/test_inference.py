"""Batched inference: a row's embedding does not depend on where it sits in a batch."""

import keras
import numpy as np
import pytest

from sksiamese._encoder import assemble_encoder
from sksiamese._inference import EncoderRunner


def encoder(n_components, normalize=True):
    keras.utils.set_random_seed(0)
    body = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(6)])
    return assemble_encoder(body, (5,), n_components, normalize=normalize)


ROWS = np.random.default_rng(0).normal(size=(37, 5)).astype(np.float32)


def test_one_component_embeddings_are_exactly_plus_or_minus_one_in_any_order():
    # TensorFlow's float32 rsqrt rounds differently in vector lanes and in a
    # batch's tail: 1.0000001 at one position, 1.0 at another.
    runner = EncoderRunner(encoder(1))
    embedded = runner(ROWS)
    assert set(np.unique(embedded)) <= {-1.0, 1.0}
    for seed in range(20):
        order = np.random.default_rng(seed).permutation(len(ROWS))
        np.testing.assert_array_equal(runner(ROWS[order]), embedded[order])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalised_embeddings_are_the_encoder_s_to_rounding(dtype):
    model = encoder(3)
    embedded = EncoderRunner(model, chunk_size=8)(ROWS, dtype)
    assert embedded.dtype == dtype
    np.testing.assert_allclose(embedded, model(ROWS).numpy(), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(embedded, axis=1), 1.0, atol=1e-7)


def test_an_encoder_without_normalisation_is_run_whole():
    model = encoder(3, normalize=False)
    runner = EncoderRunner(model)
    assert runner._body is None
    np.testing.assert_allclose(runner(ROWS), model(ROWS).numpy(), atol=1e-6)
    assert not np.allclose(np.linalg.norm(runner(ROWS), axis=1), 1.0)
