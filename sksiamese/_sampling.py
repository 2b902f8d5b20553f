"""Training batches as ``tf.data`` pipelines: class-balanced P x K, or pairs.

Each class-balanced batch holds ``P`` distinct classes with ``K`` rows each, so
every anchor has positives and negatives in its own batch. Batches are drawn
inside the TensorFlow graph from stateless random ops seeded by ``(seed,
index)``: the stream is reproducible, and batches are built in parallel with
training. Rows come from a *reader*, a function from row indices to rows:
NumPy indexing of the caller's array, or reads from a memory-mapped file
(:func:`row_reader`).

A class-balanced sampler can also draw every class of square images as four
classes: the class itself and its copies turned by 90, 180 and 270 degrees
(:func:`quarter_turns`). Batch codes then name the turned class, and the rows
are turned after they are read.

Pair batches walk through labelled pairs in a fresh random order each epoch,
drawn the same stateless way.

Under a ``tf.distribute`` strategy with ``R`` replicas in sync, ``batch_size``
is the global batch: each replica draws its own batch of about ``batch_size /
R`` rows, batch ``index = step * R + replica`` of the stream. Without a
strategy, ``R = 1`` and the stream index is the step.
"""

import numpy as np

from ._rows import DiskRows, is_disk_backed, is_in_memory_array
from ._tensorflow import tf

# In-memory rows up to this many bytes are copied once into a tensor and
# gathered inside the graph, with no Python call per batch (the benchmarks'
# train section compares fit with a plain loop). Larger arrays are gathered
# from the caller's array by NumPy: a tensor of them would hold a second and a
# third copy (the tensor, and the constant the input pipeline captures).
_TENSOR_ROWS_LIMIT = 64 * 2**20


def row_reader(rows):
    """A function mapping a tensor of row indices to a float32 batch of ``rows``.

    Small in-memory rows (float32) are gathered from a tensor copy of them;
    larger ones by NumPy indexing of the caller's array, never copied;
    disk-backed rows by reads from their file; sparse rows
    (:class:`~sksiamese._rows.SparseRows`) by densifying the batch's rows
    alone.
    """
    row_shape = tuple(rows.shape[1:])
    if is_in_memory_array(rows) and rows.nbytes <= _TENSOR_ROWS_LIMIT:
        table = tf.constant(rows)
        return lambda indices: tf.gather(table, indices)
    take = DiskRows(rows, row_shape).take if is_disk_backed(rows) else rows.__getitem__

    def read(indices):
        batch = tf.numpy_function(take, [indices], tf.float32)
        # Keep the batch size static, as the tensor gather does: the loss
        # chooses its way of mining from it when the step is traced.
        return tf.ensure_shape(batch, (indices.shape[0], *row_shape))

    return read


def mirror_images(rows, mirrored):
    """Mirror each image of ``rows`` left to right where ``mirrored[i]`` is true.

    ``rows`` has shape ``(batch, height, width, channels)``.
    """
    return tf.where(
        tf.reshape(tf.cast(mirrored, tf.bool), [-1, 1, 1, 1]), tf.image.flip_left_right(rows), rows
    )


def quarter_turns(rows, turns):
    """Turn each image of ``rows`` counter-clockwise by ``turns[i]`` quarter turns.

    ``rows`` has shape ``(batch, size, size, channels)``: square images keep
    their shape whatever the turn.
    """
    turned = tf.stack([tf.image.rot90(rows, k) for k in range(4)])
    batch = tf.range(tf.shape(rows, out_type=tf.int64)[0])
    return tf.gather_nd(turned, tf.stack([tf.cast(turns, tf.int64), batch], axis=1))


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


def check_positive_pairs(labels, *, held_out=False):
    """Refuse class labels from which no P x K batch can draw a positive pair.

    A class with fewer than ``K`` rows is drawn with replacement, so a class
    of one row fills its slots with copies of that row: positives of each
    other at distance zero, which pull nothing together. When every class
    has one row, training would run without a single real positive pair.
    """
    _, counts = np.unique(labels, return_counts=True)
    if counts.max() < 2:
        raise ValueError(
            "Every class in y has a single training row"
            + (" once validation_fraction is held out" if held_out else "")
            + ", so no batch can hold a positive pair (two rows of one class) and "
            "the network would learn nothing. Give at least one class two rows or more"
            + (", or set early_stopping=False." if held_out else ".")
        )


def _stream(draw, seed, n_replicas, n_batches, input_context):
    """``draw(stream_seed)`` for the batches this input pipeline feeds.

    Pipeline ``i`` of ``N`` feeds ``R = n_replicas / N`` replicas; its
    element ``j`` is the batch of global step ``j // R`` for replica ``i * R
    + j % R``. ``n_batches`` counts global steps.
    """
    pipelines, pipeline = 1, 0
    if input_context is not None:
        pipelines, pipeline = input_context.num_input_pipelines, input_context.input_pipeline_id
    local = n_replicas // pipelines
    elements = tf.data.Dataset.range(n_batches * local) if n_batches else tf.data.Dataset.counter()
    seed = tf.constant(seed, tf.int64)

    def element(j):
        index = (j // local) * n_replicas + pipeline * local + j % local
        return draw(tf.stack([seed, index]), index)

    return elements.map(element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(
        tf.data.AUTOTUNE
    )


class ClassBalancedSampler:
    """Draws P x K index batches from class labels.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
        Class labels of any type; at least two distinct values.
    batch_size, samples_per_class : int
        Target rows per (global) batch and ``K``; see :func:`batch_layout`.
        A class with fewer than ``K`` rows is drawn with replacement;
        otherwise its ``K`` rows are distinct.
    index : ndarray of shape (n_samples,) or None
        Position of each sample in the rows batches are read from; None
        means sample ``i`` is row ``i``.
    n_replicas : int
        Replicas that each draw a batch per step.
    rotated_classes : bool
        Also draw each class turned by 90, 180 and 270 degrees, as three
        further classes. Needs rows of square images, shape ``(size, size,
        channels)``.
    mirrored_classes : bool
        Also draw each class (and each of its turns) mirrored left to
        right, as a further class. Needs rows of images, shape ``(height,
        width, channels)``.

    With either, class code ``c + variant * n_classes`` is class ``c`` in
    variant ``variant = mirrored + 2 * turns`` (``mirrored`` is 0 without
    ``mirrored_classes``; the factor is 1 instead of 2 then): mirrored left
    to right first, then turned ``turns`` quarter turns. Epochs keep their
    number of steps whatever the variants.

    The class of each sample is found by one lookup table sorted by class;
    drawing a batch costs ``O(n_classes + P * K)``, however large the
    classes.
    """

    def __init__(
        self,
        labels,
        batch_size,
        samples_per_class,
        *,
        index=None,
        n_replicas=1,
        rotated_classes=False,
        mirrored_classes=False,
    ):
        _, codes = np.unique(np.asarray(labels), return_inverse=True)
        counts = np.bincount(codes)
        self._n_classes = len(counts)
        self.n_replicas = n_replicas
        self.rotated_classes = rotated_classes
        self.mirrored_classes = mirrored_classes
        # Turned and mirrored copies are classes of their own, drawn like the others.
        n_variants = (4 if rotated_classes else 1) * (2 if mirrored_classes else 1)
        self._n_drawn_classes = self._n_classes * n_variants
        self.classes_per_batch, self.samples_per_class = batch_layout(
            self._n_drawn_classes, -(-batch_size // n_replicas), samples_per_class
        )
        order = np.argsort(codes, kind="stable")
        if index is not None:
            order = np.asarray(index)[order]
        # Class c's samples are rows members[starts[c] : starts[c] + counts[c]].
        self._members = tf.constant(order.astype(np.int64))
        self._starts = tf.constant(np.cumsum(counts) - counts, dtype=tf.int64)
        self._counts = tf.constant(counts, dtype=tf.int64)
        # One epoch draws about as many rows as there are samples.
        self.steps_per_epoch = max(1, int(np.ceil(len(codes) / (self.batch_size * n_replicas))))

    @property
    def batch_size(self):
        """Rows in the batch of one replica."""
        return self.classes_per_batch * self.samples_per_class

    def sample(self, seed):
        """Row indices and integer class codes of one batch.

        ``seed`` is a stateless seed pair: the same pair gives the same batch.
        With ``rotated_classes`` or ``mirrored_classes``, code ``c + variant
        * n_classes`` marks rows of class ``c`` to be mirrored and turned as
        ``variant`` says (see the class's notes).
        """
        class_seed, row_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
        class_keys = tf.random.stateless_uniform([self._n_drawn_classes], seed=class_seed)
        drawn = tf.cast(tf.math.top_k(class_keys, k=self.classes_per_batch).indices, tf.int64)
        classes = drawn % self._n_classes
        counts = tf.gather(self._counts, classes)
        # Slot k of a class is member k of a random permutation of the class,
        # K distinct members (every member in turn when the class has fewer
        # than K), rotated by a random offset of the class's own so that
        # classes of equal size do not pick the same positions.
        shuffle_seed, offset_seed = tf.unstack(
            tf.random.experimental.stateless_split(row_seed, num=2)
        )
        slots = tf.range(self.samples_per_class, dtype=tf.int64)[None, :] % counts[:, None]
        max_index = tf.broadcast_to(counts[:, None] - 1, tf.shape(slots))
        shuffled = tf.reshape(
            tf.random.experimental.index_shuffle(
                tf.reshape(slots, [-1]), seed=shuffle_seed, max_index=tf.reshape(max_index, [-1])
            ),
            tf.shape(slots),
        )
        offsets = tf.random.stateless_uniform(
            [self.classes_per_batch, 1], seed=offset_seed, maxval=2**62, dtype=tf.int64
        )
        shuffled = tf.reshape((shuffled + offsets) % counts[:, None], [-1])
        starts = tf.repeat(tf.gather(self._starts, classes), self.samples_per_class)
        codes = tf.repeat(drawn, self.samples_per_class)
        return tf.gather(self._members, starts + shuffled), codes

    def dataset(self, read, seed, *, n_batches=None, input_context=None):
        """A ``tf.data.Dataset`` of ``(rows, codes)`` batches.

        Parameters
        ----------
        read : callable
            Maps a tensor of row indices to the rows; see :func:`row_reader`.
        seed : int
            Seeds the whole stream: batch ``index`` depends on ``(seed,
            index)`` only.
        n_batches : int or None
            Number of (global) steps; None makes the stream endless.
        input_context : tf.distribute.InputContext or None
            Which input pipeline this is, under a distribution strategy.
        """

        def draw(stream_seed, _):
            indices, codes = self.sample(stream_seed)
            rows = read(indices)
            variants = codes // self._n_classes
            if self.mirrored_classes:
                rows = mirror_images(rows, variants % 2)
                variants //= 2
            if self.rotated_classes:
                rows = quarter_turns(rows, variants)
            return rows, codes

        return _stream(draw, seed, self.n_replicas, n_batches, input_context)


class PairSampler:
    """Batches of labelled pairs, each epoch in a new random order.

    Parameters
    ----------
    same : ndarray of shape (n_pairs,)
        1 for matching pairs, 0 for the others.
    batch_size : int
        Rows per (global) batch: a step takes ``batch_size // 2`` pairs (at
        least one), shared out among the replicas.
    index : ndarray of shape (n_pairs,) or None
        Which pair of the rows each label belongs to: pair ``p`` is rows
        ``2 * p`` and ``2 * p + 1``. None means label ``i`` is pair ``i``.
    n_replicas : int
        Replicas that each draw a batch per step.

    Each epoch visits every pair once in a new order; the last step of an
    epoch is filled up with pairs from the start of that order, so every
    batch has the same size.
    """

    def __init__(self, same, batch_size, *, index=None, n_replicas=1):
        self._same = tf.constant(np.asarray(same), dtype=tf.int32)
        self._pair_ids = None if index is None else tf.constant(np.asarray(index), tf.int64)
        self._n_pairs = len(same)
        self.n_replicas = n_replicas
        pairs_per_step = max(1, min(batch_size // 2, self._n_pairs))
        self.pairs_per_batch = -(-pairs_per_step // n_replicas)
        self.steps_per_epoch = int(np.ceil(self._n_pairs / (self.pairs_per_batch * n_replicas)))

    def dataset(self, read, seed, *, n_batches=None, input_context=None):
        """A ``tf.data.Dataset`` of ``(rows, same)`` batches.

        Parameters
        ----------
        read : callable
            Maps a tensor of row indices to the rows; see :func:`row_reader`.
        seed : int
            Seeds the order of every epoch: epoch ``e`` depends on ``(seed, e)``.
        n_batches : int or None
            Number of (global) steps; None makes the stream endless.
        input_context : tf.distribute.InputContext or None
            Which input pipeline this is, under a distribution strategy.

        Batches hold the first rows of their pairs, then the second rows, as
        :func:`~sksiamese.losses.contrastive_pair_loss` expects.
        """
        per_step = self.pairs_per_batch * self.n_replicas
        seed_tensor = tf.constant(seed, tf.int64)

        def draw(_, index):
            step, replica = index // self.n_replicas, index % self.n_replicas
            epoch, step_in_epoch = step // self.steps_per_epoch, step % self.steps_per_epoch
            first = step_in_epoch * per_step + replica * self.pairs_per_batch
            positions = (first + tf.range(self.pairs_per_batch, dtype=tf.int64)) % self._n_pairs
            # Position p of epoch e holds pair index_shuffle(p): a stateless
            # permutation of the pairs, never materialised.
            labels = tf.random.experimental.index_shuffle(
                positions, seed=tf.stack([seed_tensor, epoch]), max_index=self._n_pairs - 1
            )
            pairs = labels if self._pair_ids is None else tf.gather(self._pair_ids, labels)
            rows = tf.concat([2 * pairs, 2 * pairs + 1], axis=0)
            return read(rows), tf.gather(self._same, labels)

        return _stream(draw, seed, self.n_replicas, n_batches, input_context)
