"""Distances and triplet losses with online mining inside a batch.

Every loss here works from the batch's pairwise distance matrix and label
masks, so no list of triplets is ever materialised: a batch of ``B`` rows costs
``B x B`` memory (``B x B x B`` booleans for semi-hard and batch-all mining).

Margins are in the unit of the distance:

- ``"euclidean"``: ``||a - b||``; with unit-norm embeddings it lies in [0, 2].
- ``"sqeuclidean"``: ``||a - b||**2``; in [0, 4] for unit-norm embeddings.
- ``"cosine"``: ``1 - cos(a, b)``; in [0, 2] whatever the norms.
"""

import tensorflow as tf

DISTANCES = ("euclidean", "sqeuclidean", "cosine")
MININGS = ("semi-hard", "hard", "all")

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
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}.")
    if distance == "cosine":
        unit = tf.math.l2_normalize(embeddings, axis=1)
        similarity = tf.matmul(unit, unit, transpose_b=True)
        return tf.maximum(1.0 - similarity, 0.0) * _off_diagonal(similarity)
    square_norms = tf.reduce_sum(tf.square(embeddings), axis=1)
    gram = tf.matmul(embeddings, embeddings, transpose_b=True)
    squared = square_norms[:, None] - 2.0 * gram + square_norms[None, :]
    # Rounding can make the expansion slightly negative; the diagonal is zero.
    squared = tf.maximum(squared, 0.0) * _off_diagonal(squared)
    if distance == "sqeuclidean":
        return squared
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
    if mining not in MININGS:
        raise ValueError(f"mining must be one of {MININGS}, got {mining!r}.")
    embeddings = tf.convert_to_tensor(embeddings)
    if embeddings.dtype in (tf.float16, tf.bfloat16):
        # Half precision cannot resolve small margins; the loss is cheap anyway.
        embeddings = tf.cast(embeddings, tf.float32)
    dist = pairwise_distances(embeddings, distance)
    labels = tf.reshape(labels, [-1])
    same = tf.equal(labels[:, None], labels[None, :])
    not_self = tf.logical_not(tf.eye(tf.shape(labels)[0], dtype=tf.bool))
    positive = tf.logical_and(same, not_self)
    negative = tf.logical_not(same)
    margin = tf.constant(margin, dtype=dist.dtype)
    # Stands in for "no candidate" in min/max reductions; no gradient flows to it.
    beyond = tf.stop_gradient(tf.reduce_max(dist)) + 1.0
    if mining == "hard":
        return _batch_hard(dist, positive, negative, margin, beyond)
    if mining == "all":
        return _batch_all(dist, positive, negative, margin)
    return _semi_hard(dist, positive, negative, margin, beyond)


def _masked_mean(values, mask):
    mask = tf.cast(mask, values.dtype)
    return tf.reduce_sum(values * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def _batch_hard(dist, positive, negative, margin, beyond):
    hardest_positive = tf.reduce_max(tf.where(positive, dist, tf.zeros_like(dist)), axis=1)
    hardest_negative = tf.reduce_min(tf.where(negative, dist, beyond), axis=1)
    valid = tf.logical_and(tf.reduce_any(positive, axis=1), tf.reduce_any(negative, axis=1))
    losses = tf.nn.relu(hardest_positive - hardest_negative + margin)
    return _masked_mean(losses, valid)


def _batch_all(dist, positive, negative, margin):
    # losses[a, p, n] = d(a, p) - d(a, n) + margin
    losses = tf.nn.relu(dist[:, :, None] - dist[:, None, :] + margin)
    valid = tf.logical_and(positive[:, :, None], negative[:, None, :])
    losses = tf.where(valid, losses, tf.zeros_like(losses))
    return _masked_mean(losses, losses > 0.0)


def _semi_hard(dist, positive, negative, margin, beyond):
    anchor_positive = dist[:, :, None]
    anchor_negative = dist[:, None, :]
    # semi_hard[a, p, n]: n is a negative of a, farther from a than p is.
    semi_hard = tf.logical_and(negative[:, None, :], anchor_negative > anchor_positive)
    closest_semi_hard = tf.reduce_min(
        tf.where(semi_hard, anchor_negative, beyond), axis=2
    )
    farthest_negative = tf.reduce_max(tf.where(negative, dist, tf.zeros_like(dist)), axis=1)
    chosen_negative = tf.where(
        tf.reduce_any(semi_hard, axis=2), closest_semi_hard, farthest_negative[:, None]
    )
    losses = tf.nn.relu(dist - chosen_negative + margin)
    valid = tf.logical_and(positive, tf.reduce_any(negative, axis=1)[:, None])
    return _masked_mean(losses, valid)
