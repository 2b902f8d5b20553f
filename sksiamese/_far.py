"""The reject threshold that meets a target false accept rate, from impostor distances.

A gallery calibrates ``far`` on impostor queries of its own: each an enrolled
row matched against the rows of every *other* identity. Their distances stand
for those of strangers, with two corrections that keep the rate reached on
real strangers at the rate asked for, whatever the size of the gallery:

- A stranger is accepted when it comes close to any of the gallery's ``N``
  identities; an impostor query, with its own identity left out, had only
  ``N - 1`` chances. If each identity accepts a stranger independently with
  probability ``p``, the stranger's rate is ``1 - (1 - p)^N`` and the
  impostors' ``1 - (1 - p)^(N - 1)``: the impostors are held to
  ``1 - (1 - far)^((N - 1) / N)``. On a gallery of 20 identities at
  ``far=0.1`` that is 0.095.
- A new stranger's distance falls below the ``j``-th smallest of ``n``
  impostor distances with probability ``j / (n + 1)`` (all ``n + 1`` are
  exchangeable), so the threshold sits at position ``far' * (n + 1)`` of the
  sorted distances, interpolated between neighbouring ones. Taking the
  ``floor(far * n)``-th distance instead, the largest that accepts at most
  ``far`` of the impostors, falls short by up to one impostor: a rate well
  below ``far`` on small galleries.
"""

import warnings

import numpy as np

# Fewer impostor distances below the threshold than this make the rate
# reached too uncertain to promise: its relative standard error is about
# 1 / sqrt(of them), here above 30%.
MIN_SUPPORTING_IMPOSTORS = 10


def impostor_rate(far, n_identities):
    """The rate to hold impostor queries (``N - 1`` identities each) to for ``far`` on ``N``."""
    if n_identities < 2:
        return far
    return -np.expm1((n_identities - 1) / n_identities * np.log1p(-far))


def far_of_impostor_rate(rate, n_identities):
    """The inverse of :func:`impostor_rate`: the ``far`` an impostor rate promises."""
    if n_identities < 2:
        return rate
    return -np.expm1(n_identities / (n_identities - 1) * np.log1p(-rate))


def threshold_at_far(impostor_distances, far, n_identities):
    """The reject threshold (a distance) at which about ``far`` of strangers are accepted.

    Parameters
    ----------
    impostor_distances : ndarray of shape (n_impostors,)
        Each impostor query's distance to its voted identity among the
        ``n_identities - 1`` others; infinite where it has none.
    far : float in (0, 1)
        The false accept rate asked for.
    n_identities : int
        Identities in the gallery.

    Returns
    -------
    threshold : float
        Queries at this distance or closer are accepted.

    Warns
    -----
    UserWarning
        When fewer than ``MIN_SUPPORTING_IMPOSTORS`` impostor distances fall
        below the threshold: the rate reached on strangers is then too
        uncertain, and the message says which ``far`` the sample supports.
    """
    distances = np.sort(np.asarray(impostor_distances, dtype=np.float64))
    n = len(distances)
    rate = impostor_rate(far, n_identities)
    supporting = rate * n
    if supporting < MIN_SUPPORTING_IMPOSTORS:
        supported = far_of_impostor_rate(min(1.0, MIN_SUPPORTING_IMPOSTORS / n), n_identities)
        warnings.warn(
            f"far={far} is supported by {supporting:.1f} impostor queries (of the {n} that "
            f"calibrate it, each an enrolled row matched against the other identities): "
            f"fewer than {MIN_SUPPORTING_IMPOSTORS}, so the false accept rate reached on "
            f"strangers is uncertain. This gallery supports far >= {supported:.3g}; enrol "
            "more identities or rows, or raise far.",
            UserWarning,
            stacklevel=3,
        )
    # The threshold at 1-based position far' * (n + 1) of the sorted distances,
    # interpolated between neighbouring ones. Each run of equal distances sits
    # at its last position: a threshold at that distance accepts the whole
    # run. (With one row per identity, mutual nearest rows give pairs of
    # equal distances; placing them at their first position would accept a
    # pair more than far asks for.)
    finite = distances[np.isfinite(distances)]
    if len(finite) == 0:
        return np.inf
    values, last_positions = np.unique(finite, return_index=True)
    last_positions = np.append(last_positions[1:], len(finite))  # 1-based ends of the runs
    return float(np.interp(rate * (n + 1), last_positions, values))
