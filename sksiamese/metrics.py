"""Retrieval metrics for embeddings."""

import numpy as np
from sklearn.neighbors import NearestNeighbors

# The neighbour search metric that ranks rows like each training distance.
NEIGHBOR_METRICS = {"euclidean": "euclidean", "sqeuclidean": "euclidean", "cosine": "cosine"}


def precision_at_1(embeddings, labels, *, distance="euclidean"):
    """Fraction of rows whose nearest other row has the same label.

    This is leave-one-out 1-nearest-neighbour accuracy: the few-shot
    recognition a ``KNeighborsClassifier(1)`` on the embedding achieves.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_components)
        Embedded rows; at least two.
    labels : array-like of shape (n_samples,)
        Their classes.
    distance : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
        Distance between embeddings.

    Returns
    -------
    precision : float
        In [0, 1], higher is better.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.metrics import precision_at_1
    >>> precision_at_1(np.array([[0.0], [0.1], [5.0], [5.2]]), [0, 0, 1, 1])
    1.0
    """
    embeddings = np.asarray(embeddings)
    labels = np.asarray(labels)
    search = NearestNeighbors(n_neighbors=1, metric=NEIGHBOR_METRICS[distance])
    # kneighbors() without rows leaves each row out of its own neighbours.
    _, nearest = search.fit(embeddings).kneighbors()
    return float(np.mean(labels[nearest[:, 0]] == labels))
