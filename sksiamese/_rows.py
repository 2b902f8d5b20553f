"""Rows held in memory, on disk or in a sparse matrix, read in chunks or by batch.

Arrays backed by a file (``np.load(path, mmap_mode="r")``, ``np.memmap``) are
never copied whole: validation, standardisation statistics, training batches
and inference all read them a piece at a time. Rows are read from the file
with ``pread`` rather than through the mapping: the data pass through the
operating system's page cache, which it reclaims at will, and never become
resident pages of this process, so its memory stays flat however large the
file. (Linux maps whole folios of a file, up to megabytes, on each page
fault, so reading scattered rows through the mapping would map most of the
file within a few batches.) Views whose rows are not contiguous in the file,
and copy-on-write mappings (``mmap_mode="c"``), whose changes never reach
the file, are read through the mapping instead.

Sparse rows (``scipy.sparse``) are kept as they are, in CSR form, and
densified a batch or a chunk at a time by :class:`SparseRows`: a dense copy
of a sparse matrix, such as the output of ``TfidfVectorizer``, can be
hundreds of times its size.
"""

import mmap
import os
import weakref

import numpy as np
import scipy.sparse

# Rows per chunk in full passes over an array: about 8 MiB.
_CHUNK_BYTES = 8 * 2**20
#: The largest float32: the network computes in float32, so rows, and
#: statistics of rows, beyond it cannot reach it.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _file_mapping(array):
    """The ``np.memmap`` that opened the file behind ``array``, and its ``mmap.mmap``."""
    owner, memmap = array, None
    while owner is not None:
        if isinstance(owner, mmap.mmap):
            return memmap, owner
        if isinstance(owner, np.memmap):
            memmap = owner
        owner = getattr(owner, "base", None)
    return None, None


def is_disk_backed(array):
    """Whether ``array`` is a view of a memory-mapped file."""
    return isinstance(array, np.ndarray) and _file_mapping(array)[1] is not None


def _row_layout(array):
    """``(path, offset, row_stride, row_bytes)`` of ``array``'s rows in its file, or None.

    None when the file is unknown, may differ from the array (a copy-on-write
    mapping keeps its changes in memory), or a row's values are not
    contiguous in it.
    """
    memmap, _ = _file_mapping(array)
    filename = getattr(memmap, "filename", None)
    if memmap is None or filename is None or memmap.mode == "c":
        return None
    if array.ndim < 1 or len(array) == 0:
        return None
    row_bytes = array.itemsize * int(np.prod(array.shape[1:], dtype=np.int64))
    contiguous = np.empty((1, *array.shape[1:]), array.dtype).strides[1:]
    if array.strides[1:] != contiguous or array.strides[0] < row_bytes:
        return None
    # The original memmap's data start at its file offset; a view starts
    # where its data pointer lies within them.
    start = array.__array_interface__["data"][0] - memmap.__array_interface__["data"][0]
    return filename, memmap.offset + start, array.strides[0], row_bytes


class DiskRows:
    """Reads rows of a memory-mapped array from its file.

    Parameters
    ----------
    array : ndarray
        A view of a memory-mapped file, of any numeric dtype.
    row_shape : tuple of int
        Shape each row is given when read.

    Safe to call from several threads at once: ``pread`` has no shared
    file position.
    """

    def __init__(self, array, row_shape):
        self.array = array
        self.row_shape = tuple(row_shape)
        self._layout = _row_layout(array)
        self._fd = None
        if self._layout is not None:
            self._fd = os.open(self._layout[0], os.O_RDONLY)
            weakref.finalize(self, os.close, self._fd)

    def take(self, indices, dtype=np.float32):
        """Rows at ``indices`` (ints or a slice) of shape ``(n, *row_shape)``.

        A copy in ``dtype``; None keeps the array's own dtype.
        """
        if self._fd is None:
            rows = self.array[indices]
        else:
            rows = self._read(indices)
        rows = np.asarray(rows, dtype=dtype)
        return rows.reshape((len(rows), *self.row_shape))

    def _read(self, indices):
        _, offset, stride, row_bytes = self._layout
        if isinstance(indices, slice):
            start, stop, step = indices.indices(len(self.array))
            if step == 1 and stride == row_bytes:
                size = max(0, stop - start) * row_bytes
                return self._rows(os.pread(self._fd, size, offset + start * stride))
            indices = np.arange(start, stop, step)
        indices = np.asarray(indices).reshape(-1)
        if indices.size and (indices.min() < -len(self.array) or indices.max() >= len(self.array)):
            raise IndexError(f"row index out of range for {len(self.array)} rows")
        positions = offset + (indices % len(self.array)) * stride
        data = b"".join([os.pread(self._fd, row_bytes, int(at)) for at in positions])
        return self._rows(data)

    def _rows(self, data):
        return np.frombuffer(data, dtype=self.array.dtype).reshape((-1, *self.array.shape[1:]))


class SparseRows:
    """Rows of a sparse matrix, seen as an array of shape ``(n, *row_shape)``.

    Indexing with ints or a slice densifies the rows asked for, and only
    them: all that training batches, full passes in chunks
    (:func:`iter_chunks`) and chunked inference ask of an array.

    Parameters
    ----------
    matrix : scipy.sparse matrix or array
        One row per sample and ``prod(row_shape)`` columns, in CSR form,
        which slices rows cheaply.
    row_shape : tuple of int
        Shape each dense row is given.
    """

    def __init__(self, matrix, row_shape):
        self.matrix = matrix
        self.row_shape = tuple(row_shape)

    @property
    def shape(self):
        return (self.matrix.shape[0], *self.row_shape)

    @property
    def dtype(self):
        return self.matrix.dtype

    @property
    def itemsize(self):
        return self.matrix.dtype.itemsize

    def __len__(self):
        return self.matrix.shape[0]

    def __getitem__(self, indices):
        rows = self.matrix[indices].toarray()
        return rows.reshape((len(rows), *self.row_shape))


def shaped_rows(X, row_shape):
    """Validated 2-D rows ``X`` seen as an array of shape ``(n_samples, *row_shape)``.

    Arrays are reshaped (a view when possible); sparse matrices, which
    ``validate_data`` has turned into CSR, are wrapped in :class:`SparseRows`
    so that they are never densified whole.
    """
    if scipy.sparse.issparse(X):
        return SparseRows(X, row_shape)
    return X.reshape((X.shape[0], *row_shape))


def is_in_memory_array(rows):
    """Whether ``rows`` is an ndarray held in memory: not on disk, not sparse."""
    return isinstance(rows, np.ndarray) and not is_disk_backed(rows)


def rows_per_chunk(array, itemsize=None):
    """Rows of ``array`` that fill a chunk of about 8 MiB, in ``itemsize`` bytes per value."""
    row_bytes = (itemsize or array.itemsize) * int(np.prod(array.shape[1:], dtype=np.int64))
    return max(1, _CHUNK_BYTES // max(1, row_bytes))


def iter_chunks(array, chunk_rows=None, dtype=None):
    """``(start, chunk)`` pieces of ``array`` along its first axis, in order.

    Chunks of a disk-backed array are copies read through :class:`DiskRows`,
    so a full pass keeps resident memory bounded; chunks of an in-memory
    array are views when no ``dtype`` conversion is asked for.
    """
    if chunk_rows is None:
        chunk_rows = rows_per_chunk(array)
    reader = DiskRows(array, array.shape[1:]) if is_disk_backed(array) else None
    for start in range(0, len(array), chunk_rows):
        stop = start + chunk_rows
        if reader is not None:
            yield start, reader.take(slice(start, stop), dtype=dtype)
        elif dtype is None:
            yield start, array[start:stop]
        else:
            yield start, array[start:stop].astype(dtype, copy=False)


def check_finite(array, name="X"):
    """Raise scikit-learn's ValueError if ``array`` holds NaN or infinity; chunk by chunk."""
    for _, chunk in iter_chunks(array):
        if np.isnan(chunk).any():
            raise ValueError(f"Input {name} contains NaN.")
        if not np.isfinite(chunk).all():
            raise ValueError(
                f"Input {name} contains infinity or a value too large for {chunk.dtype!r}."
            )


def abs_max(array):
    """Largest absolute value of ``array``, chunk by chunk; of its stored values if sparse."""
    if scipy.sparse.issparse(array):
        return float(np.abs(array.data).max(initial=0.0))
    maxima = (float(np.abs(chunk).max()) for _, chunk in iter_chunks(array) if chunk.size)
    return max(maxima, default=0.0)


def channel_moments(rows):
    """Mean of each channel (last axis) and the mean squared deviation over all values.

    Accumulated in float64 over chunks, so no float64 copy of ``rows`` is made.
    """
    n_channels = rows.shape[-1]
    total = np.zeros(n_channels)
    count = 0
    for _, chunk in iter_chunks(rows):
        flat = chunk.reshape(-1, n_channels)
        total += flat.sum(axis=0, dtype=np.float64)
        count += len(flat)
    mean = total / count
    squares = 0.0
    for _, chunk in iter_chunks(rows):
        squares += float(np.sum((chunk.reshape(-1, n_channels) - mean) ** 2))
    return mean, squares / (count * n_channels)


def row_checks(X):
    """How ``validate_data`` checks rows: in memory, sparse, or memory-mapped from disk.

    Disk-backed rows keep their dtype (no copy) and are checked for NaN
    chunk by chunk by :func:`check_disk_rows` instead of in one pass over
    the whole mapping. Sparse rows become CSR, whose rows slice cheaply.
    """
    if is_disk_backed(X):
        return {"dtype": None, "ensure_all_finite": False}
    return {"dtype": [np.float64, np.float32], "accept_sparse": "csr"}


def check_disk_rows(X):
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X memory-mapped from disk must hold numbers; it holds {X.dtype}.")
    if X.dtype.kind == "f":
        check_finite(X)
