"""The shape of one row: inferred from ``X``, ``input_shape`` and the network, and checked.

The estimators take rows flat, ``(n_samples, n_features)``, or shaped,
``(n_samples, *row_shape)``, and validate them flat, as scikit-learn does;
the encoder takes rows of one shape. :func:`flatten_rows` keeps the shape an
n-d ``X`` had, :func:`row_shape` settles the shape the encoder takes, and
:func:`training_rows` turns validated flat rows into rows of that shape.
"""

import math
from numbers import Integral

import numpy as np

from ._rows import FLOAT32_MAX, abs_max, is_disk_backed, shaped_rows
from ._tensorflow import keras


def flatten_rows(X):
    """Flatten rows of an n-d ``X`` to 2-D, returning the rows' shape too (None for 2-D)."""
    if isinstance(X, (list, tuple)):
        X = np.asarray(X)
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) > 2:
        row_shape = tuple(int(size) for size in shape[1:])
        return np.reshape(X, (shape[0], math.prod(row_shape))), row_shape
    return X, None


def row_shape(n_features, nd_shape, *, input_shape, network):
    """Shape of one row for the encoder, checked against ``input_shape``.

    Parameters
    ----------
    n_features : int
        Number of values of one flat row.
    nd_shape : tuple of int or None
        Shape of one row of an n-d ``X``, None for a 2-D ``X``.
    input_shape : tuple of int or None
        The estimator's parameter: the shape asked for, if any.
    network : str, keras.Model or callable
        The estimator's parameter. ``"cnn"`` needs images and takes a
        2-tuple as one channel; a ``keras.Model`` lends its input's shape
        to flat rows of its size.

    Returns
    -------
    shape : tuple of int
        ``(n_features,)`` when nothing says otherwise.
    """
    shape = nd_shape
    if input_shape is not None:
        shape = tuple(input_shape)
        if not shape or not all(isinstance(size, Integral) and size > 0 for size in shape):
            raise ValueError(f"input_shape must be a tuple of positive ints, got {input_shape!r}.")
        if math.prod(shape) != n_features:
            raise ValueError(
                f"input_shape={shape} holds {math.prod(shape)} values per row "
                f"but X has {n_features} features."
            )
        if nd_shape is not None and not same_row_shape(nd_shape, shape):
            raise ValueError(f"X has rows of shape {nd_shape}; input_shape is {shape}.")
    elif shape is None and isinstance(network, keras.Model):
        # Flat rows take the shape of a model's input when it has one.
        model_shape = model_input_shape(network)
        if model_shape is not None and math.prod(model_shape) == n_features:
            shape = model_shape
    if isinstance(network, str) and network == "cnn":
        if shape is None:
            raise ValueError(
                "network='cnn' needs input_shape=(height, width, channels) to "
                "reshape rows of a 2-D X into images."
            )
        if len(shape) == 2:
            shape = (*shape, 1)
    return tuple(int(size) for size in shape) if shape else (n_features,)


def check_image_options(shape, *, augment, rotated_classes, mirrored_classes):
    """Raise a ValueError when an option turned on needs images and rows of ``shape`` are not.

    ``augment`` is the option in effect; ``rotated_classes`` and
    ``mirrored_classes`` are the parameters as given, since their default
    (None) turns them on only for rows they suit.
    """
    if augment and len(shape) != 3:
        raise ValueError(
            "augment=True transforms images; it needs rows of shape (height, width, "
            f"channels), got {shape}. Set input_shape."
        )
    if rotated_classes and not square_images(shape):
        raise ValueError(
            "rotated_classes=True turns images by quarter turns; it needs rows of "
            f"square images, shape (size, size, channels), got {shape}. "
            "Set input_shape or rotated_classes=False."
        )
    if mirrored_classes and len(shape) != 3:
        raise ValueError(
            "mirrored_classes=True mirrors images left to right; it needs rows of "
            f"shape (height, width, channels), got {shape}. "
            "Set input_shape or mirrored_classes=False."
        )


def check_test_time_shifts(shape, test_time_shifts):
    """Raise a ValueError when ``test_time_shifts`` cannot shift rows of ``shape``."""
    if not test_time_shifts:
        return
    if len(shape) != 3:
        raise ValueError(
            f"test_time_shifts={test_time_shifts} shifts images; it needs rows of shape "
            f"(height, width, channels), got {tuple(shape)}. Set input_shape or "
            "test_time_shifts=0."
        )
    if test_time_shifts >= min(shape[:2]):
        raise ValueError(
            f"test_time_shifts={test_time_shifts} would shift images of {shape[0]}x{shape[1]} "
            "pixels by their whole height or width; use a smaller value."
        )


def shift_offsets(test_time_shifts):
    """``(down, right)`` pixel offsets of an image and its test-time shifts; None for none."""
    if not test_time_shifts:
        return None
    return ((0, 0),) + tuple(
        offset
        for distance in range(1, test_time_shifts + 1)
        for offset in ((-distance, 0), (distance, 0), (0, -distance), (0, distance))
    )


def training_rows(X, shape):
    """Validated 2-D rows ``X`` as the encoder trains on them: rows of ``shape``.

    In-memory rows become float32; disk-backed rows stay as they are, to be
    read and converted batch by batch; sparse rows become float32 and stay
    sparse, to be densified batch by batch.
    """
    if X.dtype == np.float64 and abs_max(X) > FLOAT32_MAX:
        raise ValueError(
            "X holds values beyond float32's range (about 3.4e38 in magnitude); the "
            "network trains in float32. Rescale X."
        )
    if not is_disk_backed(X):
        X = X.astype(np.float32, copy=False)
    return shaped_rows(X, shape)


def square_images(shape):
    """Whether rows of ``shape`` are square images, ``(size, size, channels)``."""
    return len(shape) == 3 and shape[0] == shape[1]


def model_input_shape(model):
    """The row shape ``model`` takes, when it has one input of fully known shape."""
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):  # subclassed, or never built
        return None
    if not isinstance(shape, tuple) or not all(isinstance(size, int) for size in shape[1:]):
        return None
    return tuple(shape[1:])


def same_row_shape(given, expected):
    """Whether rows shaped ``given`` are ``expected``, up to one trailing channel axis."""
    return given in (expected, (*expected, 1)) or (*given, 1) == expected
