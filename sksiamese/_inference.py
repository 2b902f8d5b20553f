"""Compiled, batched inference for a fitted encoder.

``keras.Model.predict`` builds a data pipeline and a progress bar on every
call, which costs tens of milliseconds even for one row. Here each input
dtype gets one ``tf.function`` with a dynamic batch dimension, traced once and
then called directly on slices of the input, writing into a preallocated
output: peak memory stays near the size of the output plus one chunk, also
for inputs memory-mapped from disk or sparse, which are read one chunk at a
time.
"""

import threading

import numpy as np

from ._encoder import float64_twin
from ._rows import SparseRows, is_in_memory_array, iter_chunks, rows_per_chunk
from ._tensorflow import tf


class EncoderRunner:
    """Embeds rows with ``encoder`` in chunks of ``chunk_size``.

    float32 rows run through the encoder as trained. float64 rows run through
    a float64 copy of it, so each row's embedding does not depend on which
    other rows share its chunk (to within 1e-15); the copy is made on first
    use. Safe to call from several threads at once.
    """

    def __init__(self, encoder, chunk_size=1024):
        self.encoder = encoder
        self.chunk_size = chunk_size
        self._output_shape = tuple(encoder.output_shape[1:])
        self._functions = {}
        self._lock = threading.Lock()

    def __call__(self, rows, dtype=None, out=None):
        """Embeddings of ``rows``, computed in ``dtype`` (default: the rows' own).

        Disk-backed rows are read, and sparse rows
        (:class:`~sksiamese._rows.SparseRows`) densified, one chunk at a time.
        ``out``, an array of the result's shape (a memory-mapped file, say),
        receives them.
        """
        dtype = np.dtype(dtype or rows.dtype)
        function = self._function(dtype)
        if out is None and len(rows) <= self.chunk_size and is_in_memory_array(rows):
            # Fast path: one call, no staging buffer.
            return function(rows.astype(dtype, copy=False)).numpy()
        chunk_rows = self.chunk_size
        if isinstance(rows, SparseRows):
            # Dense chunks of wide sparse rows (a text vocabulary) would be
            # large at chunk_size rows: bound their bytes instead.
            chunk_rows = min(chunk_rows, rows_per_chunk(rows, dtype.itemsize))
        embedded = np.empty((len(rows), *self._output_shape), dtype=dtype) if out is None else out
        for start, chunk in iter_chunks(rows, chunk_rows, dtype=dtype):
            embedded[start : start + len(chunk)] = function(chunk).numpy()
        return embedded

    def _function(self, dtype):
        function = self._functions.get(dtype)
        if function is None:
            with self._lock:
                if dtype not in self._functions:
                    self._functions[dtype] = self._compile(np.dtype(dtype))
                function = self._functions[dtype]
        return function

    def _compile(self, dtype):
        model = self.encoder
        if dtype == np.float64:
            model = float64_twin(self.encoder) or self.encoder
        signature = tf.TensorSpec((None, *self.encoder.input_shape[1:]), tf.as_dtype(dtype))
        return tf.function(
            _Embed(model, signature.dtype), input_signature=[signature], jit_compile=False
        )


class _Embed:
    """Embeds a batch with one model: the function one runner compiles per dtype.

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
