"""The shape of one row: inference from X, input_shape and the network, and its checks."""

import numpy as np
import pytest
import scipy.sparse

from sksiamese._rows import SparseRows, is_disk_backed
from sksiamese._shapes import (
    check_image_options,
    flatten_rows,
    model_input_shape,
    row_shape,
    same_row_shape,
    square_images,
    training_rows,
)
from sksiamese._tensorflow import keras


def test_flatten_rows_keeps_the_shape_of_nd_rows_and_leaves_2d_rows_alone():
    images = np.arange(2 * 3 * 4 * 1).reshape(2, 3, 4, 1)
    flat, shape = flatten_rows(images)
    assert shape == (3, 4, 1)
    np.testing.assert_array_equal(flat, images.reshape(2, 12))

    nested = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    flat, shape = flatten_rows(nested)
    assert shape == (2, 2)
    np.testing.assert_array_equal(flat, [[1, 2, 3, 4], [5, 6, 7, 8]])

    table = np.ones((5, 3))
    assert flatten_rows(table)[0] is table and flatten_rows(table)[1] is None
    sparse = scipy.sparse.csr_matrix(table)
    assert flatten_rows(sparse) == (sparse, None)


def test_row_shape_without_a_hint_is_flat_or_the_shape_of_x():
    assert row_shape(6, None, input_shape=None, network="mlp") == (6,)
    assert row_shape(6, (2, 3), input_shape=None, network="mlp") == (2, 3)


def test_row_shape_follows_input_shape_and_checks_it():
    assert row_shape(12, None, input_shape=[3, 4], network="mlp") == (3, 4)
    # An n-d X may add or drop one trailing channel axis.
    assert row_shape(12, (3, 4, 1), input_shape=(3, 4), network="mlp") == (3, 4)
    with pytest.raises(ValueError, match=r"input_shape=\(4, 4\) holds 16 values per row but X"):
        row_shape(12, None, input_shape=(4, 4), network="mlp")
    with pytest.raises(ValueError, match=r"X has rows of shape \(4, 3\); input_shape is \(3, 4\)"):
        row_shape(12, (4, 3), input_shape=(3, 4), network="mlp")
    for bad in [(), (3, 0), (3.0, 4)]:
        with pytest.raises(ValueError, match="input_shape must be a tuple of positive ints"):
            row_shape(12, None, input_shape=bad, network="mlp")


def test_the_cnn_needs_images_and_takes_a_pair_as_one_channel():
    assert row_shape(64, None, input_shape=(8, 8), network="cnn") == (8, 8, 1)
    assert row_shape(64, (8, 8), input_shape=None, network="cnn") == (8, 8, 1)
    assert row_shape(48, (4, 4, 3), input_shape=None, network="cnn") == (4, 4, 3)
    with pytest.raises(ValueError, match=r"network='cnn' needs input_shape=\(height, width"):
        row_shape(64, None, input_shape=None, network="cnn")


def test_flat_rows_take_the_input_shape_of_a_model_of_their_size():
    inputs = keras.Input(shape=(4, 3))
    model = keras.Model(inputs, keras.layers.Flatten()(inputs))
    assert model_input_shape(model) == (4, 3)
    assert row_shape(12, None, input_shape=None, network=model) == (4, 3)
    # Rows of another size keep their own shape, for the model to refuse.
    assert row_shape(10, None, input_shape=None, network=model) == (10,)
    # input_shape wins over the model's.
    assert row_shape(12, None, input_shape=(12,), network=model) == (12,)


def test_a_model_without_a_fully_known_input_shape_lends_none():
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    assert model_input_shape(unbuilt) is None
    inputs = keras.Input(shape=(None, 3))
    ragged = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    assert model_input_shape(ragged) is None
    assert row_shape(5, None, input_shape=None, network=unbuilt) == (5,)


def test_same_row_shape_allows_one_trailing_channel_axis_either_way():
    assert same_row_shape((3, 4), (3, 4))
    assert same_row_shape((3, 4, 1), (3, 4))
    assert same_row_shape((3, 4), (3, 4, 1))
    assert not same_row_shape((4, 3), (3, 4))
    assert not same_row_shape((3, 4, 2), (3, 4))


def test_square_images_are_three_dimensional_with_equal_sides():
    assert square_images((5, 5, 1))
    assert not square_images((5, 6, 1))
    assert not square_images((5, 5))


def test_image_options_refuse_rows_that_are_not_images():
    check_image_options((5, 5, 1), augment=True, rotated_classes=True, mirrored_classes=True)
    check_image_options((7,), augment=False, rotated_classes=None, mirrored_classes=None)
    with pytest.raises(ValueError, match=r"augment=True .* got \(7,\)\. Set input_shape\."):
        check_image_options((7,), augment=True, rotated_classes=None, mirrored_classes=None)
    with pytest.raises(ValueError, match=r"rotated_classes=True .* got \(5, 6, 1\)"):
        check_image_options((5, 6, 1), augment=True, rotated_classes=True, mirrored_classes=None)
    with pytest.raises(ValueError, match=r"mirrored_classes=True .* got \(5, 6\)"):
        check_image_options((5, 6), augment=False, rotated_classes=None, mirrored_classes=True)


def test_training_rows_are_float32_in_the_row_shape():
    X = np.arange(12, dtype=np.float64).reshape(2, 6)
    rows = training_rows(X, (3, 2))
    assert rows.dtype == np.float32 and rows.shape == (2, 3, 2)
    np.testing.assert_array_equal(rows, X.reshape(2, 3, 2))
    sparse = training_rows(scipy.sparse.csr_matrix(X), (6,))
    assert isinstance(sparse, SparseRows) and sparse.dtype == np.float32
    np.testing.assert_array_equal(sparse[[1]], X[[1]])


def test_training_rows_beyond_float32_are_refused():
    X = np.array([[1.0, 1e39], [0.0, 1.0]])
    with pytest.raises(ValueError, match="beyond float32's range"):
        training_rows(X, (2,))


def test_disk_backed_training_rows_are_not_read(tmp_path):
    path = tmp_path / "rows.npy"
    np.save(path, np.arange(12, dtype=np.int16).reshape(4, 3))
    X = np.load(path, mmap_mode="r")
    rows = training_rows(X, (3,))
    # Read batch by batch later, in their own dtype.
    assert rows.dtype == np.int16 and is_disk_backed(rows)
    np.testing.assert_array_equal(rows, X)
