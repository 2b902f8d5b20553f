"""Distances and Siamese losses: triplet and contrastive, with online mining.

Losses on labelled batches work from the batch's pairwise distance matrix and
label masks, so no list of pairs or triplets is ever materialised: a batch of
``B`` rows costs ``B x B`` memory (``B x B x B`` booleans for semi-hard and
batch-all mining). :func:`contrastive_pair_loss` scores explicit pairs instead.

Margins are in the unit of the distance:

- ``"euclidean"``: ``||a - b||``; with unit-norm embeddings it lies in [0, 2].
- ``"sqeuclidean"``: ``||a - b||**2``; in [0, 4] for unit-norm embeddings.
- ``"cosine"``: ``1 - cos(a, b)``; in [0, 2] whatever the norms.
"""

import tensorflow as tf

__all__ = [
    "DISTANCES",
    "LOSSES",
    "MININGS",
    "contrastive_loss",
    "contrastive_pair_loss",
    "paired_distances",
    "pairwise_distances",
    "triplet_loss",
]

#: Distances between embeddings: the values of the ``distance`` parameter of
#: the losses and the estimators.
DISTANCES = ("euclidean", "sqeuclidean", "cosine")
#: Triplet or pair selection strategies: the values of the ``mining``
#: parameter.
MININGS = ("semi-hard", "hard", "all")
#: Training objectives of :class:`~sksiamese.SiameseEmbedder`: the values of
#: its ``loss`` parameter.
LOSSES = ("triplet", "contrastive")

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
    _check_distance(distance)
    if distance == "cosine":
        unit = tf.math.l2_normalize(embeddings, axis=1)
        similarity = tf.matmul(unit, unit, transpose_b=True)
        return tf.maximum(1.0 - similarity, 0.0) * _off_diagonal(similarity)
    square_norms = tf.reduce_sum(tf.square(embeddings), axis=1)
    gram = tf.matmul(embeddings, embeddings, transpose_b=True)
    squared = square_norms[:, None] - 2.0 * gram + square_norms[None, :]
    # Rounding can make the expansion slightly negative; the diagonal is zero.
    squared = tf.maximum(squared, 0.0) * _off_diagonal(squared)
    return squared if distance == "sqeuclidean" else _safe_sqrt(squared)


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
    _check_distance(distance)
    if distance == "cosine":
        similarity = tf.reduce_sum(
            tf.math.l2_normalize(left, axis=1) * tf.math.l2_normalize(right, axis=1), axis=1
        )
        return tf.maximum(1.0 - similarity, 0.0)
    squared = tf.reduce_sum(tf.square(left - right), axis=1)
    return squared if distance == "sqeuclidean" else _safe_sqrt(squared)


def _check_distance(distance):
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}.")


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
    batch = _LabelledBatch(labels, embeddings, margin, mining, distance)
    if mining == "all":
        # losses[a, p, n] = d(a, p) - d(a, n) + margin
        losses = tf.nn.relu(batch.dist[:, :, None] - batch.dist[:, None, :] + batch.margin)
        valid = tf.logical_and(batch.positive[:, :, None], batch.negative[:, None, :])
        losses = tf.where(valid, losses, tf.zeros_like(losses))
        return _masked_mean(losses, losses > 0.0)
    anchor_positive, anchor_negative, valid = batch.mined_pairs()
    return _masked_mean(tf.nn.relu(anchor_positive - anchor_negative + batch.margin), valid)


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
    batch = _LabelledBatch(labels, embeddings, margin, mining, distance)
    if mining == "all":
        pull = _masked_mean(tf.square(batch.dist), batch.positive)
        push = tf.square(tf.nn.relu(batch.margin - batch.dist))
        return pull + _masked_mean(push, tf.logical_and(batch.negative, push > 0.0))
    anchor_positive, anchor_negative, valid = batch.mined_pairs()
    losses = tf.square(anchor_positive) + tf.square(tf.nn.relu(batch.margin - anchor_negative))
    return _masked_mean(losses, valid)


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

    def __init__(self, labels, embeddings, margin, mining, distance):
        if mining not in MININGS:
            raise ValueError(f"mining must be one of {MININGS}, got {mining!r}.")
        self.mining = mining
        self.dist = pairwise_distances(_loss_precision(embeddings), distance)
        labels = tf.reshape(labels, [-1])
        same = tf.equal(labels[:, None], labels[None, :])
        not_self = tf.logical_not(tf.eye(tf.shape(labels)[0], dtype=tf.bool))
        self.positive = tf.logical_and(same, not_self)
        self.negative = tf.logical_not(same)
        self.margin = tf.constant(margin, dtype=self.dist.dtype)

    def mined_pairs(self):
        """``(d(a, p), d(a, n), valid)`` for the pairs ``mining`` selects.

        Shapes are ``(n,)`` per anchor for hard mining and ``(n, n)`` per
        anchor-positive pair for semi-hard mining.
        """
        dist, positive, negative = self.dist, self.positive, self.negative
        # Stands in for "no candidate" in min reductions; no gradient flows to it.
        beyond = tf.stop_gradient(tf.reduce_max(dist)) + 1.0
        has_negative = tf.reduce_any(negative, axis=1)
        if self.mining == "hard":
            hardest_positive = tf.reduce_max(tf.where(positive, dist, tf.zeros_like(dist)), axis=1)
            hardest_negative = tf.reduce_min(tf.where(negative, dist, beyond), axis=1)
            valid = tf.logical_and(tf.reduce_any(positive, axis=1), has_negative)
            return hardest_positive, hardest_negative, valid
        anchor_positive = dist[:, :, None]
        anchor_negative = dist[:, None, :]
        # semi_hard[a, p, n]: n is a negative of a, farther from a than p is.
        semi_hard = tf.logical_and(negative[:, None, :], anchor_negative > anchor_positive)
        closest_semi_hard = tf.reduce_min(tf.where(semi_hard, anchor_negative, beyond), axis=2)
        farthest_negative = tf.reduce_max(tf.where(negative, dist, tf.zeros_like(dist)), axis=1)
        chosen_negative = tf.where(
            tf.reduce_any(semi_hard, axis=2), closest_semi_hard, farthest_negative[:, None]
        )
        return dist, chosen_negative, tf.logical_and(positive, has_negative[:, None])


def _masked_mean(values, mask):
    mask = tf.cast(mask, values.dtype)
    return tf.reduce_sum(values * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)
