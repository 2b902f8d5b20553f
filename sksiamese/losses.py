"""Distances and Siamese losses: triplet and contrastive, with online mining.

Losses on labelled batches work from the batch's pairwise distance matrix and
label masks, so no list of pairs or triplets is ever materialised: a batch of
``B`` rows costs ``O(B**2)`` memory whatever the mining. Semi-hard and batch-all
mining find each anchor-positive pair's semi-hard negative, or its violating
negatives, by comparing it with every negative where anchors have few
positives (``O(K B**2)`` in P x K batches), and otherwise by sorting each
anchor's negatives once and binary-searching them (``O(B**2 log B)``), never
by the ``O(B**3)`` comparison of every triplet.
:func:`contrastive_pair_loss` scores explicit pairs instead.

Losses, miners and distances are separate pieces, each registered once in its
table: ``LOSSES`` maps a loss's name to what it costs on a mined pair and on
a whole batch, ``MININGS`` a miner's name to how it picks pairs from a batch,
and ``DISTANCES`` (shared with :mod:`sksiamese.metrics`; see
``sksiamese._distances``) a distance's name to its implementations, the
TensorFlow ones registered here. Any loss trains with any miner and any
distance; a new one is one entry in its table.

Margins are in the unit of the distance:

- ``"euclidean"``: ``||a - b||``; with unit-norm embeddings it lies in [0, 2].
- ``"sqeuclidean"``: ``||a - b||**2``; in [0, 4] for unit-norm embeddings.
- ``"cosine"``: ``1 - cos(a, b)``; in [0, 2] whatever the norms.
"""

import functools
from dataclasses import dataclass
from typing import Callable

from ._distances import DISTANCES
from ._tensorflow import tf

__all__ = [
    "DISTANCES",
    "LOSSES",
    "MININGS",
    "batch_loss",
    "contrastive_loss",
    "contrastive_pair_loss",
    "paired_distances",
    "pairwise_distances",
    "triplet_loss",
]

# Semi-hard and batch-all mining compare each anchor's k positives with every
# negative, O(k B**2) for B rows, while k is at most _COMPARED_POSITIVES (up to
# 16 it was the faster way on 2 CPU cores at B = 1024) and the (B, k, B)
# comparison holds at most _COMPARED_ELEMENTS entries (1 GiB of float32);
# otherwise they sort each anchor's negatives, O(B**2 log B). Both are exact.
_COMPARED_POSITIVES = 16
_COMPARED_ELEMENTS = 2**28

# Squared distances below this are treated as exact zeros: the square root's
# gradient is infinite at 0, so those entries get a zero gradient instead.
_SQRT_FLOOR = 1e-12


def pairwise_distances(embeddings, distance="euclidean"):
    """Distance matrix between the rows of ``embeddings``.

    Parameters
    ----------
    embeddings : tf.Tensor of shape (n, d)
        The embedded rows.
    distance : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
        Which distance to compute.

    Returns
    -------
    distances : tf.Tensor of shape (n, n)
        Non-negative distances with exact zeros on the diagonal; gradients are
        finite everywhere, including at zero distance.
    """
    return _TENSOR_DISTANCES[_checked(DISTANCES, distance, "distance")].pairwise(embeddings)


def paired_distances(left, right, distance="euclidean"):
    """Distances between matching rows of ``left`` and ``right``.

    Parameters
    ----------
    left, right : tf.Tensor of shape (n, d)
        Embedded first and second members of ``n`` pairs.
    distance : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
        Which distance to compute.

    Returns
    -------
    distances : tf.Tensor of shape (n,)
        Non-negative, with finite gradients at zero distance.
    """
    return _TENSOR_DISTANCES[_checked(DISTANCES, distance, "distance")].paired(left, right)


def _checked(table, name, what):
    if name not in table:
        raise ValueError(f"{what} must be one of {tuple(table)}, got {name!r}.")
    return name


def _pairwise_squared(embeddings):
    square_norms = tf.reduce_sum(tf.square(embeddings), axis=1)
    gram = tf.matmul(embeddings, embeddings, transpose_b=True)
    squared = square_norms[:, None] - 2.0 * gram + square_norms[None, :]
    # Rounding can make the expansion slightly negative; the diagonal is zero.
    return tf.maximum(squared, 0.0) * _off_diagonal(squared)


def _pairwise_cosine(embeddings):
    unit = tf.math.l2_normalize(embeddings, axis=1)
    similarity = tf.matmul(unit, unit, transpose_b=True)
    return tf.maximum(1.0 - similarity, 0.0) * _off_diagonal(similarity)


def _paired_squared(left, right):
    return tf.reduce_sum(tf.square(left - right), axis=1)


def _paired_cosine(left, right):
    similarity = tf.reduce_sum(
        tf.math.l2_normalize(left, axis=1) * tf.math.l2_normalize(right, axis=1), axis=1
    )
    return tf.maximum(1.0 - similarity, 0.0)


@dataclass(frozen=True)
class _TensorDistance:
    """TensorFlow implementations of one distance, with finite gradients at 0."""

    pairwise: Callable
    paired: Callable


#: The TensorFlow side of each entry of ``DISTANCES``, under the same name.
_TENSOR_DISTANCES = {
    "euclidean": _TensorDistance(
        lambda embeddings: _safe_sqrt(_pairwise_squared(embeddings)),
        lambda left, right: _safe_sqrt(_paired_squared(left, right)),
    ),
    "sqeuclidean": _TensorDistance(_pairwise_squared, _paired_squared),
    "cosine": _TensorDistance(_pairwise_cosine, _paired_cosine),
}


def _safe_sqrt(squared):
    nonzero = squared > _SQRT_FLOOR
    # Double `where`: the untaken branch must not produce inf gradients either.
    safe = tf.where(nonzero, squared, tf.ones_like(squared))
    return tf.where(nonzero, tf.sqrt(safe), tf.zeros_like(squared))


def _off_diagonal(matrix):
    size = tf.shape(matrix)[0]
    return 1.0 - tf.eye(size, dtype=matrix.dtype)


def triplet_loss(labels, embeddings, *, margin, mining="semi-hard", distance="euclidean"):
    """Triplet margin loss with online mining over one batch.

    For an anchor ``a``, a positive ``p`` (same label) and a negative ``n``
    (other label) the loss is ``max(d(a, p) - d(a, n) + margin, 0)``. Which
    triplets count is chosen from the batch's distance matrix:

    - ``"semi-hard"`` (FaceNet, Schroff et al. 2015): every anchor-positive
      pair with the closest negative that is still farther than the positive;
      where there is none, the farthest negative. Mean over positive pairs.
    - ``"hard"`` (batch-hard, Hermans et al. 2017): every anchor with its
      farthest positive and closest negative. Mean over anchors.
    - ``"all"`` (batch-all): every valid triplet; mean over the triplets whose
      loss is positive, so easy triplets do not dilute the gradient.

    Parameters
    ----------
    labels : tf.Tensor of shape (n,)
        Integer class labels.
    embeddings : tf.Tensor of shape (n, d)
        Embedded rows.
    margin : float
        Margin, in the unit of ``distance``.
    mining : {"semi-hard", "hard", "all"}, default="semi-hard"
        Triplet selection strategy.
    distance : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
        Distance between embeddings.

    Returns
    -------
    loss : tf.Tensor, scalar
        Zero when the batch holds no valid triplet.
    """
    return _labelled_loss(
        "triplet", labels, embeddings, margin=margin, miner=_miner(mining), distance=distance
    )


def contrastive_loss(labels, embeddings, *, margin, mining="semi-hard", distance="euclidean"):
    """Contrastive loss on pairs selected online from a labelled batch.

    A pair at distance ``d`` costs ``d**2`` if its rows share a label and
    ``max(margin - d, 0)**2`` otherwise (Hadsell, Chopra and LeCun 2006):
    same-class rows are pulled together, other classes pushed at least
    ``margin`` apart. The pairs come from the batch, chosen as the triplet
    miners choose them:

    - ``"semi-hard"``: every positive pair ``(a, p)``, each with the negative
      pair ``(a, n)`` that semi-hard triplet mining picks for it. Mean over
      positive pairs of both terms.
    - ``"hard"``: each anchor's farthest positive and closest negative.
    - ``"all"``: every pair of the batch. Positives and the negatives inside
      the margin are averaged separately and the two means added, so the
      many negative pairs of a P x K batch do not swamp the few positive ones.

    Parameters
    ----------
    labels : tf.Tensor of shape (n,)
        Integer class labels.
    embeddings : tf.Tensor of shape (n, d)
        Embedded rows.
    margin : float
        Distance beyond which negative pairs cost nothing, in the unit of
        ``distance``.
    mining : {"semi-hard", "hard", "all"}, default="semi-hard"
        Pair selection strategy.
    distance : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
        Distance between embeddings.

    Returns
    -------
    loss : tf.Tensor, scalar
        Zero when the batch holds no positive and negative pair.
    """
    return _labelled_loss(
        "contrastive", labels, embeddings, margin=margin, miner=_miner(mining), distance=distance
    )


def _triplet_term(batch, anchor_positive, anchor_negative):
    return tf.nn.relu(anchor_positive - anchor_negative + batch.margin)


def _triplet_every(batch):
    return _mean(*batch.violating_triplets())


def _contrastive_term(batch, anchor_positive, anchor_negative):
    return tf.square(anchor_positive) + tf.square(tf.nn.relu(batch.margin - anchor_negative))


def _contrastive_every(batch):
    pull = _masked_mean(tf.square(batch.dist), batch.positive)
    push = tf.square(tf.nn.relu(batch.margin - batch.dist))
    return pull + _masked_mean(push, tf.logical_and(batch.negative, push > 0.0))


@dataclass(frozen=True)
class _Loss:
    """A loss on labelled batches, in the two forms the miners apply.

    Attributes
    ----------
    term : callable
        ``term(batch, d(a, p), d(a, n))``: the cost of an anchor with a
        mined positive and negative; averaged over what the miner picks.
    every : callable
        ``every(batch)``: the loss over every pair or triplet of the batch
        (batch-all mining), averaged as suits the loss.
    """

    term: Callable
    every: Callable


def _semi_hard(batch, loss):
    return _mean(*batch.semi_hard_sum(functools.partial(loss.term, batch)))


def _hard(batch, loss):
    return _mean(*batch.hardest_sum(functools.partial(loss.term, batch)))


def _every(batch, loss):
    return loss.every(batch)


#: Training objectives on labelled batches: the values of the ``loss``
#: parameter of :class:`~sksiamese.SiameseEmbedder`.
LOSSES = {
    "triplet": _Loss(_triplet_term, _triplet_every),
    "contrastive": _Loss(_contrastive_term, _contrastive_every),
}
#: Pair or triplet selection strategies, ``miner(batch, loss) -> scalar``: the
#: values of the ``mining`` parameter.
MININGS = {"semi-hard": _semi_hard, "hard": _hard, "all": _every}


def _miner(mining):
    """The miner named ``mining``: where the ``mining`` of every loss is checked."""
    return MININGS[_checked(MININGS, mining, "mining")]


def _labelled_loss(loss, labels, embeddings, *, margin, miner, distance, positives_per_anchor=None):
    batch = _LabelledBatch(labels, embeddings, margin, distance, positives_per_anchor)
    return miner(batch, LOSSES[loss])


def batch_loss(loss, *, margin, mining, distance, positives_per_anchor=None):
    """The loss of labelled batches as training calls it: ``loss(labels, embeddings)``.

    Parameters
    ----------
    loss : str or callable
        A key of ``LOSSES``, applied with ``margin``, the miner ``mining``
        and ``distance``; or a callable ``loss(labels, embeddings) ->
        scalar``, returned as it is (it does its own mining).
    margin : float
    mining : str
        A key of ``MININGS``.
    distance : str
        A key of ``DISTANCES``.
    positives_per_anchor : int or None
        How many positives every anchor of the batches has, when the caller
        knows it (``K - 1`` in P x K batches): semi-hard and batch-all mining
        then choose their way of mining when the step is traced, so the
        traced step holds one way instead of both. None decides per batch.

    Returns
    -------
    loss : callable
        ``loss(labels, embeddings) -> scalar tf.Tensor``.
    """
    if callable(loss):
        return loss
    return functools.partial(
        _labelled_loss,
        _checked(LOSSES, loss, "loss"),
        margin=margin,
        miner=_miner(mining),
        distance=_checked(DISTANCES, distance, "distance"),
        positives_per_anchor=positives_per_anchor,
    )


def contrastive_pair_loss(same, embeddings, *, margin, distance="euclidean"):
    """Contrastive loss on explicit pairs: the classic Siamese pair model.

    Parameters
    ----------
    same : tf.Tensor of shape (n,)
        1 where the pair's two rows match, 0 where they do not.
    embeddings : tf.Tensor of shape (2 * n, d)
        First members of the ``n`` pairs, then their second members.
    margin : float
        Distance beyond which non-matching pairs cost nothing.
    distance : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
        Distance between embeddings.

    Returns
    -------
    loss : tf.Tensor, scalar
        Mean over pairs of ``d**2`` for matching pairs and
        ``max(margin - d, 0)**2`` for the others.
    """
    embeddings = _loss_precision(embeddings)
    left, right = tf.split(embeddings, 2, axis=0)
    dist = paired_distances(left, right, distance)
    same = tf.cast(tf.reshape(same, [-1]), dist.dtype)
    push = tf.square(tf.nn.relu(tf.constant(margin, dist.dtype) - dist))
    return tf.reduce_mean(same * tf.square(dist) + (1.0 - same) * push)


def _loss_precision(embeddings):
    embeddings = tf.convert_to_tensor(embeddings)
    if embeddings.dtype in (tf.float16, tf.bfloat16):
        # Half precision cannot resolve small margins; the loss is cheap anyway.
        embeddings = tf.cast(embeddings, tf.float32)
    return embeddings


class _LabelledBatch:
    """Distance matrix, label masks and mined pairs of one labelled batch."""

    def __init__(self, labels, embeddings, margin, distance, positives_per_anchor=None):
        self.positives_per_anchor = positives_per_anchor
        self.dist = pairwise_distances(_loss_precision(embeddings), distance)
        labels = tf.reshape(labels, [-1])
        same = tf.equal(labels[:, None], labels[None, :])
        not_self = tf.logical_not(tf.eye(tf.shape(labels)[0], dtype=tf.bool))
        self.positive = tf.logical_and(same, not_self)
        self.negative = tf.logical_not(same)
        self.margin = tf.constant(margin, dtype=self.dist.dtype)

    def hardest_sum(self, pair_loss):
        """Sum and number of ``pair_loss(d(a, p), d(a, n))`` over each anchor
        with its farthest positive and closest negative (batch-hard mining)."""
        return _masked_sum(*self._hardest_pairs(), pair_loss)

    def semi_hard_sum(self, pair_loss):
        """Sum and number of ``pair_loss(d(a, p), d(a, n))`` over each
        anchor-positive pair ``(a, p)`` with the closest negative ``n``
        farther from ``a`` than ``p`` is or, where none is, the farthest
        negative (semi-hard mining)."""
        return self._per_positive(
            lambda *pairs: _masked_sum(*self._semi_hard_by_comparing(*pairs), pair_loss),
            lambda *pairs: _masked_sum(*self._semi_hard_by_sorting(*pairs), pair_loss),
        )

    def _hardest_pairs(self):
        dist, positive, negative = self.dist, self.positive, self.negative
        # Stands in for "no negative" in the min; no gradient flows to it.
        beyond = tf.stop_gradient(tf.reduce_max(dist)) + 1.0
        hardest_positive = tf.reduce_max(tf.where(positive, dist, tf.zeros_like(dist)), axis=1)
        hardest_negative = tf.reduce_min(tf.where(negative, dist, beyond), axis=1)
        valid = tf.logical_and(tf.reduce_any(positive, axis=1), self._has_negative())
        return hardest_positive, hardest_negative, valid

    def violating_triplets(self):
        """Sum and number of the triplets with a positive loss (batch-all mining)."""
        return self._per_positive(self._violating_by_comparing, self._violating_by_sorting)

    def _has_negative(self):
        return tf.reduce_any(self.negative, axis=1)

    def _per_positive(self, by_comparing, by_sorting):
        """Mine per anchor-positive pair, the cheaper of two exact ways.

        Both take ``(d(a, p), valid)`` on the ``(n, k)`` table of each
        anchor's ``k`` positives. Batches whose anchors have few positives
        each (``K - 1`` in a P x K batch) compare every positive with every
        negative, ``by_comparing``, in ``O(k n**2)``; others sort each
        anchor's negatives once and binary-search them, ``by_sorting``, in
        ``O(n**2 log n)``.
        """
        most = tf.reduce_max(tf.reduce_sum(tf.cast(self.positive, tf.int32), axis=1))
        # An anchor's positives are the columns of its largest mask entries;
        # anchors with fewer than `most` are padded with invalid columns.
        flags, columns = tf.math.top_k(tf.cast(self.positive, tf.int32), k=most)
        anchor_positive = tf.gather(self.dist, columns, batch_dims=1)
        valid = flags > 0
        static_size = self.dist.shape[0]
        if self.positives_per_anchor is not None and static_size is not None:
            # Known when the step is traced: tracing one way rather than both
            # halves the time a small fit takes. Either way mines exactly.
            compares = _compares(self.positives_per_anchor, static_size)
            return (by_comparing if compares else by_sorting)(anchor_positive, valid)
        size = tf.cast(tf.shape(self.dist)[0], tf.int64)
        return tf.cond(
            _compares(tf.cast(most, tf.int64), size),
            lambda: by_comparing(anchor_positive, valid),
            lambda: by_sorting(anchor_positive, valid),
        )

    def _semi_hard_by_comparing(self, anchor_positive, valid):
        dist, negative = self.dist, self.negative
        beyond = tf.stop_gradient(tf.reduce_max(dist)) + 1.0
        anchor_negative = dist[:, None, :]
        # semi_hard[a, j, n]: n is a negative of a, farther from a than its positive j.
        semi_hard = tf.logical_and(
            negative[:, None, :], anchor_negative > anchor_positive[:, :, None]
        )
        closest_semi_hard = tf.reduce_min(tf.where(semi_hard, anchor_negative, beyond), axis=2)
        farthest_negative = tf.reduce_max(tf.where(negative, dist, tf.zeros_like(dist)), axis=1)
        chosen = tf.where(
            tf.reduce_any(semi_hard, axis=2), closest_semi_hard, farthest_negative[:, None]
        )
        return anchor_positive, chosen, tf.logical_and(valid, self._has_negative()[:, None])

    def _semi_hard_by_sorting(self, anchor_positive, valid):
        negatives = _SortedNegatives(self.dist, self.negative, self.margin)
        count = negatives.count[:, None]
        last = tf.maximum(count - 1, 0)
        # Pair (a, p) takes the first of a's negatives farther than p ...
        farther = negatives.count_below(anchor_positive, side="right")
        found = farther < count
        nearest = negatives.key_at(tf.minimum(farther, last))
        nearest_end = negatives.count_below(nearest, side="right")
        # ... or, where none is, a's farthest negative.
        farthest = negatives.key_at(last)
        farthest_first = negatives.count_below(farthest, side="left")
        chosen = negatives.tied(
            tf.where(found, nearest, farthest),
            tf.where(found, farther, farthest_first),
            tf.where(found, nearest_end, count),
        )
        return anchor_positive, chosen, tf.logical_and(valid, count > 0)

    def _violating_by_comparing(self, anchor_positive, valid):
        # losses[a, j, n] = d(a, p_j) - d(a, n) + margin
        losses = tf.nn.relu(anchor_positive[:, :, None] - self.dist[:, None, :] + self.margin)
        pairs = tf.logical_and(valid[:, :, None], self.negative[:, None, :])
        violating = tf.logical_and(pairs, losses > 0.0)
        total = tf.reduce_sum(tf.where(violating, losses, tf.zeros_like(losses)))
        return total, tf.reduce_sum(tf.cast(violating, tf.int32))

    def _violating_by_sorting(self, anchor_positive, valid):
        # Triplet (a, p, n) violates the margin when d(a, n) < d(a, p) + margin:
        # for each pair (a, p) those are the first c of a's sorted negatives,
        # whose losses add up to c * (d(a, p) + margin) minus their distances.
        negatives = _SortedNegatives(self.dist, self.negative, self.margin)
        reach = anchor_positive + self.margin
        count = tf.where(valid, negatives.count_below(reach, side="left"), 0)
        total = tf.cast(count, reach.dtype) * reach - negatives.prefix_sum(count)
        return tf.reduce_sum(total), tf.reduce_sum(count)


def _compares(positives, size):
    """Whether ``positives`` per anchor in a batch of ``size`` rows are mined by
    comparing; Python ints when the step is traced, int64 tensors per batch."""
    return (positives <= _COMPARED_POSITIVES) & (positives * size * size <= _COMPARED_ELEMENTS)


class _SortedNegatives:
    """Each anchor's distances to its negatives, in ascending order.

    Row ``a`` holds ``a``'s ``count[a]`` negative distances first, sorted,
    then a stand-in beyond every ``d(a, p) + margin`` for the other rows.
    Gradients flow back to the distances they were gathered from.
    """

    def __init__(self, dist, negative, margin):
        beyond = tf.stop_gradient(tf.reduce_max(dist)) + margin + 1.0
        masked = tf.where(negative, dist, beyond)
        order = tf.argsort(tf.stop_gradient(masked), axis=1, stable=True)
        self.values = tf.gather(masked, order, batch_dims=1)
        self.keys = tf.stop_gradient(self.values)
        self.count = tf.reduce_sum(tf.cast(negative, tf.int32), axis=1)
        zeros = tf.zeros_like(self.values[:, :1])
        # prefix[a, c]: sum of a's c closest negatives (c = 0 .. B).
        self._prefix = tf.concat([zeros, tf.cumsum(self.values, axis=1)], axis=1)

    def count_below(self, bounds, side):
        """For each ``bounds[a, j]``: how many of ``a``'s sorted values lie
        below it (``side="left"``) or at or below it (``side="right"``)."""
        return tf.searchsorted(self.keys, tf.stop_gradient(bounds), side=side)

    def prefix_sum(self, count):
        """Sum of the first ``count[a, j]`` sorted values of row ``a``."""
        return tf.gather(self._prefix, count, batch_dims=1)

    def key_at(self, position):
        """The sorted value at ``position[a, j]`` of row ``a``, without gradient."""
        return tf.gather(self.keys, position, batch_dims=1)

    def tied(self, value, first, end):
        """``value``, the sorted values ``first[a, j]:end[a, j]`` of row ``a``.

        Its gradient is shared equally among those tied values, as
        ``tf.reduce_min`` and ``tf.reduce_max`` share theirs: the mean of
        the tied values carries the gradient, ``value`` the result exactly.
        """
        mean = (self.prefix_sum(end) - self.prefix_sum(first)) / tf.cast(end - first, value.dtype)
        return value + (mean - tf.stop_gradient(mean))


def _masked_sum(anchor_positive, anchor_negative, valid, pair_loss):
    losses = pair_loss(anchor_positive, anchor_negative)
    return tf.reduce_sum(tf.where(valid, losses, tf.zeros_like(losses))), tf.reduce_sum(
        tf.cast(valid, tf.int32)
    )


def _mean(total, count):
    return total / tf.maximum(tf.cast(count, total.dtype), 1.0)


def _masked_mean(values, mask):
    mask = tf.cast(mask, values.dtype)
    return tf.reduce_sum(values * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)
