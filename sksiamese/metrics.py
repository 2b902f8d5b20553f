"""Metrics and scorers for embeddings and pair verification.

Retrieval
    :func:`precision_at_1`, :func:`recall_at_k`, :func:`r_precision` and
    :func:`mean_average_precision_at_r` rank, for every row of an embedding,
    all other rows by distance (leave-one-out) and check how many of the
    nearest share its class. R-precision and MAP@R are the metrics Musgrave,
    Belongie & Lim (2020) recommend for comparing metric-learning methods.

Episodes
    :func:`few_shot_accuracy`: mean accuracy of N-way K-shot episodes with a
    nearest-neighbour rule, the protocol of one-shot learning papers.

Verification
    :func:`equal_error_rate` and :func:`tar_at_far` judge scores of pairs
    (higher means more alike) against whether the pairs are the same class.

Scorers
    :func:`make_embedding_scorer` turns a retrieval or episode metric into a
    ``scoring`` callable for ``GridSearchCV`` that embeds ``X`` with the
    estimator's ``transform``; ``precision_at_1_scorer``,
    ``r_precision_scorer`` and ``map_at_r_scorer`` are ready-made ones.
    ``neg_equal_error_rate_scorer`` and :func:`make_tar_at_far_scorer` score
    pair classifiers through their ``decision_function``.

The module needs only NumPy and scikit-learn.
"""

import inspect
from numbers import Integral, Real

import numpy as np
from sklearn.metrics import make_scorer, pairwise_distances, roc_curve
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_array, check_random_state

from ._compat import Interval, StrOptions, validate_params
from ._distances import DISTANCES
from ._evaluation import check_groups, check_pairs, eer_point

__all__ = [
    "NEIGHBOR_METRICS",
    "dir_at_far",
    "dir_far_curve",
    "equal_error_rate",
    "few_shot_accuracy",
    "make_dir_at_far_scorer",
    "make_embedding_scorer",
    "make_tar_at_far_scorer",
    "map_at_r_scorer",
    "mean_average_precision_at_r",
    "neg_equal_error_rate_scorer",
    "precision_at_1",
    "precision_at_1_scorer",
    "r_precision",
    "r_precision_scorer",
    "recall_at_k",
    "tar_at_far",
]

#: For each training distance, the ``NearestNeighbors`` metric that ranks rows
#: like it.
NEIGHBOR_METRICS = {name: distance.neighbors_metric for name, distance in DISTANCES.items()}


# Retrieval ------------------------------------------------------------------


# Constraints of the arguments the public functions share, for validate_params.
_RETRIEVAL_PARAMS = {
    "embeddings": ["array-like"],
    "labels": ["array-like"],
    "distance": [StrOptions(set(NEIGHBOR_METRICS))],
}
_PAIR_PARAMS = {"y_true": ["array-like"], "y_score": ["array-like"]}
_FAR = [Interval(Real, 0, 1, closed="right")]


def _check_retrieval_input(embeddings, labels):
    """Validate embeddings and labels; return them as arrays."""
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2:
        raise ValueError(
            "embeddings must be a 2-D array of shape (n_samples, n_components); "
            f"got an array of shape {embeddings.shape}."
        )
    embeddings = check_array(embeddings, dtype="numeric", input_name="embeddings")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(
            f"labels must be a 1-D array of shape (n_samples,); got shape {labels.shape}."
        )
    if len(labels) != len(embeddings):
        raise ValueError(
            f"embeddings and labels have different lengths: {len(embeddings)} and {len(labels)}."
        )
    if len(labels) < 2:
        raise ValueError(
            f"Retrieval needs at least 2 samples to find neighbours; got {len(labels)}."
        )
    return embeddings, labels


def _neighbor_hits(embeddings, labels, distance, *, n_neighbors=None, skip_singletons=True):
    """Leave-one-out neighbour hits of every query row.

    Parameters
    ----------
    embeddings, labels : ndarray
        Validated by :func:`_check_retrieval_input`.
    distance : str
        A key of ``NEIGHBOR_METRICS``.
    n_neighbors : int, default=None
        How many nearest other rows to rank; None ranks as many as the
        largest class has other rows (the largest R).
    skip_singletons : bool, default=True
        Leave out queries that are alone in their class (R = 0); raise a
        ValueError when that leaves none.

    Returns
    -------
    hits : ndarray of shape (n_queries, n_neighbors), dtype bool
        Whether the j-th nearest other row of each query has its class, in
        ``NearestNeighbors`` order (which breaks ties deterministically).
    n_relevant : ndarray of shape (n_queries,)
        R: the number of other rows of each query's class.
    """
    metric = NEIGHBOR_METRICS[distance]
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    n_relevant = counts[inverse.ravel()] - 1
    queries = n_relevant > 0 if skip_singletons else np.ones(len(labels), dtype=bool)
    if not queries.any():
        raise ValueError(
            "No query has another row of its class: every class in labels has a "
            "single row, so there is nothing to retrieve."
        )
    if n_neighbors is None:
        n_neighbors = int(n_relevant.max())
    search = NearestNeighbors(n_neighbors=n_neighbors, metric=metric).fit(embeddings)
    # kneighbors() without rows leaves each row out of its own neighbours.
    _, nearest = search.kneighbors()
    hits = labels[nearest] == labels[:, None]
    return hits[queries], n_relevant[queries]


def _hits_within_r(embeddings, labels, distance):
    """Hits among the R nearest other rows of each query with R > 0."""
    hits, n_relevant = _neighbor_hits(embeddings, labels, distance)
    ranks = np.arange(1, hits.shape[1] + 1)
    return hits & (ranks <= n_relevant[:, None]), n_relevant


@validate_params(_RETRIEVAL_PARAMS, prefer_skip_nested_validation=True)
def precision_at_1(embeddings, labels, *, distance="euclidean"):
    """Fraction of rows whose nearest other row has the same label.

    This is leave-one-out 1-nearest-neighbour accuracy: the few-shot
    recognition a ``KNeighborsClassifier(1)`` on the embedding achieves.
    Every row counts, a row alone in its class as a miss; when every class
    has at least two rows it equals ``recall_at_k(..., k=1)``.

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
    embeddings, labels = _check_retrieval_input(embeddings, labels)
    hits, _ = _neighbor_hits(embeddings, labels, distance, n_neighbors=1, skip_singletons=False)
    return float(np.mean(hits[:, 0]))


# k's upper bound depends on the number of rows: recall_at_k checks it.
@validate_params({**_RETRIEVAL_PARAMS, "k": "no_validation"}, prefer_skip_nested_validation=True)
def recall_at_k(embeddings, labels, *, k=1, distance="euclidean"):
    """Fraction of queries with a same-class row among their k nearest.

    Each row in turn is the query and all other rows are ranked by distance
    to it. This is the "Recall@K" of metric-learning papers since Song et
    al. (2016), not the recall of information retrieval: a query counts as
    found when any one of its ``k`` nearest other rows has its class. For
    ``k=1`` it equals :func:`precision_at_1` when every class has at least
    two rows. Queries alone in their class are left out.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_components)
        Embedded rows; at least two.
    labels : array-like of shape (n_samples,)
        Their classes; at least one class needs two rows.
    k : int, default=1
        Neighbours to look at; ``1 <= k < n_samples``.
    distance : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
        Distance between embeddings.

    Returns
    -------
    recall : float
        In [0, 1], higher is better; weakly increasing in ``k``.

    References
    ----------
    .. [1] H. O. Song, Y. Xiang, S. Jegelka and S. Savarese, "Deep Metric
       Learning via Lifted Structured Feature Embedding", CVPR 2016.
    .. [2] K. Musgrave, S. Belongie and S.-N. Lim, "A Metric Learning
       Reality Check", ECCV 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.metrics import recall_at_k
    >>> points = np.array([[0.0], [1.0], [1.5], [3.7], [5.0], [6.0]])
    >>> labels = ["a", "a", "b", "b", "a", "b"]
    >>> recall_at_k(points, labels, k=1), recall_at_k(points, labels, k=2)
    (0.16666666666666666, 0.6666666666666666)
    """
    embeddings, labels = _check_retrieval_input(embeddings, labels)
    if isinstance(k, bool) or not isinstance(k, Integral) or not 1 <= k < len(labels):
        raise ValueError(
            f"k must be an integer in [1, n_samples - 1] = [1, {len(labels) - 1}]; got {k!r}."
        )
    hits, _ = _neighbor_hits(embeddings, labels, distance, n_neighbors=int(k))
    return float(np.mean(hits.any(axis=1)))


@validate_params(_RETRIEVAL_PARAMS, prefer_skip_nested_validation=True)
def r_precision(embeddings, labels, *, distance="euclidean"):
    """Mean fraction of same-class rows among each query's R nearest.

    Each row in turn is the query; R is the number of other rows of its
    class, and the score of the query is the fraction of its R nearest other
    rows that share its class. Queries alone in their class are left out.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_components)
        Embedded rows; at least two.
    labels : array-like of shape (n_samples,)
        Their classes; at least one class needs two rows.
    distance : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
        Distance between embeddings.

    Returns
    -------
    precision : float
        In [0, 1], higher is better.

    See Also
    --------
    mean_average_precision_at_r : Also rewards the order of the R nearest.

    References
    ----------
    .. [1] K. Musgrave, S. Belongie and S.-N. Lim, "A Metric Learning
       Reality Check", ECCV 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.metrics import r_precision
    >>> points = np.array([[0.0], [1.0], [1.5], [3.7], [5.0], [6.0]])
    >>> r_precision(points, ["a", "a", "b", "b", "a", "b"])
    0.3333333333333333
    """
    embeddings, labels = _check_retrieval_input(embeddings, labels)
    hits, n_relevant = _hits_within_r(embeddings, labels, distance)
    return float(np.mean(hits.sum(axis=1) / n_relevant))


@validate_params(_RETRIEVAL_PARAMS, prefer_skip_nested_validation=True)
def mean_average_precision_at_r(embeddings, labels, *, distance="euclidean"):
    """MAP@R: mean average precision over each query's R nearest rows.

    Each row in turn is the query; R is the number of other rows of its
    class. Its average precision at R is

    .. math:: \\mathrm{AP@R} = \\frac{1}{R} \\sum_{i=1}^{R} P(i)\\, \\mathrm{rel}(i),

    where ``rel(i)`` is 1 when the i-th nearest other row has the query's
    class and 0 otherwise, and ``P(i)`` is the fraction of same-class rows
    among the i nearest. Unlike :func:`r_precision` it rewards ranking the
    same-class rows first. Queries alone in their class are left out.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_components)
        Embedded rows; at least two.
    labels : array-like of shape (n_samples,)
        Their classes; at least one class needs two rows.
    distance : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
        Distance between embeddings.

    Returns
    -------
    map_at_r : float
        In [0, 1], higher is better; at most :func:`r_precision`.

    References
    ----------
    .. [1] K. Musgrave, S. Belongie and S.-N. Lim, "A Metric Learning
       Reality Check", ECCV 2020.

    Examples
    --------
    Query 0 ranks a, b first (AP@R = 1/2), query 1 ranks b, a (1/4):

    >>> import numpy as np
    >>> from sksiamese.metrics import mean_average_precision_at_r
    >>> points = np.array([[0.0], [1.0], [1.5], [3.7], [5.0], [6.0]])
    >>> labels = ["a", "a", "b", "b", "a", "b"]
    >>> round(mean_average_precision_at_r(points, labels), 4)
    0.2083
    """
    embeddings, labels = _check_retrieval_input(embeddings, labels)
    hits, n_relevant = _hits_within_r(embeddings, labels, distance)
    ranks = np.arange(1, hits.shape[1] + 1)
    precision = np.cumsum(hits, axis=1) / ranks
    return float(np.mean(np.sum(precision * hits, axis=1) / n_relevant))


# Episodes -------------------------------------------------------------------


@validate_params(
    {
        **_RETRIEVAL_PARAMS,
        "n_way": [Interval(Integral, 1, None, closed="left")],
        "n_shot": [Interval(Integral, 1, None, closed="left")],
        "n_episodes": [Interval(Integral, 1, None, closed="left")],
        "groups": ["array-like", None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
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
    embeddings, labels = _check_retrieval_input(embeddings, labels)
    groups = np.zeros(len(labels)) if groups is None else check_groups(groups, labels)
    rng = check_random_state(random_state)
    classes, counts = np.unique(labels, return_counts=True)
    eligible = classes[counts > n_shot]
    class_group = {c: groups[labels == c][0] for c in eligible}
    pools = [[c for c in eligible if class_group[c] == g] for g in np.unique(groups)]
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


# Verification ---------------------------------------------------------------


@validate_params(_PAIR_PARAMS, prefer_skip_nested_validation=True)
def equal_error_rate(y_true, y_score):
    """Equal error rate (EER) of pair scores: where false accepts equal false rejects.

    The false accept rate (FPR) and false reject rate (1 - TPR) of the
    rule "same when score >= threshold" move in opposite directions as the
    threshold falls; the EER is their common value where the two cross,
    interpolated linearly between the two neighbouring points of the ROC
    curve. Lower is better: 0 when a threshold separates the pairs
    perfectly, 0.5 for uninformative scores, 1 for perfectly reversed ones.

    Parameters
    ----------
    y_true : array-like of shape (n_pairs,)
        1 (or True) for same-class pairs, 0 (or False) for different ones;
        both must occur.
    y_score : array-like of shape (n_pairs,)
        Scores, higher for more alike pairs (e.g. a negated distance).

    Returns
    -------
    eer : float
        In [0, 1], lower is better.

    See Also
    --------
    tar_at_far : True accept rate at a fixed false accept rate.

    Examples
    --------
    The ROC curve passes from (FAR, TAR) = (0, 0.5) at threshold 0.9 to
    (0.5, 1) at threshold 0.5; FAR = 1 - TAR halfway between:

    >>> from sksiamese.metrics import equal_error_rate
    >>> equal_error_rate([0, 1, 0, 1], [0.2, 0.5, 0.5, 0.9])
    0.25
    >>> equal_error_rate([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.8])
    0.0
    """
    return eer_point(y_true, y_score)[0]


@validate_params({**_PAIR_PARAMS, "far": _FAR}, prefer_skip_nested_validation=True)
def tar_at_far(y_true, y_score, *, far=1e-3):
    """True accept rate at a fixed false accept rate.

    The true accept rate (TPR) at the largest point of the ROC curve (every
    distinct score a point) whose false accept rate (FPR) is at most
    ``far``: the share of same-class pairs a verifier accepts when it may
    wrongly accept at most a fraction ``far`` of different-class pairs.
    Face verification reports it at FAR = 1e-3 or lower.

    Parameters
    ----------
    y_true : array-like of shape (n_pairs,)
        1 (or True) for same-class pairs, 0 (or False) for different ones;
        both must occur.
    y_score : array-like of shape (n_pairs,)
        Scores, higher for more alike pairs.
    far : float, default=1e-3
        Largest false accept rate allowed, in (0, 1]. Resolving it needs at
        least ``1 / far`` different-class pairs.

    Returns
    -------
    tar : float
        In [0, 1], higher is better; non-decreasing in ``far``.

    See Also
    --------
    equal_error_rate : Where false accepts and false rejects balance.

    Examples
    --------
    Accepting scores >= 0.95 accepts no different pair and 1 of 4 same
    pairs; accepting scores >= 0.4 accepts 1 of 4 different pairs and all
    same pairs:

    >>> from sksiamese.metrics import tar_at_far
    >>> y_true = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> y_score = [0.1, 0.2, 0.3, 0.9, 0.4, 0.5, 0.8, 0.95]
    >>> tar_at_far(y_true, y_score, far=0.1), tar_at_far(y_true, y_score, far=0.25)
    (0.25, 1.0)
    """
    y_true, y_score = check_pairs(y_true, y_score)
    fpr, tpr, _ = roc_curve(y_true, y_score, drop_intermediate=False)
    # fpr is non-decreasing and starts at 0, so the point exists.
    last = np.searchsorted(fpr, far, side="right") - 1
    return float(tpr[last]) if last >= 0 else 0.0


# Scorers --------------------------------------------------------------------


def _accepts_distance(metric):
    try:
        return "distance" in inspect.signature(metric).parameters
    except (TypeError, ValueError):
        return False


class _EmbeddingScorer:
    """``scorer(estimator, X, y)``: a metric on ``estimator.transform(X)``."""

    def __init__(self, metric, kwargs):
        self.metric = metric
        self.kwargs = kwargs

    def __call__(self, estimator, X, y):
        kwargs = dict(self.kwargs)
        if "distance" not in kwargs and _accepts_distance(self.metric):
            kwargs["distance"] = getattr(estimator, "distance", "euclidean")
        return float(self.metric(estimator.transform(X), y, **kwargs))

    def __repr__(self):
        name = getattr(self.metric, "__name__", repr(self.metric))
        args = "".join(f", {key}={value!r}" for key, value in self.kwargs.items())
        return f"make_embedding_scorer({name}{args})"


@validate_params({"metric": [callable]}, prefer_skip_nested_validation=True)
def make_embedding_scorer(metric, **kwargs):
    """Make a ``GridSearchCV`` scorer from a metric on embeddings.

    The scorer embeds ``X`` with the estimator's ``transform`` and returns
    ``metric(embeddings, y, **kwargs)``. When ``metric`` takes a
    ``distance`` keyword and ``kwargs`` gives none, the scorer uses the
    estimator's ``distance`` attribute (``"euclidean"`` where it has none),
    so each candidate of a search is scored in the distance it was trained
    for. Higher must be better, as for every metric of this module's
    retrieval and episode groups.

    Parameters
    ----------
    metric : callable
        ``metric(embeddings, labels, **kwargs) -> float``, e.g.
        :func:`mean_average_precision_at_r` or :func:`few_shot_accuracy`.
        Define it at module level so the scorer can be pickled.
    **kwargs
        Further keyword arguments of ``metric``, such as ``k`` or ``n_way``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``; picklable.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sksiamese.metrics import make_embedding_scorer, recall_at_k
    >>> scorer = make_embedding_scorer(recall_at_k, k=2)
    >>> scorer
    make_embedding_scorer(recall_at_k, k=2)
    >>> X = np.array([[0.0], [0.1], [5.0], [5.2]])
    >>> scorer(FunctionTransformer().fit(X), X, [0, 0, 1, 1])
    1.0
    """
    try:
        inspect.signature(metric).bind_partial(None, None, **kwargs)
    except ValueError:  # no signature to check against
        pass
    except TypeError as error:
        raise TypeError(f"Arguments {kwargs} do not fit {metric!r}: {error}") from None
    return _EmbeddingScorer(metric, kwargs)


@validate_params({"far": _FAR}, prefer_skip_nested_validation=True)
def make_tar_at_far_scorer(far=1e-3):
    """Make a scorer of :func:`tar_at_far` for pair classifiers.

    The scorer rates the pairs with the estimator's ``decision_function``;
    higher is better.

    Parameters
    ----------
    far : float, default=1e-3
        Largest false accept rate allowed, in (0, 1].

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, from
        ``sklearn.metrics.make_scorer``.

    Examples
    --------
    >>> from sksiamese.metrics import make_tar_at_far_scorer
    >>> make_tar_at_far_scorer(far=0.01)
    make_scorer(tar_at_far, response_method='decision_function', far=0.01)
    """
    return make_scorer(tar_at_far, response_method="decision_function", far=far)


#: Embedding scorer: :func:`precision_at_1` of ``estimator.transform(X)``, in
#: the estimator's ``distance``.
precision_at_1_scorer = make_embedding_scorer(precision_at_1)
#: Embedding scorer: :func:`r_precision` of ``estimator.transform(X)``, in the
#: estimator's ``distance``.
r_precision_scorer = make_embedding_scorer(r_precision)
#: Embedding scorer: MAP@R (:func:`mean_average_precision_at_r`) of
#: ``estimator.transform(X)``, in the estimator's ``distance``.
map_at_r_scorer = make_embedding_scorer(mean_average_precision_at_r)

#: Pair-classifier scorer: minus the :func:`equal_error_rate` of
#: ``estimator.decision_function(X)``, so that higher is better.
neg_equal_error_rate_scorer = make_scorer(
    equal_error_rate, greater_is_better=False, response_method="decision_function"
)


# Open-set identification ----------------------------------------------------
#
# A gallery answers each query (probe) with an enrolled identity and a score.
# Mated probes come from enrolled identities and should be identified;
# non-mated ones (impostors) from others and should be rejected. At a score
# threshold t, the detection and identification rate (DIR) is the share of
# mated probes answered with their own identity and scoring >= t; the false
# accept rate (FAR) the share of non-mated probes scoring >= t (Phillips et
# al., "Face Recognition Vendor Test 2002"; the open-set protocol of IJB-C).


def _open_set_points(mated, hits, y_score):
    """FAR, DIR and thresholds at every distinct score, highest threshold first."""
    order = np.argsort(-y_score, kind="stable")
    scores = y_score[order]
    # The last probe of each run of equal scores: accepting it accepts the run.
    ends = np.r_[np.flatnonzero(scores[1:] != scores[:-1]), len(scores) - 1]
    false_accepts = np.r_[0, np.cumsum(~mated[order])[ends]]
    detections = np.r_[0, np.cumsum(hits[order])[ends]]
    far = false_accepts / np.count_nonzero(~mated)
    dir_ = detections / np.count_nonzero(mated)
    return far, dir_, np.r_[np.inf, scores[ends]]


def _check_open_set(mated, hits, y_score):
    """Validate scores against the probes; both kinds of probe must occur."""
    y_score = np.asarray(y_score)
    if y_score.ndim != 1 or len(y_score) != len(mated):
        raise ValueError(
            f"y_score must be a 1-D array with one score per probe ({len(mated)}); got "
            f"shape {y_score.shape}."
        )
    y_score = check_array(y_score, ensure_2d=False, dtype="numeric", input_name="y_score")
    if mated.all() or not mated.any():
        raise ValueError(
            "DIR at FAR needs mated probes (of enrolled identities) and non-mated ones "
            f"(impostors); all {len(mated)} probes are "
            f"{'mated' if mated.all() else 'non-mated'}."
        )
    return y_score


def _open_set_probes(y_true, y_pred, y_score, unknown_label):
    y_true, y_pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    if y_true.ndim != 1 or y_pred.shape != y_true.shape:
        raise ValueError(
            "y_true and y_pred must be 1-D arrays of the same length; got shapes "
            f"{y_true.shape} and {y_pred.shape}."
        )
    mated = y_true != unknown_label
    hits = mated & (y_pred == y_true)
    return mated, hits, _check_open_set(mated, hits, y_score)


_OPEN_SET_PARAMS = {
    "y_true": ["array-like"],
    "y_pred": ["array-like"],
    "y_score": ["array-like"],
    "unknown_label": "no_validation",
}


@validate_params(_OPEN_SET_PARAMS, prefer_skip_nested_validation=True)
def dir_far_curve(y_true, y_pred, y_score, *, unknown_label=-1):
    """Detection and identification rate against false accept rate, at every threshold.

    The open-set counterpart of a ROC curve: each point is a score
    threshold t, with the share of non-mated probes scoring ``>= t`` (FAR)
    and the share of mated probes both identified correctly and scoring
    ``>= t`` (DIR). A wrongly identified mated probe never counts, however
    high its score, so DIR ends at the rank-1 identification rate, not 1.

    Parameters
    ----------
    y_true : array-like of shape (n_probes,)
        The identity of each probe, or ``unknown_label`` for probes of
        identities not enrolled (non-mated); both kinds must occur.
    y_pred : array-like of shape (n_probes,)
        The identity each probe was answered with, before any rejection
        (e.g. ``GalleryClassifier.predict`` with neither ``far`` nor
        ``threshold`` set).
    y_score : array-like of shape (n_probes,)
        How sure each answer is, higher for surer (e.g.
        ``GalleryClassifier.score_samples``).
    unknown_label : object, default=-1
        The label marking non-mated probes in ``y_true``.

    Returns
    -------
    far : ndarray of shape (n_thresholds,)
        False accept rates, non-decreasing from 0 to 1.
    dir : ndarray of shape (n_thresholds,)
        Detection and identification rates, non-decreasing from 0.
    thresholds : ndarray of shape (n_thresholds,)
        The score thresholds, decreasing from ``inf``: a probe is accepted
        when its score is ``>= threshold``.

    See Also
    --------
    dir_at_far : DIR at one false accept rate.
    sksiamese.GalleryClassifier : Open-set identification.

    Examples
    --------
    >>> from sksiamese.metrics import dir_far_curve
    >>> far, dir_, thresholds = dir_far_curve(
    ...     [1, 2, -1, -1], [1, 1, 2, 1], [0.9, 0.8, 0.85, 0.2]
    ... )
    >>> far.tolist(), dir_.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 0.5, 0.5])
    """
    return _open_set_points(*_open_set_probes(y_true, y_pred, y_score, unknown_label))


@validate_params({**_OPEN_SET_PARAMS, "far": _FAR}, prefer_skip_nested_validation=True)
def dir_at_far(y_true, y_pred, y_score, *, far=1e-2, unknown_label=-1):
    """Detection and identification rate at a false accept rate (DIR@FAR).

    The measure of open-set identification: the share of mated probes (of
    enrolled identities) answered with their own identity and accepted,
    at the lowest score threshold that accepts at most a fraction ``far``
    of the non-mated probes (of identities not enrolled). The point of
    :func:`dir_far_curve` as :func:`tar_at_far` is of the ROC curve.

    Parameters
    ----------
    y_true : array-like of shape (n_probes,)
        The identity of each probe, or ``unknown_label`` for non-mated
        probes; both kinds must occur.
    y_pred : array-like of shape (n_probes,)
        The identity each probe was answered with, before any rejection.
    y_score : array-like of shape (n_probes,)
        How sure each answer is, higher for surer.
    far : float, default=1e-2
        Largest false accept rate allowed, in (0, 1]. Resolving it needs at
        least ``1 / far`` non-mated probes.
    unknown_label : object, default=-1
        The label marking non-mated probes in ``y_true``.

    Returns
    -------
    dir : float
        In [0, 1], higher is better; at most the rank-1 identification rate
        of the mated probes, non-decreasing in ``far``.

    See Also
    --------
    dir_far_curve : DIR and FAR at every threshold.
    make_dir_at_far_scorer : The scorer for ``GridSearchCV``.

    Examples
    --------
    Probe 1 is misidentified. Accepting scores >= 0.9 accepts no impostor
    and one of four mated probes correctly; >= 0.7 accepts one impostor of
    four and two mated probes correctly:

    >>> from sksiamese.metrics import dir_at_far
    >>> y_true = [1, 1, 2, 2, -1, -1, -1, -1]
    >>> y_pred = [1, 2, 2, 2, 1, 2, 1, 2]
    >>> y_score = [0.9, 0.8, 0.7, 0.3, 0.85, 0.4, 0.2, 0.1]
    >>> dir_at_far(y_true, y_pred, y_score, far=0.1), dir_at_far(y_true, y_pred, y_score, far=0.25)
    (0.25, 0.5)
    """
    far_points, dir_points, _ = dir_far_curve(y_true, y_pred, y_score, unknown_label=unknown_label)
    # far_points is non-decreasing and starts at 0, so the point exists.
    return float(dir_points[np.searchsorted(far_points, far, side="right") - 1])


class _DIRAtFARScorer:
    """``scorer(estimator, X, y)``: DIR@FAR of a classifier's answers and scores on ``X``."""

    def __init__(self, far):
        self.far = far

    def __call__(self, estimator, X, y):
        y = np.asarray(y)
        mated = np.isin(y, estimator.classes_)
        hits = mated & (estimator.predict(X) == y)
        y_score = _check_open_set(mated, hits, estimator.score_samples(X))
        far_points, dir_points, _ = _open_set_points(mated, hits, y_score)
        return float(dir_points[np.searchsorted(far_points, self.far, side="right") - 1])

    def __repr__(self):
        return f"make_dir_at_far_scorer(far={self.far!r})"


@validate_params({"far": _FAR}, prefer_skip_nested_validation=True)
def make_dir_at_far_scorer(far=1e-2):
    """Make a scorer of :func:`dir_at_far` for open-set classifiers.

    The scorer answers the rows ``X`` with the estimator's ``predict``
    and scores them with its ``score_samples`` (higher for surer), as
    :class:`~sksiamese.GalleryClassifier` does, also at the end of a
    :class:`~sklearn.pipeline.Pipeline`. Rows whose label in ``y`` is an
    enrolled identity (in the estimator's ``classes_``) are mated probes;
    the others are impostors. A split must leave both kinds among the
    rows scored, e.g. a ``ShuffleSplit`` of identities with few rows each.

    A gallery that rejects queries itself (``far`` or ``threshold`` set)
    answers ``unknown_label`` to the ones it rejects, which count as
    misses: the score is then DIR at the stricter of the two thresholds.
    Score galleries without their own threshold to compare embeddings.

    Parameters
    ----------
    far : float, default=1e-2
        Largest false accept rate allowed, in (0, 1].

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``; higher is better; picklable.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese import GalleryClassifier
    >>> from sksiamese.metrics import make_dir_at_far_scorer
    >>> scorer = make_dir_at_far_scorer(far=0.5)
    >>> gallery = GalleryClassifier().fit([[0.0], [10.0]], ["a", "b"])
    >>> scorer(gallery, np.array([[0.5], [9.0], [4.0], [20.0]]), ["a", "b", "c", "d"])
    1.0
    """
    return _DIRAtFARScorer(far)
