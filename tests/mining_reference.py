"""Brute-force semi-hard and batch-all mining: the definitions, in O(B**3).

Every anchor-positive pair is compared with every negative in one ``(B, B,
B)`` tensor, exactly as the definitions read. The library mines from sorted
distances instead; the tests check that both give the same losses and
gradients, and the benchmarks time both.
"""

import tensorflow as tf

from sksiamese.losses import pairwise_distances


def _batch(labels, embeddings, distance):
    dist = pairwise_distances(
        tf.cast(embeddings, tf.float32)
        if embeddings.dtype in (tf.float16, tf.bfloat16)
        else embeddings,
        distance,
    )
    labels = tf.reshape(labels, [-1])
    same = tf.equal(labels[:, None], labels[None, :])
    positive = tf.logical_and(same, tf.logical_not(tf.eye(tf.shape(labels)[0], dtype=tf.bool)))
    return dist, positive, tf.logical_not(same)


def _masked_mean(values, mask):
    mask = tf.cast(mask, values.dtype)
    return tf.reduce_sum(values * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def semi_hard_pairs(dist, positive, negative):
    """``(d(a, p), chosen d(a, n), valid)`` for every anchor-positive pair."""
    beyond = tf.stop_gradient(tf.reduce_max(dist)) + 1.0
    anchor_positive = dist[:, :, None]
    anchor_negative = dist[:, None, :]
    # semi_hard[a, p, n]: n is a negative of a, farther from a than p is.
    semi_hard = tf.logical_and(negative[:, None, :], anchor_negative > anchor_positive)
    closest_semi_hard = tf.reduce_min(tf.where(semi_hard, anchor_negative, beyond), axis=2)
    farthest_negative = tf.reduce_max(tf.where(negative, dist, tf.zeros_like(dist)), axis=1)
    chosen = tf.where(
        tf.reduce_any(semi_hard, axis=2), closest_semi_hard, farthest_negative[:, None]
    )
    return dist, chosen, tf.logical_and(positive, tf.reduce_any(negative, axis=1)[:, None])


def triplet_loss(labels, embeddings, *, margin, mining, distance="euclidean"):
    """Triplet loss with ``mining`` in {"semi-hard", "all"}, by brute force."""
    dist, positive, negative = _batch(labels, embeddings, distance)
    margin = tf.constant(margin, dist.dtype)
    if mining == "all":
        # losses[a, p, n] = d(a, p) - d(a, n) + margin
        losses = tf.nn.relu(dist[:, :, None] - dist[:, None, :] + margin)
        valid = tf.logical_and(positive[:, :, None], negative[:, None, :])
        losses = tf.where(valid, losses, tf.zeros_like(losses))
        return _masked_mean(losses, losses > 0.0)
    anchor_positive, anchor_negative, valid = semi_hard_pairs(dist, positive, negative)
    return _masked_mean(tf.nn.relu(anchor_positive - anchor_negative + margin), valid)


def contrastive_loss(labels, embeddings, *, margin, mining="semi-hard", distance="euclidean"):
    """Contrastive loss on semi-hard mined pairs, by brute force."""
    if mining != "semi-hard":
        raise ValueError("only semi-hard contrastive mining is cubic")
    dist, positive, negative = _batch(labels, embeddings, distance)
    anchor_positive, anchor_negative, valid = semi_hard_pairs(dist, positive, negative)
    margin = tf.constant(margin, dist.dtype)
    losses = tf.square(anchor_positive) + tf.square(tf.nn.relu(margin - anchor_negative))
    return _masked_mean(losses, valid)
