"""Compiled, batched inference for a fitted encoder.

``keras.Model.predict`` builds a data pipeline and a progress bar on every
call, which costs tens of milliseconds even for one row. Here a runner
compiles one ``tf.function`` with a dynamic batch dimension, traced once and
then called directly on slices of the input, writing into a preallocated
output: peak memory stays near the size of the output plus one chunk, also
for inputs memory-mapped from disk or sparse, which are read one chunk at a
time.

An encoder that ends in L2 normalisation is run up to that layer and the
rows are normalised here, with NumPy's correctly rounded square root and
division: TensorFlow's float32 ``rsqrt`` is computed one way in vector lanes
and another in the tail of a batch, so the same row came out as 1.0000001 or
0.99999994 times a unit vector depending on where it sat in the batch. Here
a row's embedding is the same wherever it sits. The arithmetic is the
layer's, in float32: a row whose squared norm overflows maps to zeros, as it
does in training.
"""

import threading

import numpy as np

from ._rows import SparseRows, is_in_memory_array, iter_chunks, rows_per_chunk
from ._tensorflow import keras, tf


class EncoderRunner:
    """Embeds rows with ``encoder`` in chunks of ``chunk_size``.

    Rows reach TensorFlow in the encoder's input dtype (float32), as Keras'
    own ``predict`` passes them: float64 and integer rows are cast chunk by
    chunk, and their embeddings come back in the dtype asked for. The
    encoder computes in the precision it was trained in (its mixed-precision
    policy, if any), and no float64 graph is built, which oneDNN, TensorFlow's
    CPU kernels on most x86 machines, does not handle and warns about. The
    function is compiled on first use. Safe to call from several threads at
    once.
    """

    def __init__(self, encoder, chunk_size=1024):
        self.encoder = encoder
        self.chunk_size = chunk_size
        self._input_dtype = np.dtype(encoder.inputs[0].dtype)
        self._output_shape = tuple(encoder.output_shape[1:])
        self._body = _before_unit_normalization(encoder)
        self._compiled = None
        self._lock = threading.Lock()

    def __call__(self, rows, dtype=None, out=None, shifts=None):
        """Embeddings of ``rows``, in ``dtype`` (default: the rows' own).

        Disk-backed rows are read, and sparse rows
        (:class:`~sksiamese._rows.SparseRows`) densified, one chunk at a time.
        ``out``, an array of the result's shape (a memory-mapped file, say),
        receives them. ``shifts``, ``(down, right)`` pixel offsets of image
        rows, embeds each image as the mean of the embeddings of its copies
        so shifted (edge pixels repeated), normalised again if the encoder
        normalises.
        """
        dtype = np.dtype(dtype or rows.dtype)
        function = self._function()
        if out is None and len(rows) <= self.chunk_size and is_in_memory_array(rows):
            # Fast path: one call, no staging buffer.
            embedded = self._embed(function, rows.astype(self._input_dtype, copy=False), shifts)
            return embedded.astype(dtype, copy=False)
        chunk_rows = self.chunk_size
        if isinstance(rows, SparseRows):
            # Dense chunks of wide sparse rows (a text vocabulary) would be
            # large at chunk_size rows: bound their bytes instead.
            chunk_rows = min(chunk_rows, rows_per_chunk(rows, dtype.itemsize))
        embedded = np.empty((len(rows), *self._output_shape), dtype=dtype) if out is None else out
        for start, chunk in iter_chunks(rows, chunk_rows, dtype=self._input_dtype):
            embedded[start : start + len(chunk)] = self._embed(function, chunk, shifts)
        return embedded

    def _embed(self, function, chunk, shifts):
        if shifts is None:
            return self._finish(function(chunk).numpy())
        images = chunk.reshape(len(chunk), *self.encoder.input_shape[1:])
        total = sum(
            self._finish(function(_shifted(images, down, right)).numpy()) for down, right in shifts
        )
        mean = total / np.float32(len(shifts))
        return mean if self._body is None else self._finish(mean)

    def _finish(self, embedded):
        if self._body is None:
            return embedded
        with np.errstate(over="ignore"):
            square_sum = np.square(embedded).sum(axis=1, keepdims=True)
        # Keras' UnitNormalization: x * min(rsqrt(sum x^2), 1 / 1e-12).
        return embedded / np.maximum(np.sqrt(square_sum), embedded.dtype.type(1e-12))

    def _function(self):
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    signature = tf.TensorSpec(
                        (None, *self.encoder.input_shape[1:]), tf.as_dtype(self._input_dtype)
                    )
                    self._compiled = tf.function(
                        _Embed(self._body or self.encoder, signature.dtype),
                        input_signature=[signature],
                        jit_compile=False,
                    )
        return self._compiled


def _shifted(images, down, right):
    """``images`` moved ``down`` and ``right`` pixels, the edge pixels repeated into the gap."""
    height, width = images.shape[1:3]
    rows = np.clip(np.arange(height) - down, 0, height - 1)
    columns = np.clip(np.arange(width) - right, 0, width - 1)
    return images[:, rows][:, :, columns]


def _before_unit_normalization(encoder):
    """``encoder`` up to its final L2 normalisation, or None if it has none.

    Only functional models (built from an Input) can be cut; others, and
    encoders whose embeddings are not flat vectors, are run whole.
    """
    if not isinstance(encoder, keras.Model) or not hasattr(encoder, "_nodes_by_depth"):
        return None
    last = encoder.layers[-1] if encoder.layers else None
    if not isinstance(last, keras.layers.UnitNormalization) or len(encoder.outputs) != 1:
        return None
    if encoder.outputs[0] is not last.output or len(last.output.shape) != 2:
        return None
    if tuple(np.atleast_1d(last.axis)) not in ((-1,), (1,)):
        return None
    return keras.Model(encoder.inputs, last.input, name=f"{encoder.name}_unnormalized")


class _Embed:
    """Embeds a batch with one model: the function a runner compiles.

    A callable object rather than a closure: TensorFlow counts the traces of
    every function sharing a code object as retraces of one function, so a
    closure would count each new encoder's single trace against the others
    (``GridSearchCV`` fits dozens) and log retracing warnings. An object is
    its own key.
    """

    def __init__(self, model, dtype):
        self.model = model
        self.dtype = dtype

    def __call__(self, rows):
        return tf.cast(self.model(rows, training=False), self.dtype)
