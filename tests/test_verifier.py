"""SiameseVerifier and training from pairs: SiameseEmbedder.fit_pairs."""

import copy
import pickle
from unittest import mock

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import (
    DetCurveDisplay,
    RocCurveDisplay,
    accuracy_score,
    f1_score,
    log_loss,
    roc_auc_score,
)
from sklearn.metrics.pairwise import paired_distances as sklearn_paired_distances
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError

from sksiamese import SiameseEmbedder, SiameseVerifier
from sksiamese._verifier import _calibrated_threshold
from sksiamese.datasets import make_pairs
from sksiamese.metrics import equal_error_rate, neg_equal_error_rate_scorer


def small_pair_model(**params):
    return SiameseEmbedder(**{"loss": "contrastive", "n_components": 16, "epochs": 3, **params})


@pytest.fixture(scope="module")
def digit_pairs(digits):
    """Training pairs from the first 1000 digits, test pairs from the rest."""
    X, y = digits
    train = make_pairs(X[:1000], y[:1000], 2000, random_state=0)
    test = make_pairs(X[1000:], y[1000:], 1000, random_state=1)
    return train, test


@pytest.fixture(scope="module")
def verifier(digit_pairs):
    (pairs, same), _ = digit_pairs
    return SiameseVerifier(small_pair_model(), random_state=0).fit(pairs, same)


# Training from pairs ---------------------------------------------------------


def test_pair_model_beats_raw_pixel_distance(verifier, digit_pairs):
    _, (pairs, same) = digit_pairs
    raw_auc = roc_auc_score(same, -np.linalg.norm(pairs[:, 0] - pairs[:, 1], axis=1))
    auc = roc_auc_score(same, verifier.decision_function(pairs))
    assert raw_auc < 0.9 and auc > 0.96
    assert verifier.score(pairs, same) > 0.88


def test_fit_pairs_sets_fitted_attributes_without_classes(digit_pairs):
    (pairs, same), _ = digit_pairs
    embedder = small_pair_model(epochs=2, random_state=0).fit_pairs(pairs[:300], same[:300])
    assert embedder.n_features_in_ == 64 and embedder.input_shape_ == (64,)
    assert embedder.n_iter_ == 2 and len(embedder.history_["loss"]) == 2
    assert not hasattr(embedder, "classes_")
    assert embedder.transform(pairs[:5, 0]).shape == (5, 16)


def test_fit_pairs_is_reproducible_and_warm_starts(digit_pairs):
    (pairs, same), _ = digit_pairs
    first = small_pair_model(epochs=2, random_state=3).fit_pairs(pairs[:300], same[:300])
    second = small_pair_model(epochs=2, random_state=3).fit_pairs(pairs[:300], same[:300])
    np.testing.assert_array_equal(first.transform(pairs[:20, 0]), second.transform(pairs[:20, 0]))
    assert first.history_ == second.history_
    second.set_params(warm_start=True).fit_pairs(pairs[:300], same[:300])
    assert second.n_iter_ == 4 and second.history_["loss"][:2] == first.history_["loss"]


def test_fit_pairs_early_stopping_holds_out_pairs(digit_pairs):
    (pairs, same), _ = digit_pairs
    embedder = small_pair_model(epochs=3, early_stopping=True, random_state=0)
    embedder.fit_pairs(pairs[:400], same[:400])
    assert len(embedder.history_["val_loss"]) == embedder.n_iter_


def test_fit_pairs_on_image_pairs():
    rng = np.random.default_rng(0)
    images = rng.random((60, 2, 8, 8, 1)).astype(np.float32)
    same = np.arange(60) % 2
    embedder = SiameseEmbedder(
        network="cnn",
        input_shape=(8, 8, 1),
        loss="contrastive",
        n_components=4,
        epochs=1,
        random_state=0,
    ).fit_pairs(images, same)
    assert embedder.transform(images[:, 0]).shape == (60, 4)


def test_fit_pairs_needs_the_contrastive_loss(digit_pairs):
    (pairs, same), _ = digit_pairs
    with mock.patch("sksiamese._engine.train") as train:
        with pytest.raises(ValueError, match="loss='contrastive'"):
            SiameseEmbedder().fit_pairs(pairs[:50], same[:50])
    train.assert_not_called()


@pytest.mark.parametrize(
    "pairs, same, match",
    [
        (np.zeros((10, 64)), np.arange(10) % 2, r"shape \(n_pairs, 2, n_features\)"),
        (np.zeros((10, 3, 64)), np.arange(10) % 2, "got shape"),
        (np.zeros((0, 2, 64)), np.zeros(0), "no pair"),
        (np.zeros((10, 2, 64)), np.arange(9) % 2, "10 pairs but 9 pair labels"),
        (np.zeros((10, 2, 64)), np.arange(10) % 3, "must be 1 .same. and 0 or -1"),
        (np.zeros((10, 2, 64)), np.array(["a", "b"] * 5), "must be 1 .same."),
        (np.zeros((10, 2, 64)), np.ones(10), "both matching and non-matching"),
        (np.full((10, 2, 64), np.nan), np.arange(10) % 2, "NaN"),
    ],
)
def test_bad_pairs_are_rejected_before_training(pairs, same, match, fitted, small_digits):
    X, _ = small_digits
    model = clone(fitted).set_params(loss="contrastive")
    with mock.patch("sksiamese._engine.train") as train:
        with pytest.raises(ValueError, match=match):
            model.fit_pairs(pairs, same)
        with pytest.raises(ValueError, match=match):
            SiameseVerifier(model).fit(pairs, same)
    train.assert_not_called()


@pytest.fixture(scope="module")
def frozen_verifier(fitted, small_digits):
    X, y = small_digits
    pairs, same = make_pairs(X, y, 200, random_state=0)
    return SiameseVerifier(FrozenEstimator(fitted)).fit(pairs, same)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function", "score"])
@pytest.mark.parametrize(
    "pairs, match",
    [
        (np.full((4, 2, 64), np.nan), "NaN.\nSiameseVerifier does not accept missing values"),
        (np.full((4, 2, 64), np.inf), "Input X contains infinity"),
        (np.zeros((4, 2, 10)), "X has 10 features, but SiameseVerifier is expecting 64"),
        (np.zeros((4, 64)), r"shape \(n_pairs, 2, n_features\)"),
    ],
)
def test_bad_pairs_are_refused_in_the_name_of_the_verifier(frozen_verifier, method, pairs, match):
    arguments = (pairs, np.arange(len(pairs)) % 2) if method == "score" else (pairs,)
    with pytest.raises(ValueError, match=match) as error:
        getattr(frozen_verifier, method)(*arguments)
    assert "SiameseEmbedder" not in str(error.value)


@pytest.mark.parametrize(
    "embedder, pairs, match",
    [
        (None, np.full((10, 2, 64), np.nan), "NaN.\nSiameseVerifier does not accept missing"),
        (
            SiameseEmbedder(),
            np.zeros((10, 2, 64)),
            r"SiameseVerifier trains its embedder .* contrastive loss; got "
            r"SiameseEmbedder\(loss='triplet'\)",
        ),
    ],
)
def test_fit_refusals_name_the_verifier(embedder, pairs, match):
    with mock.patch("sksiamese._engine.train") as train:
        with pytest.raises(ValueError, match=match):
            SiameseVerifier(embedder).fit(pairs, np.arange(len(pairs)) % 2)
    train.assert_not_called()


def test_rejected_fit_pairs_leaves_a_fitted_embedder_intact(digit_pairs):
    (pairs, same), _ = digit_pairs
    embedder = small_pair_model(epochs=1, random_state=0).fit_pairs(pairs[:200], same[:200])
    before = embedder.transform(pairs[:10, 0])
    # Rejected after the rows were validated, when the shape is checked.
    with pytest.raises(ValueError, match="input_shape"):
        embedder.set_params(input_shape=(7,)).fit_pairs(np.zeros((10, 2, 5)), np.arange(10) % 2)
    assert embedder.n_features_in_ == 64 and embedder.input_shape_ == (64,)
    np.testing.assert_array_equal(embedder.transform(pairs[:10, 0]), before)


# The verifier ----------------------------------------------------------------


def test_decision_function_is_minus_the_embedding_distance(verifier, digit_pairs):
    _, (pairs, _) = digit_pairs
    left = verifier.embedder_.transform(pairs[:50, 0])
    right = verifier.embedder_.transform(pairs[:50, 1])
    expected = -np.linalg.norm(left - right, axis=1)
    np.testing.assert_allclose(verifier.decision_function(pairs[:50]), expected, atol=1e-6)


def test_predict_applies_the_threshold(verifier, digit_pairs):
    _, (pairs, _) = digit_pairs
    scores = verifier.decision_function(pairs)
    np.testing.assert_array_equal(
        verifier.predict(pairs), (scores >= verifier.threshold_).astype(int)
    )
    assert list(verifier.classes_) == [0, 1] and verifier.n_features_in_ == 64
    assert -2.0 <= verifier.threshold_ <= 0.0


def test_predict_proba_is_calibrated_and_monotone(verifier, digit_pairs):
    _, (pairs, same) = digit_pairs
    proba = verifier.predict_proba(pairs)
    assert proba.shape == (len(pairs), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    order = np.argsort(verifier.decision_function(pairs))
    assert np.all(np.diff(proba[order, 1]) >= -1e-12)
    # Calibrated on pairs of other digits: close to the rate of matches, and
    # far better than a constant 0.5 (log loss 0.693).
    assert abs(proba[:, 1].mean() - same.mean()) < 0.08
    assert log_loss(same, proba[:, 1]) < 0.35


def test_embedder_none_trains_a_contrastive_embedder(digit_pairs):
    (pairs, same), _ = digit_pairs

    class Stop(Exception):
        pass

    with mock.patch.object(
        SiameseEmbedder, "fit_pairs", autospec=True, side_effect=Stop
    ) as fit_pairs:
        with pytest.raises(Stop):
            SiameseVerifier(random_state=0).fit(pairs[:100], same[:100])
    embedder, train_pairs, train_same = fit_pairs.call_args.args
    assert embedder.loss == "contrastive" and isinstance(embedder.random_state, int)
    # 20% of the 100 pairs are held out, stratified, to calibrate on.
    assert train_pairs.shape == (80, 2, 64)
    assert abs(train_same.mean() - same[:100].mean()) < 0.02


def test_a_given_unfitted_embedder_is_cloned_not_changed(digit_pairs):
    (pairs, same), _ = digit_pairs
    template = small_pair_model(epochs=1, n_components=6)
    verifier = SiameseVerifier(template, random_state=0).fit(pairs[:300], same[:300])
    assert not hasattr(template, "encoder_") and template.random_state is None
    assert verifier.embedder_ is not template and verifier.embedder_.n_components == 6


def test_frozen_embedder_is_untouched_and_only_calibrated(fitted, small_digits):
    X, y = small_digits
    pairs, same = make_pairs(X, y, 400, random_state=0)
    weights = [w.copy() for w in fitted.encoder_.get_weights()]
    history = dict(fitted.history_)
    frozen = FrozenEstimator(fitted)
    verifier = SiameseVerifier(frozen, threshold="eer").fit(pairs, same)
    assert verifier.embedder_ is frozen
    for before, after in zip(weights, fitted.encoder_.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert fitted.history_ == history
    # Calibrated on every pair: the threshold sits at the equal error rate.
    scores = verifier.decision_function(pairs)
    accepted = scores >= verifier.threshold_
    false_accepts = np.mean(accepted[same == 0])
    false_rejects = np.mean(~accepted[same == 1])
    assert abs(false_accepts - false_rejects) < 0.02
    assert abs(false_accepts - equal_error_rate(same, scores)) < 0.02


def test_any_frozen_transformer_works(small_digits):
    X, y = small_digits
    pairs, same = make_pairs(X, y, 400, random_state=0)
    verifier = SiameseVerifier(FrozenEstimator(PCA(8).fit(X))).fit(pairs, same)
    assert verifier.score(pairs, same) > 0.7


def test_a_wrapped_embedder_is_compared_in_its_own_distance(fitted, small_digits):
    X, y = small_digits
    pairs, same = make_pairs(X, y, 200, random_state=0)
    cosine = copy.deepcopy(fitted).set_params(distance="cosine")
    wrapped = FrozenEstimator(Pipeline([("identity", FunctionTransformer()), ("emb", cosine)]))
    scores = SiameseVerifier(wrapped).fit(pairs, same).decision_function(pairs)
    left, right = cosine.transform(pairs[:, 0]), cosine.transform(pairs[:, 1])
    expected = -sklearn_paired_distances(left, right, metric="cosine")
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)


class ManhattanEmbedder(TransformerMixin, BaseEstimator):
    """A transformer whose embedding is meant for a distance the verifier lacks."""

    def __init__(self, distance="manhattan"):
        self.distance = distance

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X


def test_an_embedder_in_an_unknown_distance_is_refused(small_digits):
    X, y = small_digits
    pairs, same = make_pairs(X, y, 100, random_state=0)
    frozen = FrozenEstimator(ManhattanEmbedder().fit(X))
    with pytest.raises(ValueError, match="ManhattanEmbedder.*distance='manhattan'.*does not know"):
        SiameseVerifier(frozen).fit(pairs, same)


def test_unfrozen_transformers_without_fit_pairs_are_refused(digit_pairs):
    (pairs, same), _ = digit_pairs
    with pytest.raises(TypeError, match="FrozenEstimator"):
        SiameseVerifier(PCA(4)).fit(pairs[:100], same[:100])
    with pytest.raises(InvalidParameterError, match="embedder"):
        SiameseVerifier("mlp").fit(pairs[:100], same[:100])


@pytest.mark.parametrize(
    "labels, classes",
    [(lambda s: s.astype(bool), [False, True]), (lambda s: 2 * s - 1, [-1, 1])],
)
def test_other_label_conventions(labels, classes, fitted, small_digits):
    X, y = small_digits
    pairs, same = make_pairs(X, y, 200, random_state=0)
    verifier = SiameseVerifier(FrozenEstimator(fitted)).fit(pairs, labels(same))
    assert list(verifier.classes_) == classes
    assert set(verifier.predict(pairs)) <= set(classes)
    assert verifier.score(pairs, labels(same)) > 0.7


def test_fit_is_reproducible_with_random_state(digit_pairs):
    (pairs, same), (test, _) = digit_pairs
    first = SiameseVerifier(small_pair_model(epochs=1), random_state=5).fit(pairs[:300], same[:300])
    second = SiameseVerifier(small_pair_model(epochs=1), random_state=5).fit(
        pairs[:300], same[:300]
    )
    np.testing.assert_array_equal(first.decision_function(test), second.decision_function(test))
    assert first.threshold_ == second.threshold_


def test_unfitted_verifier_raises_not_fitted(digit_pairs):
    _, (pairs, _) = digit_pairs
    with pytest.raises(NotFittedError, match="not fitted"):
        SiameseVerifier().decision_function(pairs)


def test_too_few_pairs_to_calibrate(digit_pairs):
    (pairs, same), _ = digit_pairs
    with pytest.raises(ValueError, match="calibration_fraction"):
        SiameseVerifier().fit(pairs[:3], np.array([1, 0, 0]))


def test_roc_and_det_displays(verifier, digit_pairs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, (pairs, same) = digit_pairs
    roc = RocCurveDisplay.from_estimator(verifier, pairs, same)
    # predict_proba is a monotone map of decision_function: the same ranking.
    assert roc.roc_auc == pytest.approx(roc_auc_score(same, verifier.decision_function(pairs)))
    det = DetCurveDisplay.from_estimator(verifier, pairs, same, response_method="decision_function")
    assert len(det.fpr) > 10
    plt.close("all")


def test_pickle_round_trip(verifier, digit_pairs):
    _, (pairs, _) = digit_pairs
    restored = pickle.loads(pickle.dumps(verifier))
    np.testing.assert_array_equal(
        restored.decision_function(pairs), verifier.decision_function(pairs)
    )
    np.testing.assert_array_equal(restored.predict_proba(pairs), verifier.predict_proba(pairs))


def test_grid_search_tunes_the_embedder(digit_pairs):
    (pairs, same), (test, test_same) = digit_pairs
    search = GridSearchCV(
        SiameseVerifier(small_pair_model(epochs=2), random_state=0),
        {"embedder__margin": [0.5, 1.0]},
        scoring=neg_equal_error_rate_scorer,
        cv=2,
    ).fit(pairs[:600], same[:600])
    assert search.best_params_["embedder__margin"] in (0.5, 1.0)
    assert np.all(search.cv_results_["mean_test_score"] > -0.25)
    assert search.score(test, test_same) == pytest.approx(
        -equal_error_rate(test_same, search.best_estimator_.decision_function(test))
    )


# Threshold strategies ----------------------------------------------------------


@pytest.fixture
def calibration_scores():
    rng = np.random.default_rng(0)
    same = rng.integers(0, 2, 300)
    scores = rng.normal(size=300) + 1.2 * same
    return scores, same


def candidate_thresholds(scores):
    values = np.unique(scores)
    return np.r_[values, values[-1] + 1]


@pytest.mark.parametrize("strategy, metric", [("accuracy", accuracy_score), ("f1", f1_score)])
def test_threshold_maximises_its_metric(strategy, metric, calibration_scores):
    scores, same = calibration_scores
    threshold = _calibrated_threshold(scores, same, strategy)
    best = max(metric(same, scores >= t) for t in candidate_thresholds(scores))
    assert metric(same, scores >= threshold) == pytest.approx(best)


def test_threshold_lies_between_two_scores(calibration_scores):
    scores, same = calibration_scores
    threshold = _calibrated_threshold(scores, same, "accuracy")
    below, above = scores[scores < threshold].max(), scores[scores >= threshold].min()
    assert threshold == pytest.approx((below + above) / 2)


def test_fixed_threshold_and_extremes():
    assert _calibrated_threshold(np.array([0.1, 0.2]), np.array([0, 1]), -0.5) == -0.5
    # Everything matches: accept all; nothing does: reject all.
    scores = np.array([-3.0, -2.0, -1.0])
    assert _calibrated_threshold(scores, np.array([1, 1, 1]), "accuracy") <= -3.0
    assert _calibrated_threshold(scores, np.array([0, 0, 0]), "accuracy") > -1.0
