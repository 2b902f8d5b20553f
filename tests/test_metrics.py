"""Tests of sksiamese.metrics: retrieval, verification and scorers."""

import math
import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import FunctionTransformer

from sksiamese._evaluation import eer_point as _eer_point
from sksiamese.metrics import (
    equal_error_rate,
    few_shot_accuracy,
    make_embedding_scorer,
    make_tar_at_far_scorer,
    map_at_r_scorer,
    mean_average_precision_at_r,
    neg_equal_error_rate_scorer,
    precision_at_1,
    precision_at_1_scorer,
    r_precision,
    r_precision_scorer,
    recall_at_k,
    tar_at_far,
)

DISTANCES = ["euclidean", "sqeuclidean", "cosine"]
RETRIEVAL = [recall_at_k, r_precision, mean_average_precision_at_r, precision_at_1]

# Six points on a line, classes a a b b a b. With R = 2 for every query:
#   query  x    class  nearest other rows (class)         top R   AP@R          R-prec  hit@1 hit@2
#   0      0.0  a      1.0 a, 1.5 b, 3.7 b, 5.0 a, 6.0 b    a b    (1/1)/2 = 1/2  1/2     yes   yes
#   1      1.0  a      1.5 b, 0.0 a, 3.7 b, 5.0 a, 6.0 b    b a    (1/2)/2 = 1/4  1/2     no    yes
#   2      1.5  b      1.0 a, 0.0 a, 3.7 b, 5.0 a, 6.0 b    a a    0              0       no    no
#   3      3.7  b      5.0 a, 1.5 b, 6.0 b, 1.0 a, 0.0 a    a b    (1/2)/2 = 1/4  1/2     no    yes
#   4      5.0  a      6.0 b, 3.7 b, 1.5 b, 1.0 a, 0.0 a    b b    0              0       no    no
#   5      6.0  b      5.0 a, 3.7 b, 1.5 b, 1.0 a, 0.0 a    a b    (1/2)/2 = 1/4  1/2     no    yes
# MAP@R = (1/2 + 1/4 + 0 + 1/4 + 0 + 1/4) / 6 = 5/24; R-precision = 2/6;
# recall@1 = 1/6 and recall@2 = 4/6 from the last columns; query 2 finds its first b
# 3rd (recall@3 = 5/6) and query 4 its first a 4th (recall@4 = 1).
LINE = np.array([[0.0], [1.0], [1.5], [3.7], [5.0], [6.0]])
LINE_LABELS = np.array(["a", "a", "b", "b", "a", "b"])


def _distances(embeddings, distance):
    if distance == "cosine":
        unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
        return 1.0 - unit @ unit.T
    squared = np.sum((embeddings[:, None, :] - embeddings[None, :, :]) ** 2, axis=-1)
    return squared if distance == "sqeuclidean" else np.sqrt(squared)


def _brute_force(embeddings, labels, distance, k):
    """recall@k, R-precision and MAP@R straight from their definitions."""
    distances = _distances(embeddings, distance)
    found, r_precisions, average_precisions = [], [], []
    for query in range(len(labels)):
        others = np.delete(np.arange(len(labels)), query)
        order = others[np.argsort(distances[query, others], kind="stable")]
        relevant = labels[order] == labels[query]
        n_relevant = int(np.sum(labels == labels[query])) - 1
        if n_relevant == 0:
            continue
        found.append(relevant[:k].any())
        r_precisions.append(relevant[:n_relevant].sum() / n_relevant)
        total = 0.0
        for i in range(1, n_relevant + 1):
            if relevant[i - 1]:
                total += relevant[:i].sum() / i
        average_precisions.append(total / n_relevant)
    return np.mean(found), np.mean(r_precisions), np.mean(average_precisions)


@pytest.fixture(scope="module")
def digits_subset():
    X, y = load_digits(return_X_y=True)
    return X[:400], y[:400]


# Retrieval ------------------------------------------------------------------


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("seed", [0, 1])
def test_retrieval_metrics_match_brute_force(distance, seed):
    rng = np.random.default_rng(seed)
    # Uneven classes, one singleton (left out), overlapping clusters.
    labels = np.concatenate([np.repeat(np.arange(5), [3, 7, 12, 5, 9]), [5]])
    centres = rng.normal(0.0, 1.0, (6, 4))
    embeddings = centres[labels] + rng.normal(0.0, 0.9, (len(labels), 4))
    for k in [1, 3, 10]:
        recall, r_prec, map_r = _brute_force(embeddings, labels, distance, k)
        assert recall_at_k(embeddings, labels, k=k, distance=distance) == pytest.approx(recall)
    assert r_precision(embeddings, labels, distance=distance) == pytest.approx(r_prec)
    map_at_r = mean_average_precision_at_r(embeddings, labels, distance=distance)
    assert map_at_r == pytest.approx(map_r)
    # The data are neither perfect nor hopeless, so the comparison means something.
    assert 0.1 < map_r < r_prec < 0.95


def test_retrieval_metrics_by_hand_on_a_line():
    assert mean_average_precision_at_r(LINE, LINE_LABELS) == pytest.approx(5 / 24)
    assert r_precision(LINE, LINE_LABELS) == pytest.approx(2 / 6)
    assert [recall_at_k(LINE, LINE_LABELS, k=k) for k in range(1, 6)] == pytest.approx(
        [1 / 6, 4 / 6, 5 / 6, 1.0, 1.0]
    )
    assert precision_at_1(LINE, LINE_LABELS) == pytest.approx(1 / 6)
    # Labels of any type; the ranking, not the scale, matters.
    assert mean_average_precision_at_r(3 * LINE + 7, [0, 0, 1, 1, 0, 1]) == pytest.approx(5 / 24)


@pytest.mark.parametrize("distance", DISTANCES)
def test_perfect_clusters_score_one(distance):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), [2, 3, 5, 6])
    # Clusters along different directions, so cosine separates them as well.
    centres = 10.0 * np.eye(4)
    embeddings = centres[labels] + rng.normal(0.0, 0.1, (len(labels), 4))
    for metric in RETRIEVAL:
        assert metric(embeddings, labels, distance=distance) == 1.0
    assert recall_at_k(embeddings, labels, k=15, distance=distance) == 1.0


def test_map_at_r_rewards_order_that_r_precision_ignores():
    labels = ["a", "a", "a", "b", "b", "b"]
    # a at 0 1 30, b at 3 60 61. Top R = 2 of each query and AP@R:
    # a0: a b 1/2; a1: a b 1/2; a2: b a 1/4; b0: a a 0; b1: b a 1/2; b2: b a 1/2.
    first = np.array([[0.0], [1.0], [30.0], [3.0], [60.0], [61.0]])
    # a at 0 3 30, b at 1 60 61:
    # a0: b a 1/4; a1: b a 1/4; a2: a b 1/2; b0: a a 0; b1: b a 1/2; b2: b a 1/2.
    second = np.array([[0.0], [3.0], [30.0], [1.0], [60.0], [61.0]])
    # R-precision is 1/2 for every query but b0 in both.
    assert r_precision(first, labels) == r_precision(second, labels) == pytest.approx(2.5 / 6)
    assert mean_average_precision_at_r(first, labels) == pytest.approx(2.25 / 6)
    assert mean_average_precision_at_r(second, labels) == pytest.approx(2 / 6)


def test_recall_at_k_grows_with_k_and_starts_at_precision_at_1():
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(6), 8)
    embeddings = rng.normal(0.0, 1.0, (6, 3))[labels] + rng.normal(0.0, 1.2, (48, 3))
    recalls = [recall_at_k(embeddings, labels, k=k) for k in range(1, 48)]
    assert np.all(np.diff(recalls) >= 0)
    assert recalls[0] < recalls[-1] == 1.0
    for distance in DISTANCES:
        assert recall_at_k(embeddings, labels, k=1, distance=distance) == precision_at_1(
            embeddings, labels, distance=distance
        )


def test_singletons_are_left_out_of_retrieval_but_count_for_precision_at_1():
    embeddings = np.array([[0.0], [0.1], [5.0], [9.0]])
    labels = [0, 0, 1, 2]  # classes 1 and 2 are singletons
    assert recall_at_k(embeddings, labels) == 1.0
    assert r_precision(embeddings, labels) == 1.0
    assert mean_average_precision_at_r(embeddings, labels) == 1.0
    # Rows 0 and 1 find each other; the singleton rows 2 and 3 count as misses.
    assert precision_at_1(embeddings, labels) == 0.5
    # A singleton as nearest row is a miss for the others.
    assert recall_at_k([[0.0], [0.1], [0.05], [9.0]], labels, k=1) == 0.0
    assert recall_at_k([[0.0], [0.1], [0.05], [9.0]], labels, k=2) == 1.0


def test_float32_embeddings():
    embeddings = LINE.astype(np.float32)
    assert mean_average_precision_at_r(embeddings, LINE_LABELS) == pytest.approx(5 / 24)


@pytest.mark.parametrize("metric", RETRIEVAL)
def test_retrieval_input_errors(metric):
    with pytest.raises(ValueError, match="2-D array"):
        metric(np.arange(4.0), [0, 0, 1, 1])
    with pytest.raises(ValueError, match="different lengths: 4 and 3"):
        metric(np.zeros((4, 2)), [0, 0, 1])
    with pytest.raises(ValueError, match="labels must be a 1-D"):
        metric(np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        metric(np.zeros((1, 2)), [0])
    with pytest.raises(ValueError, match="'distance' parameter of .* must be a str among"):
        metric(np.zeros((4, 2)), [0, 0, 1, 1], distance="manhattan")
    with pytest.raises(TypeError, match="'labels' parameter of .* must be an array-like"):
        metric(np.zeros((4, 2)), 3)
    with pytest.raises(ValueError, match="NaN"):
        metric(np.array([[0.0], [np.nan], [1.0], [2.0]]), [0, 0, 1, 1])


@pytest.mark.parametrize("metric", [recall_at_k, r_precision, mean_average_precision_at_r])
def test_singleton_only_labels_are_an_error(metric):
    with pytest.raises(ValueError, match="every class in labels has a single row"):
        metric(np.arange(8.0).reshape(4, 2), [0, 1, 2, 3])


@pytest.mark.parametrize("k", [0, -1, 4, 10, 1.0, 2.5, True, "1", None])
def test_recall_at_k_rejects_bad_k(k):
    message = r"k must be an integer in \[1, n_samples - 1\] = \[1, 3\]"
    with pytest.raises(ValueError, match=message):
        recall_at_k(np.arange(8.0).reshape(4, 2), [0, 0, 1, 1], k=k)


def test_recall_at_k_accepts_numpy_integers():
    assert recall_at_k(LINE, LINE_LABELS, k=np.int64(2)) == pytest.approx(4 / 6)


# Episodes -------------------------------------------------------------------

# Three classes of three rows each, far apart: every episode is right.
EPISODE_POINTS = np.repeat([0.0, 10.0, 20.0], 3)[:, None]
EPISODE_LABELS = np.repeat(["a", "b", "c"], 3)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"n_way": 0},
            ValueError,
            "'n_way' parameter of few_shot_accuracy must be an int in "
            r"the range \[1, inf\)",
        ),
        ({"n_way": 2.0}, TypeError, "'n_way' parameter of few_shot_accuracy must be an int"),
        ({"n_shot": 0}, ValueError, "'n_shot' parameter of few_shot_accuracy must be an int"),
        (
            {"n_episodes": 0},
            ValueError,
            "'n_episodes' parameter of few_shot_accuracy must be an int",
        ),
        (
            {"distance": "manhattan"},
            ValueError,
            "'distance' parameter of few_shot_accuracy must be a str among",
        ),
        (
            {"random_state": "seed"},
            ValueError,
            "'random_state' parameter of few_shot_accuracy must be",
        ),
        (
            {"groups": np.zeros(8)},
            ValueError,
            r"groups must be a 1-D array of shape \(n_samples,\) = \(9,\).*got shape \(8,\)",
        ),
        ({"groups": np.zeros((9, 2))}, ValueError, r"got shape \(9, 2\)"),
        (
            {"groups": [0, 0, 1, 1, 1, 1, 2, 2, 2]},
            ValueError,
            "groups must give all rows of a class the same group",
        ),
    ],
)
def test_few_shot_accuracy_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        few_shot_accuracy(EPISODE_POINTS, EPISODE_LABELS, **{"n_way": 2, **kwargs})


def test_few_shot_accuracy_rejects_bad_rows():
    with pytest.raises(ValueError, match="different lengths: 9 and 8"):
        few_shot_accuracy(EPISODE_POINTS, EPISODE_LABELS[:8], n_way=2)
    with pytest.raises(ValueError, match="embeddings must be a 2-D array"):
        few_shot_accuracy(EPISODE_POINTS.ravel(), EPISODE_LABELS, n_way=2)
    with pytest.raises(ValueError, match="NaN"):
        few_shot_accuracy(np.full((9, 1), np.nan), EPISODE_LABELS, n_way=2)


# Verification ---------------------------------------------------------------


def _far_frr(y_true, y_score, threshold):
    y_true = np.asarray(y_true, dtype=bool)
    accepted = np.asarray(y_score) >= threshold
    return np.mean(accepted[~y_true]), np.mean(~accepted[y_true])


def test_eer_of_separated_and_reversed_scores():
    y_true = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.9])
    assert equal_error_rate(y_true, scores) == 0.0
    assert equal_error_rate(y_true, -scores) == 1.0
    assert equal_error_rate(y_true.astype(bool), scores) == 0.0
    eer, threshold = _eer_point(y_true, scores)
    assert (eer, threshold) == (0.0, 0.7)
    assert _far_frr(y_true, scores, threshold) == (0.0, 0.0)
    # Constant scores carry no information.
    assert equal_error_rate(y_true, np.zeros(5)) == 0.5


def test_eer_interpolates_between_roc_points():
    # Negatives 0.1 0.3 0.6, positives 0.5 0.8. Accepting >= 0.6: FAR 1/3, FRR 1/2;
    # accepting >= 0.5: FAR 1/3, FRR 0. FAR - FRR goes from -1/6 to +1/3, zero a third
    # of the way: EER = 1/3 and threshold = 0.6 + (0.5 - 0.6) / 3.
    y_true = [0, 0, 0, 1, 1]
    y_score = [0.1, 0.3, 0.6, 0.5, 0.8]
    eer, threshold = _eer_point(y_true, y_score)
    assert eer == pytest.approx(1 / 3)
    assert threshold == pytest.approx(0.6 - 0.1 / 3)
    # A tie of a negative and a positive at 0.5: the ROC jumps from (0, 1/2) to
    # (1/2, 1); FAR = FRR = 1/4 halfway, at threshold (0.9 + 0.5) / 2.
    eer, threshold = _eer_point([0, 1, 0, 1], [0.2, 0.5, 0.5, 0.9])
    assert eer == pytest.approx(0.25)
    assert threshold == pytest.approx(0.7)


def test_eer_lands_on_a_roc_point():
    # Accepting >= 0.6 gives FAR 1/2 and FRR 1/2 exactly.
    y_true = [0, 0, 1, 1]
    y_score = [0.1, 0.6, 0.4, 0.8]
    assert _eer_point(y_true, y_score) == (0.5, 0.6)
    assert _far_frr(y_true, y_score, 0.6) == (0.5, 0.5)


def test_eer_tie_at_the_top_gives_the_highest_score():
    # All pairs tie: the crossing lies between "accept none" and "accept all".
    eer, threshold = _eer_point([0, 1, 1], [2.0, 2.0, 2.0])
    assert eer == pytest.approx(0.5)
    assert threshold == 2.0


@pytest.mark.parametrize("seed", range(4))
def test_eer_agrees_with_a_threshold_scan(seed):
    rng = np.random.default_rng(seed)
    n_neg, n_pos = 700 + 100 * seed, 300
    y_true = np.r_[np.zeros(n_neg), np.ones(n_pos)].astype(int)
    # Rounded scores produce ties between and within the classes.
    y_score = np.round(np.r_[rng.normal(0, 1, n_neg), rng.normal(1.5, 1, n_pos)], 2)
    rates = np.array([_far_frr(y_true, y_score, t) for t in np.r_[np.unique(y_score), np.inf]])
    # Over all thresholds, max(FAR, FRR) >= EER >= min(FAR, FRR); with monotone rates the
    # bounds come from the two points around the crossing, where EER is interpolated.
    lower = np.max(np.min(rates, axis=1))
    upper = np.min(np.max(rates, axis=1))
    eer, threshold = _eer_point(y_true, y_score)
    assert lower <= eer <= upper
    assert upper - lower < 1e-2
    # The threshold splits at the EER: above it FAR <= EER <= FRR; at the next lower
    # score FAR >= EER >= FRR.
    far, frr = _far_frr(y_true, y_score, threshold)
    assert far <= eer + 1e-12 and frr >= eer - 1e-12
    next_score = np.max(y_score[y_score < threshold])
    far, frr = _far_frr(y_true, y_score, next_score)
    assert far >= eer - 1e-12 and frr <= eer + 1e-12
    assert min(y_score) <= threshold <= max(y_score)


def test_eer_of_gaussian_scores():
    # Unit-variance scores d apart: the EER is Phi(-d / 2).
    rng = np.random.default_rng(0)
    n = 20_000
    y_true = np.r_[np.zeros(n), np.ones(n)]
    y_score = np.r_[rng.normal(0, 1, n), rng.normal(2, 1, n)]
    expected = 0.5 * math.erfc(1 / math.sqrt(2))  # Phi(-1)
    eer, threshold = _eer_point(y_true, y_score)
    assert eer == pytest.approx(expected, abs=5e-3)
    assert threshold == pytest.approx(1.0, abs=5e-2)


def test_tar_at_far_by_hand():
    # Negatives 0.1 0.2 0.3 0.9, positives 0.4 0.5 0.8 0.95.
    # Accept >= 0.95: FAR 0, TAR 1/4. >= 0.9: FAR 1/4, TAR 1/4. >= 0.8: 1/4, 1/2.
    # >= 0.5: 1/4, 3/4. >= 0.4: 1/4, 1. >= 0.3: 1/2, 1.
    y_true = [0, 0, 0, 0, 1, 1, 1, 1]
    y_score = [0.1, 0.2, 0.3, 0.9, 0.4, 0.5, 0.8, 0.95]
    assert tar_at_far(y_true, y_score, far=1e-3) == 0.25
    assert tar_at_far(y_true, y_score, far=0.2) == 0.25
    assert tar_at_far(y_true, y_score, far=0.25) == 1.0
    assert tar_at_far(y_true, y_score, far=1.0) == 1.0
    assert tar_at_far(y_true, y_score) == 0.25
    # Negatives on top: nothing is accepted below FAR 1/2.
    assert tar_at_far([0, 0, 1, 1], [0.9, 0.8, 0.1, 0.2], far=0.4) == 0.0


def test_tar_at_far_is_monotone_in_far():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 500)
    y_score = np.round(rng.normal(y_true, 1.0), 1)
    fars = np.linspace(0.001, 1, 200)
    tars = [tar_at_far(y_true, y_score, far=far) for far in fars]
    assert np.all(np.diff(tars) >= 0)
    assert 0 < tars[0] < tars[100] < tars[-1] == 1.0


@pytest.mark.parametrize("metric", [equal_error_rate, tar_at_far, _eer_point])
def test_verification_input_errors(metric):
    with pytest.raises(ValueError, match="both matching and non-matching pairs; every label is 1"):
        metric([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="every label is False"):
        metric([False, False], [0.1, 0.2])
    with pytest.raises(ValueError, match="there are none"):
        metric([], [])
    with pytest.raises(ValueError, match="Got 2 pairs but 3 pair labels"):
        metric([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="1 .same. and 0 or -1 .different."):
        metric([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="1-D array"):
        metric([[0, 1]], [[0.1, 0.2]])
    with pytest.raises(ValueError, match="NaN"):
        metric([0, 1], [0.1, np.nan])


@pytest.mark.parametrize("far", [0, -0.1, 1.5, "0.1", None])
def test_tar_at_far_rejects_bad_far(far):
    message = r"'far' parameter of {} must be a float in the range \(0.0, 1.0\]"
    with pytest.raises(ValueError, match=message.format("tar_at_far")):
        tar_at_far([0, 1], [0.1, 0.2], far=far)
    with pytest.raises(ValueError, match=message.format("make_tar_at_far_scorer")):
        make_tar_at_far_scorer(far=far)


@pytest.mark.parametrize("metric", [equal_error_rate, tar_at_far])
def test_verification_arguments_must_be_array_like(metric):
    with pytest.raises(TypeError, match=f"'y_score' parameter of {metric.__name__} must be"):
        metric([0, 1], 0.5)


# Scorers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_pca(digits_subset):
    X, _ = digits_subset
    return PCA(n_components=2, random_state=0).fit(X)


@pytest.mark.parametrize(
    "scorer, metric",
    [
        (precision_at_1_scorer, precision_at_1),
        (r_precision_scorer, r_precision),
        (map_at_r_scorer, mean_average_precision_at_r),
    ],
)
def test_ready_made_scorers_score_the_embedding(fitted_pca, digits_subset, scorer, metric):
    X, y = digits_subset
    expected = metric(fitted_pca.transform(X), y)
    assert scorer(fitted_pca, X, y) == expected
    assert 0.1 < expected < 0.9
    assert repr(scorer) == f"make_embedding_scorer({metric.__name__})"


def test_embedding_scorer_passes_keywords(fitted_pca, digits_subset):
    X, y = digits_subset
    embeddings = fitted_pca.transform(X)
    scorer = make_embedding_scorer(recall_at_k, k=5)
    assert scorer(fitted_pca, X, y) == recall_at_k(embeddings, y, k=5)
    assert recall_at_k(embeddings, y, k=5) > recall_at_k(embeddings, y, k=1)
    assert repr(scorer) == "make_embedding_scorer(recall_at_k, k=5)"
    episodes = make_embedding_scorer(few_shot_accuracy, n_way=3, n_shot=1, random_state=0)
    assert repr(episodes) == (
        "make_embedding_scorer(few_shot_accuracy, n_way=3, n_shot=1, random_state=0)"
    )
    assert episodes(fitted_pca, X, y) == few_shot_accuracy(
        embeddings, y, n_way=3, n_shot=1, random_state=0
    )


def test_embedding_scorer_uses_the_estimator_distance(digits_subset):
    X, y = digits_subset
    estimator = PCA(n_components=3, random_state=0).fit(X)
    embeddings = estimator.transform(X)
    euclidean = mean_average_precision_at_r(embeddings, y)
    cosine = mean_average_precision_at_r(embeddings, y, distance="cosine")
    assert euclidean != pytest.approx(cosine)
    assert map_at_r_scorer(estimator, X, y) == euclidean
    estimator.distance = "cosine"
    assert map_at_r_scorer(estimator, X, y) == cosine
    # FrozenEstimator forwards the attribute.
    assert map_at_r_scorer(FrozenEstimator(estimator), X, y) == cosine
    # A distance given to the scorer wins.
    scorer = make_embedding_scorer(mean_average_precision_at_r, distance="euclidean")
    assert scorer(estimator, X, y) == euclidean

    # Metrics without a distance keyword get none.
    def count_rows(embeddings, labels):
        return float(len(labels))

    assert make_embedding_scorer(count_rows)(estimator, X, y) == len(y)


def test_embedding_scorer_pickles(fitted_pca, digits_subset):
    X, y = digits_subset
    scorer = make_embedding_scorer(recall_at_k, k=3)
    for original in [scorer, map_at_r_scorer, neg_equal_error_rate_scorer]:
        restored = pickle.loads(pickle.dumps(original))
        assert repr(restored) == repr(original)
    restored = pickle.loads(pickle.dumps(scorer))
    assert restored(fitted_pca, X, y) == scorer(fitted_pca, X, y)


def test_make_embedding_scorer_checks_its_arguments():
    message = "'metric' parameter of make_embedding_scorer must be a callable"
    with pytest.raises(TypeError, match=message):
        make_embedding_scorer("mean_average_precision_at_r")
    with pytest.raises(TypeError, match="do not fit"):
        make_embedding_scorer(recall_at_k, n_way=3)


def test_map_at_r_scorer_in_grid_search():
    X, y = load_digits(return_X_y=True)
    search = GridSearchCV(
        PCA(random_state=0), {"n_components": [2, 8]}, scoring=map_at_r_scorer, cv=2
    ).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.all((0 < scores) & (scores < 1))
    # Eight components keep the digits apart far better than two.
    assert search.best_params_ == {"n_components": 8}
    assert scores[1] > scores[0]


def test_grid_search_with_a_transformer_without_distance():
    X, y = load_digits(return_X_y=True)
    search = GridSearchCV(
        FunctionTransformer(),
        {"func": [None, np.sign]},
        scoring={
            "map": map_at_r_scorer,
            "episodes": make_embedding_scorer(
                few_shot_accuracy, n_way=3, n_shot=1, n_episodes=20, random_state=0
            ),
        },
        refit="map",
        cv=2,
    ).fit(X[:600], y[:600])
    assert np.all(np.isfinite(search.cv_results_["mean_test_map"]))
    assert np.all(np.isfinite(search.cv_results_["mean_test_episodes"]))


@pytest.fixture(scope="module")
def pair_scores():
    # Synthetic 1-D "scores": same pairs around 1, different pairs around -1.
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(150), np.ones(150)].astype(int)
    X = (2.0 * y - 1.0 + rng.normal(0, 1.0, len(y)))[:, None]
    return X, y


def test_neg_equal_error_rate_scorer_sign(pair_scores):
    X, y = pair_scores
    classifier = LogisticRegression().fit(X, y)
    eer = equal_error_rate(y, classifier.decision_function(X))
    assert 0.05 < eer < 0.4
    assert neg_equal_error_rate_scorer(classifier, X, y) == pytest.approx(-eer)
    # A classifier with the classes swapped has reversed decision values: worse.
    flipped = LogisticRegression().fit(X, 1 - y)
    assert neg_equal_error_rate_scorer(flipped, X, y) == pytest.approx(-(1 - eer))


def test_tar_at_far_scorer(pair_scores):
    X, y = pair_scores
    classifier = LogisticRegression().fit(X, y)
    scores = classifier.decision_function(X)
    for far in [0.01, 0.1, 0.5]:
        scorer = make_tar_at_far_scorer(far=far)
        assert scorer(classifier, X, y) == tar_at_far(y, scores, far=far)
    assert make_tar_at_far_scorer(0.1)(classifier, X, y) > 0.3
    assert "tar_at_far" in repr(make_tar_at_far_scorer())
    search = GridSearchCV(
        LogisticRegression(),
        {"C": [0.01, 1.0]},
        scoring={"eer": neg_equal_error_rate_scorer, "tar": make_tar_at_far_scorer(0.1)},
        refit="eer",
        cv=2,
    ).fit(X, y)
    assert np.all(search.cv_results_["mean_test_eer"] < 0)
    assert np.all(np.isfinite(search.cv_results_["mean_test_tar"]))


@pytest.mark.parametrize("metric", [equal_error_rate, tar_at_far])
def test_verification_metrics_accept_minus_one_for_different(metric):
    y_score = np.array([0.1, 0.4, 0.35, 0.8])
    assert metric([-1, -1, 1, 1], y_score) == metric([0, 0, 1, 1], y_score)
