"""Retrieval metrics for embeddings."""

import numpy as np
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state

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


def few_shot_accuracy(
    embeddings,
    labels,
    *,
    n_way,
    n_shot=1,
    n_episodes=100,
    groups=None,
    distance="euclidean",
    random_state=None,
):
    """Mean accuracy of N-way K-shot episodes with a nearest-neighbour rule.

    Each episode draws ``n_way`` classes, ``n_shot`` support rows and one
    query row per class; each query gets the class of its nearest support
    row. With ``groups`` (e.g. the alphabet of each character), all classes
    of an episode come from one group, as in Lake et al.'s Omniglot
    protocol.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_components)
        Embedded rows (or raw features, for a baseline).
    labels : array-like of shape (n_samples,)
        Their classes; every class used needs ``n_shot + 1`` rows.
    n_way, n_shot, n_episodes : int
        Classes per episode, support rows per class, number of episodes.
    groups : array-like of shape (n_samples,), default=None
        Draw each episode's classes from one group; groups with fewer than
        ``n_way`` eligible classes are skipped.
    distance : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
        Distance between rows.
    random_state : int, RandomState instance or None, default=None
        Seeds the episodes.

    Returns
    -------
    accuracy : float
        In [0, 1]; chance is ``1 / n_way``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.metrics import few_shot_accuracy
    >>> points = np.repeat(np.arange(5.0), 3)[:, None]
    >>> few_shot_accuracy(points, np.repeat(np.arange(5), 3), n_way=5, random_state=0)
    1.0
    """
    embeddings = np.asarray(embeddings)
    labels = np.asarray(labels)
    groups = np.zeros(len(labels)) if groups is None else np.asarray(groups)
    rng = check_random_state(random_state)
    classes, counts = np.unique(labels, return_counts=True)
    eligible = classes[counts > n_shot]
    class_group = {c: groups[labels == c][0] for c in eligible}
    pools = [
        [c for c in eligible if class_group[c] == g] for g in np.unique(groups)
    ]
    pools = [pool for pool in pools if len(pool) >= n_way]
    if not pools:
        raise ValueError(f"No group has {n_way} classes with at least {n_shot + 1} rows.")
    correct = 0
    for _ in range(n_episodes):
        pool = pools[rng.randint(len(pools))]
        chosen = rng.choice(len(pool), n_way, replace=False)
        support, query = [], []
        for way in chosen:
            rows = rng.permutation(np.flatnonzero(labels == pool[way]))
            support.append(rows[:n_shot])
            query.append(rows[n_shot])
        support = np.concatenate(support)
        distances = pairwise_distances(
            embeddings[query], embeddings[support], metric=NEIGHBOR_METRICS[distance]
        )
        predicted = labels[support][distances.argmin(axis=1)]
        correct += np.sum(predicted == labels[query])
    return float(correct / (n_episodes * n_way))
