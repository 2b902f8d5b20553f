"""Distances between embeddings: the one table of them, by name.

Each entry holds the NumPy implementations that the metrics, the verifier and
the end-of-fit checks use, and the ``NearestNeighbors`` metric that ranks rows
in the same order. The TensorFlow implementations that training uses are
registered against the same names in :mod:`sksiamese.losses`; this module
imports no TensorFlow, so the metrics stay importable without it.

Margins are in the unit of the distance:

- ``"euclidean"``: ``||a - b||``; with unit-norm embeddings it lies in [0, 2].
- ``"sqeuclidean"``: ``||a - b||**2``; in [0, 4] for unit-norm embeddings.
- ``"cosine"``: ``1 - cos(a, b)``; in [0, 2] whatever the norms.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Distance:
    """One distance between embeddings.

    Attributes
    ----------
    name : str
        The value of the estimators' ``distance`` parameter.
    neighbors_metric : str
        The ``NearestNeighbors`` metric that ranks rows as this distance does.
    paired : callable
        ``paired(left, right)``: distances between matching rows of two
        arrays of shape ``(n, d)``, shape ``(n,)``.
    """

    name: str
    neighbors_metric: str
    paired: Callable


def _squared(left, right):
    return np.sum(np.square(left - right), axis=1)


def _euclidean(left, right):
    return np.sqrt(_squared(left, right))


def _cosine(left, right):
    def unit(rows):
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms > 0, norms, 1)

    return np.maximum(1.0 - np.sum(unit(left) * unit(right), axis=1), 0.0)


DISTANCES = {
    distance.name: distance
    for distance in (
        Distance("euclidean", "euclidean", _euclidean),
        Distance("sqeuclidean", "euclidean", _squared),
        Distance("cosine", "cosine", _cosine),
    )
}
