"""SiameseVerifier: a classifier that tells whether two rows match."""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._compat import HasMethods, Interval, StrOptions, _fit_context, _SigmoidCalibration
from ._distances import DISTANCES
from ._embedder import SiameseEmbedder
from ._evaluation import eer_point
from ._io import SaveMixin, register, register_codec
from ._pairs import check_pair_labels, stack_pair_rows
from ._rows import check_disk_rows, is_disk_backed, row_checks

_SEED_LIMIT = 2**31 - 1


@register(
    required=("embedder_", "threshold_", "classes_", "n_features_in_", "calibrator_"),
    kinds={"calibrator_": "sigmoid_calibration"},
    estimators={"embedder": SiameseEmbedder, "embedder_": SiameseEmbedder},
)
class SiameseVerifier(SaveMixin, ClassifierMixin, BaseEstimator):
    """Verify pairs: are the two rows of a pair the same kind of thing?

    The verifier embeds both rows of a pair with one shared encoder and
    compares their distance with a threshold calibrated on labelled pairs.
    Classes seen at verification time need not have been seen in training:
    this is face, signature or product matching from one example.

    Pairs are arrays of shape ``(n_pairs, 2, n_features)``, or ``(n_pairs, 2,
    *input_shape)`` for images, labelled 1 (same) or 0 (different).

    Parameters
    ----------
    embedder : SiameseEmbedder, FrozenEstimator or None, default=None
        What embeds the rows.

        - None: a ``SiameseEmbedder(loss="contrastive")`` is trained on the
          pairs with :meth:`SiameseEmbedder.fit_pairs` (the classic Siamese
          pair model).
        - An unfitted ``SiameseEmbedder`` with ``loss="contrastive"``: a clone
          of it is trained on the pairs, so its network, margin, distance and
          epochs apply.
        - A fitted transformer wrapped in
          :class:`~sklearn.frozen.FrozenEstimator`, such as an embedder
          trained on class labels: it is used as it is and only the
          threshold and the probabilities are calibrated, on all the pairs.

        Pairs are compared in the embedder's own ``distance``, found through
        ``FrozenEstimator`` and ``Pipeline`` (whose last step embeds), or in
        Euclidean distance for a transformer without one, such as ``PCA``.

    threshold : {"accuracy", "f1", "eer"} or float, default="accuracy"
        How ``threshold_`` is chosen on the calibration pairs: the value
        that maximises accuracy or F1 of "same", or the one at the equal
        error rate, where false accepts and false rejects are equally
        frequent. A float sets it directly, on the scale of
        :meth:`decision_function` (minus a distance: ``-0.8`` accepts pairs
        closer than 0.8).

    calibration_fraction : float, default=0.2
        When the embedder is trained here, the fraction of the pairs held
        out of training (that fraction of each kind, and at least one of
        each) to calibrate the threshold and the probabilities on distances
        the embedder has not been trained to shrink.
        Unused with a frozen embedder.

    random_state : int, RandomState instance or None, default=None
        Seeds the calibration split and, when the embedder to train has
        ``random_state=None``, the embedder too: an int makes ``fit``
        reproducible.

    Attributes
    ----------
    embedder_ : estimator
        The fitted embedder: the one trained here, or ``embedder`` itself
        when frozen.

    threshold_ : float
        Pairs with ``decision_function >= threshold_`` are predicted to
        match.

    classes_ : ndarray of shape (2,)
        The pair labels, non-matching first (e.g. ``[0, 1]``).

    n_features_in_ : int
        Number of features of one row of a pair.

    calibrator_ : object
        Platt's sigmoid, fitted on the calibration pairs' decision values,
        behind :meth:`predict_proba`.

    See Also
    --------
    SiameseEmbedder : The embedding, trained on classes or pairs.
    sksiamese.datasets.make_pairs : Pairs drawn from labelled rows.

    Notes
    -----
    :meth:`predict` applies ``threshold_``; :meth:`predict_proba` is
    calibrated separately, so with ``threshold="eer"`` or ``"f1"`` the two
    may disagree near the threshold.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import SiameseVerifier
    >>> from sksiamese.datasets import make_pairs
    >>> X, y = load_digits(return_X_y=True)
    >>> pairs, same = make_pairs(X, y, n_pairs=3000, random_state=0)
    >>> verifier = SiameseVerifier(random_state=0).fit(pairs[:2000], same[:2000])
    >>> verifier.predict(pairs[2000:2003]).shape
    (3,)
    >>> verifier.score(pairs[2000:], same[2000:]) > 0.9
    True
    """

    _parameter_constraints: dict = {
        "embedder": [HasMethods(["transform"]), None],
        "threshold": [
            StrOptions({"accuracy", "f1", "eer"}),
            Interval(Real, None, None, closed="neither"),
        ],
        "calibration_fraction": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self, embedder=None, *, threshold="accuracy", calibration_fraction=0.2, random_state=None
    ):
        self.embedder = embedder
        self.threshold = threshold
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Train the embedder if needed, then calibrate the threshold.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or ``(n_pairs, 2, *input_shape)``
            Pairs of rows.
        y : array-like of shape (n_pairs,)
            1 (or True) where the rows match, 0 (or False, or -1) where they
            do not; both must occur.

        Returns
        -------
        self : SiameseVerifier
            The fitted verifier.
        """
        # Every pair, calibration pairs included, is checked before training.
        rows = self._pair_rows(X, fitting=True)
        codes, classes = check_pair_labels(y, len(rows) // 2)
        rng = check_random_state(self.random_state)
        if isinstance(self.embedder, FrozenEstimator):
            embedder, calibration_rows, calibration_codes = self.embedder, rows, codes
        else:
            embedder = self._embedder_to_train(rng)
            pairs = rows.reshape((len(codes), 2, *rows.shape[1:]))
            train_pairs, calibration_pairs, train_codes, calibration_codes = (
                self._calibration_split(pairs, codes, rng)
            )
            embedder.fit_pairs(train_pairs, train_codes)
            calibration_rows = calibration_pairs.reshape((-1, *rows.shape[1:]))
        scores = _decision_values(embedder, calibration_rows)
        self.embedder_ = embedder
        self.classes_ = classes
        self.n_features_in_ = int(np.prod(rows.shape[1:]))
        self.threshold_ = _calibrated_threshold(scores, calibration_codes, self.threshold)
        self.calibrator_ = _SigmoidCalibration().fit(scores, calibration_codes)
        return self

    def decision_function(self, X):
        """Minus the distance between the embedded rows of each pair.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or ``(n_pairs, 2, *input_shape)``
            Pairs of rows.

        Returns
        -------
        scores : ndarray of shape (n_pairs,)
            Higher means more alike; 0 for identical embeddings.
        """
        check_is_fitted(self)
        return _decision_values(self.embedder_, self._pair_rows(X))

    def predict(self, X):
        """Whether the rows of each pair match.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or ``(n_pairs, 2, *input_shape)``
            Pairs of rows.

        Returns
        -------
        y_pred : ndarray of shape (n_pairs,)
            ``classes_[1]`` (same) where ``decision_function >= threshold_``,
            else ``classes_[0]``.
        """
        check_is_fitted(self)
        return self.classes_[(self.decision_function(X) >= self.threshold_).astype(int)]

    def predict_proba(self, X):
        """Calibrated probabilities that the rows of each pair differ and match.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or ``(n_pairs, 2, *input_shape)``
            Pairs of rows.

        Returns
        -------
        proba : ndarray of shape (n_pairs, 2)
            Columns follow ``classes_``: different, then same.
        """
        check_is_fitted(self)
        same = self.calibrator_.predict(self.decision_function(X))
        return np.column_stack([1.0 - same, same])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.target_tags.required = True
        tags.classifier_tags.multi_class = False
        return tags

    def _pair_rows(self, X, *, fitting=False):
        """The rows of the pairs ``X``, stacked and checked in this estimator's name.

        Checked here rather than by the embedder, so that an error names the
        estimator the user called. ``fit`` checks without recording
        ``n_features_in_``, which it sets once training has succeeded.
        """
        rows = stack_pair_rows(X)
        flat = rows.reshape(len(rows), -1)
        if fitting:
            flat = check_array(flat, estimator=self, input_name="X", **row_checks(flat))
        else:
            flat = validate_data(self, flat, reset=False, **row_checks(flat))
        if is_disk_backed(flat):
            check_disk_rows(flat)
        return flat.reshape(rows.shape)

    def _embedder_to_train(self, rng):
        if self.embedder is None:
            embedder = SiameseEmbedder(loss="contrastive")
        elif hasattr(self.embedder, "fit_pairs"):
            embedder = clone(self.embedder)
        else:
            raise TypeError(
                "embedder must be a SiameseEmbedder to train on the pairs, or a fitted "
                "transformer wrapped in sklearn.frozen.FrozenEstimator; got "
                f"{type(self.embedder).__name__}, which has no fit_pairs method."
            )
        if embedder.get_params().get("loss") != "contrastive":
            raise ValueError(
                "SiameseVerifier trains its embedder on the pairs with the contrastive loss; "
                f"got {type(embedder).__name__}(loss={embedder.get_params().get('loss')!r}). "
                "Set loss='contrastive', or wrap an embedder fitted on classes in "
                "sklearn.frozen.FrozenEstimator."
            )
        if embedder.get_params().get("random_state") is None:
            embedder.set_params(random_state=int(rng.randint(_SEED_LIMIT)))
        return embedder

    def _calibration_split(self, pairs, codes, rng):
        """Hold out ``calibration_fraction`` of each kind of pair, at least one.

        Both parts get matching and non-matching pairs, which calibrating
        and training need.
        """
        train, calibration = [], []
        for kind in (0, 1):
            members = rng.permutation(np.flatnonzero(codes == kind))
            n_calibration = min(
                max(1, round(self.calibration_fraction * len(members))), len(members) - 1
            )
            if n_calibration < 1:
                raise ValueError(
                    f"calibration_fraction={self.calibration_fraction} needs at least 2 "
                    f"{'matching' if kind else 'non-matching'} pairs, one to train on and "
                    f"one to calibrate with; got {len(members)}. Give more pairs."
                )
            calibration.append(members[:n_calibration])
            train.append(members[n_calibration:])
        train, calibration = np.sort(np.concatenate(train)), np.sort(np.concatenate(calibration))
        return pairs[train], pairs[calibration], codes[train], codes[calibration]


def _decision_values(embedder, rows):
    """Minus the distance between consecutive embedded rows (the pairs)."""
    embedded = np.asarray(embedder.transform(rows), dtype=np.float64)
    return -DISTANCES[_embedding_distance(embedder)].paired(embedded[0::2], embedded[1::2])


def _embedding_distance(embedder):
    """The distance ``embedder``'s output is compared in.

    The ``distance`` of the estimator that makes the embedding, found
    through ``FrozenEstimator`` and ``Pipeline`` wrappers (the last step
    of a pipeline embeds); Euclidean for a transformer without one, such as
    ``PCA``. A ``distance`` that is not one of ``DISTANCES`` is refused.
    """
    inner = embedder
    while isinstance(inner, (FrozenEstimator, Pipeline)):
        inner = inner.estimator if isinstance(inner, FrozenEstimator) else inner.steps[-1][1]
    params = inner.get_params() if hasattr(inner, "get_params") else {}
    distance = params.get("distance", "euclidean")
    if distance not in DISTANCES:
        raise ValueError(
            f"The embedder {type(inner).__name__} compares embeddings in distance="
            f"{distance!r}, which SiameseVerifier does not know; it knows {tuple(DISTANCES)}."
        )
    return distance


def _calibrated_threshold(scores, codes, strategy):
    """The decision threshold chosen by ``strategy`` on calibration scores."""
    if isinstance(strategy, Real):
        return float(strategy)
    if strategy == "eer":
        return float(eer_point(codes, scores)[1])
    # Accepting the k highest scores, for every k at which the score changes.
    order = np.argsort(-scores, kind="stable")
    ranked, ranked_codes = scores[order], codes[order]
    ends = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), len(ranked) - 1]
    true_accepts = np.r_[0, np.cumsum(ranked_codes)[ends]]
    false_accepts = np.r_[0, np.cumsum(1 - ranked_codes)[ends]]
    n_same = codes.sum()
    false_rejects = n_same - true_accepts
    if strategy == "accuracy":
        quality = true_accepts + (len(codes) - n_same - false_accepts)
    else:  # f1
        quality = 2 * true_accepts / np.maximum(2 * true_accepts + false_accepts + false_rejects, 1)
    best = int(np.argmax(quality))
    if best == 0:
        # Reject every pair: a threshold above the highest score.
        return float(np.nextafter(ranked[0], np.inf))
    lowest_accepted = ranked[ends[best - 1]]
    if ends[best - 1] + 1 == len(ranked):
        return float(lowest_accepted)
    # Halfway to the next score down: the margin is the same on both sides.
    return float((lowest_accepted + ranked[ends[best - 1] + 1]) / 2)


# The calibration in saved files ------------------------------------------------


def _encode_calibration(calibrator, writer):
    return {"a": writer.encode(calibrator.a_), "b": writer.encode(calibrator.b_)}


def _decode_calibration(fields, reader):
    calibrator = _SigmoidCalibration()
    for name in ("a", "b"):
        value = reader.decode(fields.get(name))
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise reader.error("holds a malformed calibration.")
        setattr(calibrator, f"{name}_", value)
    return calibrator


register_codec(
    "sigmoid_calibration",
    (f"{_SigmoidCalibration.__module__}:{_SigmoidCalibration.__qualname__}",),
    _encode_calibration,
    _decode_calibration,
)
