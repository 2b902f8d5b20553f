"""Training batches as ``tf.data`` pipelines: class-balanced P x K, or pairs.

Each class-balanced batch holds ``P`` distinct classes with ``K`` rows each, so every anchor
has positives and negatives in its own batch. Batches are drawn inside the
TensorFlow graph from stateless random ops seeded by ``(seed, step)``: there is
no per-step Python work, the stream is reproducible, and batches can be built
in parallel with training. The rows are gathered from one in-memory tensor;
nothing is copied per epoch.

Pair batches walk through labelled pairs in a fresh random order each epoch,
drawn the same stateless way.
"""

import numpy as np
import tensorflow as tf


def batch_layout(n_classes, batch_size, samples_per_class):
    """Classes per batch ``P`` and rows per class ``K``.

    ``P = batch_size // samples_per_class`` classes, capped by the number of
    classes; when the cap applies, ``K`` grows so the batch stays near
    ``batch_size`` rows.
    """
    classes_per_batch = max(1, min(n_classes, batch_size // samples_per_class))
    per_class = samples_per_class
    if classes_per_batch == n_classes:
        per_class = max(samples_per_class, batch_size // n_classes)
    return classes_per_batch, per_class


class ClassBalancedSampler:
    """Draws P x K index batches from class labels.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
        Class labels of any type; at least two distinct values.
    batch_size, samples_per_class : int
        Target rows per batch and ``K``; see :func:`batch_layout`. A class
        with fewer than ``K`` rows is drawn with replacement; otherwise its
        ``K`` rows are distinct.
    """

    def __init__(self, labels, batch_size, samples_per_class):
        _, codes = np.unique(np.asarray(labels), return_inverse=True)
        counts = np.bincount(codes)
        n_classes = len(counts)
        self.classes_per_batch, self.samples_per_class = batch_layout(
            n_classes, batch_size, samples_per_class
        )
        width = max(int(counts.max()), self.samples_per_class)
        # Row c lists the sample indices of class c, padded to a common width.
        table = np.zeros((n_classes, width), dtype=np.int64)
        for code in range(n_classes):
            members = np.flatnonzero(codes == code)
            table[code, : len(members)] = members
        self._table = tf.constant(table)
        self._counts = tf.constant(counts, dtype=tf.int32)
        self._n_classes = n_classes
        self._width = width
        # One epoch draws about as many rows as there are samples.
        self.steps_per_epoch = max(1, int(np.ceil(len(codes) / self.batch_size)))

    @property
    def batch_size(self):
        return self.classes_per_batch * self.samples_per_class

    def sample(self, seed):
        """Row indices and integer class codes of one batch.

        ``seed`` is a stateless seed pair: the same pair gives the same batch.
        """
        class_seed, row_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, num=2)
        )
        class_keys = tf.random.stateless_uniform([self._n_classes], seed=class_seed)
        classes = tf.math.top_k(class_keys, k=self.classes_per_batch).indices
        counts = tf.gather(self._counts, classes)
        row_keys = tf.random.stateless_uniform(
            [self.classes_per_batch, self._width], seed=row_seed
        )
        # Padding slots get keys above every real one, so the K smallest keys
        # are K distinct members when the class has K of them.
        is_member = tf.range(self._width)[None, :] < counts[:, None]
        row_keys = tf.where(is_member, row_keys, 2.0)
        slots = tf.math.top_k(-row_keys, k=self.samples_per_class).indices
        # Smaller classes wrap around: rows repeat, drawn with replacement.
        slots = slots % counts[:, None]
        indices = tf.gather(self._table, classes)
        indices = tf.gather(indices, slots, batch_dims=1)
        codes = tf.repeat(classes, self.samples_per_class)
        return tf.reshape(indices, [-1]), codes

    def dataset(self, data, seed, n_batches=None):
        """A ``tf.data.Dataset`` of ``(rows, codes)`` batches.

        Parameters
        ----------
        data : tf.Tensor of shape (n_samples, ...)
            The rows, already in memory; batches gather from it.
        seed : int
            Seeds the whole stream: batch ``i`` depends on ``(seed, i)`` only.
        n_batches : int or None
            Length of the stream; None makes it endless.
        """
        steps = tf.data.Dataset.range(n_batches) if n_batches else tf.data.Dataset.counter()

        def draw(step):
            indices, codes = self.sample(tf.stack([tf.constant(seed, tf.int64), step]))
            return tf.gather(data, indices), codes

        return steps.map(
            draw, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        ).prefetch(tf.data.AUTOTUNE)


class PairSampler:
    """Batches of labelled pairs, each epoch in a new random order.

    Parameters
    ----------
    same : ndarray of shape (n_pairs,)
        1 for matching pairs, 0 for the others.
    batch_size : int
        Rows per batch: a batch holds ``batch_size // 2`` pairs (at least
        one), the last batch of an epoch fewer.
    """

    def __init__(self, same, batch_size):
        self._same = tf.constant(np.asarray(same), dtype=tf.int32)
        self._n_pairs = len(same)
        self.pairs_per_batch = max(1, min(batch_size // 2, self._n_pairs))
        self.steps_per_epoch = int(np.ceil(self._n_pairs / self.pairs_per_batch))

    def dataset(self, data, seed, n_batches=None):
        """A ``tf.data.Dataset`` of ``(rows, same)`` batches.

        Parameters
        ----------
        data : tf.Tensor of shape (2 * n_pairs, ...)
            Pair ``i`` is rows ``2 * i`` and ``2 * i + 1``.
        seed : int
            Seeds the order of every epoch: epoch ``e`` depends on ``(seed, e)``.
        n_batches : int or None
            Length of the stream; None makes it endless.

        Batches hold the first rows of their pairs, then the second rows, as
        :func:`~sksiamese.losses.contrastive_pair_loss` expects.
        """
        seed = tf.constant(seed, tf.int64)

        def epoch_order(epoch):
            keys = tf.random.stateless_uniform([self._n_pairs], seed=tf.stack([seed, epoch]))
            order = tf.argsort(keys)
            return tf.data.Dataset.from_tensor_slices(order).batch(self.pairs_per_batch)

        def gather(pairs):
            rows = tf.concat([2 * pairs, 2 * pairs + 1], axis=0)
            return tf.gather(data, rows), tf.gather(self._same, pairs)

        batches = tf.data.Dataset.counter().flat_map(epoch_order)
        if n_batches:
            batches = batches.take(n_batches)
        return batches.map(
            gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        ).prefetch(tf.data.AUTOTUNE)
