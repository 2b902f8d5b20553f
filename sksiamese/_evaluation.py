"""Checks and computations shared by :mod:`sksiamese.metrics` and the estimators.

The estimators use them without importing private names of a public module;
like the metrics, this module imports no TensorFlow.
"""

import numpy as np
from sklearn.metrics import roc_curve
from sklearn.utils import check_array

from ._pairs import check_pair_labels


def check_groups(groups, labels):
    """``groups`` as an array with one group per row, and one group per class."""
    groups = np.asarray(groups)
    if groups.shape != labels.shape:
        raise ValueError(
            f"groups must be a 1-D array of shape (n_samples,) = ({len(labels)},), one "
            f"group per row; got shape {groups.shape}."
        )
    classes, class_index = np.unique(labels, return_inverse=True)
    _, group_index = np.unique(groups, return_inverse=True)
    class_groups = np.unique(np.column_stack([class_index, group_index]), axis=0)
    if len(class_groups) != len(classes):
        raise ValueError(
            "groups must give all rows of a class the same group (e.g. the alphabet "
            "of each character); some classes have rows in several groups."
        )
    return groups


def check_pairs(y_true, y_score):
    """Validate pair labels (1 same; 0, False or -1 different) and scores.

    Returns the labels as 0/1 codes and the scores as a float array.
    """
    y_score = np.asarray(y_score)
    if y_score.ndim != 1:
        raise ValueError(
            f"y_score must be a 1-D array of shape (n_pairs,); got shape {y_score.shape}."
        )
    y_true, _ = check_pair_labels(y_true, len(y_score))
    y_score = check_array(y_score, ensure_2d=False, dtype="numeric", input_name="y_score")
    return y_true.astype(np.int64), y_score


def roc_counts(y_true, y_score):
    """ROC points as counts: false accepts, true accepts, thresholds, n_neg, n_pos.

    Every distinct score is a point (no intermediate point dropped), so
    false and true accepts never both stay unchanged from one point to the
    next.
    """
    fpr, tpr, thresholds = roc_curve(y_true, y_score, drop_intermediate=False)
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    false_accepts = np.rint(fpr * n_neg).astype(np.int64)
    true_accepts = np.rint(tpr * n_pos).astype(np.int64)
    return false_accepts, true_accepts, thresholds, n_neg, n_pos


def eer_point(y_true, y_score):
    """Equal error rate and the score threshold where it occurs.

    The ROC curve from ``sklearn.metrics.roc_curve`` (every distinct score a
    point) is walked until the false accept rate minus the false reject
    rate turns non-negative; between that point and the one before, both
    the rate and the threshold are interpolated linearly to where the
    difference is zero. A pair is accepted as "same" when its score is
    ``>= threshold``. Where the crossing lies between the first ROC point
    (no pair accepted, threshold +inf) and the next, the threshold is the
    highest score.

    Parameters
    ----------
    y_true : array-like of shape (n_pairs,)
        1 (or True) for same-class pairs, 0 (or False) for different ones;
        both must occur.
    y_score : array-like of shape (n_pairs,)
        Scores, higher for more alike pairs.

    Returns
    -------
    eer : float
        In [0, 1].
    threshold : float
        Score threshold at the equal error rate.
    """
    y_true, y_score = check_pairs(y_true, y_score)
    false_accepts, true_accepts, thresholds, n_neg, n_pos = roc_counts(y_true, y_score)
    # n_neg * n_pos * (FAR - FRR), exact in integers; strictly increasing
    # from -n_neg * n_pos at the first point to +n_neg * n_pos at the last.
    gap = false_accepts * n_pos + true_accepts * n_neg - n_pos * n_neg
    j = int(np.argmax(gap >= 0))
    if gap[j] == 0:
        return float(false_accepts[j] / n_neg), float(thresholds[j])
    alpha = -gap[j - 1] / (gap[j] - gap[j - 1])
    eer = (false_accepts[j - 1] + alpha * (false_accepts[j] - false_accepts[j - 1])) / n_neg
    upper, lower = thresholds[j - 1], thresholds[j]
    threshold = upper + alpha * (lower - upper) if np.isfinite(upper) else lower
    return float(eer), float(threshold)
