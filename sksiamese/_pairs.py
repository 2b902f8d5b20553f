"""Pair arrays: their shape, and their same/different labels.

Pairs follow metric-learn's layout, an array of shape ``(n_pairs, 2,
n_features)`` or ``(n_pairs, 2, *input_shape)``. Estimators embed both members
of every pair in one pass over the stacked rows, pair ``i`` being rows
``2 * i`` and ``2 * i + 1``.
"""

import numpy as np
from sklearn.utils.validation import column_or_1d


def stack_pair_rows(pairs):
    """The rows of ``pairs`` stacked, shape ``(2 * n_pairs, ...)``.

    Raises a ValueError naming the expected layout when ``pairs`` is not an
    array of pairs.
    """
    if isinstance(pairs, (list, tuple)):
        pairs = np.asarray(pairs)
    shape = getattr(pairs, "shape", None)
    if shape is None or len(shape) < 3 or shape[1] != 2:
        got = f"shape {tuple(shape)}" if shape is not None else f"a {type(pairs).__name__}"
        raise ValueError(
            "pairs must be an array of shape (n_pairs, 2, n_features) or "
            f"(n_pairs, 2, *input_shape); got {got}."
        )
    if shape[0] == 0:
        raise ValueError("pairs holds no pair (shape (0, 2, ...)); at least one is needed.")
    return np.reshape(pairs, (2 * shape[0], *shape[2:]))


def check_pair_labels(same, n_pairs):
    """Pair labels as 0/1 codes, and the label values they were given as.

    Labels mark a matching pair with 1 (or True) and a non-matching one with
    0, False or -1, as metric-learn does. Both kinds must be present.

    Returns
    -------
    codes : ndarray of shape (n_pairs,), int
        1 for matching pairs, 0 for the others.
    classes : ndarray of shape (2,)
        The two label values, non-matching first.
    """
    if same is None:
        raise ValueError(
            "Pair labels are required: 1 (same) and 0 or -1 (different) for each pair; got None."
        )
    same = column_or_1d(same, warn=True)
    if len(same) != n_pairs:
        raise ValueError(f"Got {n_pairs} pairs but {len(same)} pair labels.")
    classes = np.unique(same)
    numeric = same.dtype.kind in "biuf"
    values = set(classes.tolist()) if numeric else set()
    if not numeric or not (values <= {0, 1} or values <= {-1, 1}):
        shown = ", ".join(repr(value) for value in classes[:5].tolist())
        raise ValueError(
            "Pair labels must be 1 (same) and 0 or -1 (different), or booleans; "
            f"got the values {shown}{', ...' if len(classes) > 5 else ''}."
        )
    if len(classes) < 2:
        held = f"every label is {classes.tolist()[0]!r}" if len(classes) else "there are none"
        raise ValueError(f"Pair labels need both matching and non-matching pairs; {held}.")
    return (same == classes[1]).astype(np.int32), classes
