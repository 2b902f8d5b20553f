"""Nearest-neighbour search over enrolled rows: exact (NumPy) and HNSW (faiss).

Both indexes take float32 rows, grow with :meth:`add` without being rebuilt,
and answer :meth:`search` with the ``k`` nearest rows of each query, nearest
first, as float64 distances and int64 row numbers in the order the rows were
added. A search reads the index and writes only arrays of its own, so
several threads may search one index at once.

The exact index never holds a copy of a memory-mapped block: it reads the
file a chunk at a time, as :mod:`sksiamese._rows` does everywhere.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
from threadpoolctl import threadpool_limits

from ._distances import DISTANCES
from ._io import register_codec
from ._rows import _CHUNK_BYTES, DiskRows, is_disk_backed, iter_chunks

# Queries and gallery rows scored against each other at once by one thread:
# a 512 x 4096 float32 block of scores (8 MiB), chosen among the shapes
# tried on the benchmark's gallery (128 to 1024 queries, 1024 to 8192 rows).
_QUERY_BLOCK = 512
_ROW_BLOCK = 4096


def import_faiss():
    """The ``faiss`` module, or an ImportError saying how to install it."""
    try:
        import faiss
    except ImportError as error:
        raise ImportError(
            "algorithm='hnsw' searches with faiss, which is not installed. Install "
            "sksiamese's optional extra with `pip install 'sksiamese[ann]'` (or install "
            "faiss-cpu or faiss-gpu yourself), or use algorithm='exact'."
        ) from error
    return faiss


# Share of an HNSW graph's nodes that may be removed rows before it is built
# again without them.
REBUILD_SHARE = 0.2


def make_index(algorithm, distance, *, hnsw_m=32, ef_construction=100):
    """An empty index; ``algorithm`` is ``"exact"`` or ``"hnsw"``."""
    if algorithm == "hnsw":
        return HNSWIndex(distance, hnsw_m, ef_construction)
    return ExactIndex(distance)


# Exact search ---------------------------------------------------------------


class _SingleThreadedBLAS:
    """Keeps BLAS on one thread while any search runs its own threads.

    Each search thread multiplies small blocks; BLAS threads on top of them
    would oversubscribe the cores (and halve the speed measured on two).
    threadpoolctl's limit is process-wide, so concurrent searches share one
    limit: the first to start sets it, the last to finish restores it.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._limiter = None

    def __enter__(self):
        with self._lock:
            if self._users == 0:
                self._limiter = threadpool_limits(limits=1, user_api="blas")
            self._users += 1

    def __exit__(self, *exc_info):
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._limiter.restore_original_limits()
                self._limiter = None


_single_threaded_blas = _SingleThreadedBLAS()


class _Block:
    """Rows added at once: in memory as float32, or a memory-mapped array.

    ``norms``, when given, are those of ``rows`` already computed.
    """

    def __init__(self, rows, start, distance, norms=None):
        self.rows = rows
        self.start = start
        self.reader = DiskRows(rows, rows.shape[1:]) if is_disk_backed(rows) else None
        if norms is None:
            norms = self._norms(rows, distance)
        self.norms = norms

    @staticmethod
    def _norms(rows, distance):
        """Per row, what turns a dot product with a query into a rank score.

        The squared norm (Euclidean) or the inverse norm (cosine).
        """
        norms = np.concatenate(
            [
                np.einsum("ij,ij->i", chunk, chunk)
                for _, chunk in iter_chunks(rows, dtype=np.float32)
            ]
            or [np.empty(0, np.float32)]
        )
        if distance == "cosine":
            with np.errstate(divide="ignore"):
                # A zero row has cosine distance 1 to everything, as in scikit-learn.
                norms = np.where(norms > 0, 1.0 / np.sqrt(norms), 0.0).astype(np.float32)
        return norms

    def __len__(self):
        return len(self.rows)

    def take(self, indices):
        """Rows at ``indices`` (within the block) as float32."""
        if self.reader is not None:
            return self.reader.take(indices, dtype=np.float32)
        return self.rows[indices]


class ExactIndex:
    """Exact search by blocks of matrix products, with bounded memory.

    Euclidean distances are ranked by ``|g|^2 - 2 q.g``, one product of the
    query block with the gallery rows extended by their squared norms;
    cosine distances by ``-q.g / |g|`` with unit queries. Each thread scans
    its share of the gallery in chunks of about 8 MiB and keeps each query's
    ``k`` best so far; a score block only yields candidates that beat the
    ``k``-th best, so after the first blocks little besides the product is
    done. The ``k`` found are then measured again in float64, directly from
    the rows, and sorted by that distance.

    Memory beyond the index: per thread one gallery chunk, as read and
    extended by its norms, and one score block (about 26 MiB in all), plus
    the queries and the results; not more for a larger gallery.
    """

    algorithm = "exact"

    def __init__(self, distance):
        self.distance = distance
        self.blocks = []
        self.n_features = None

    def __len__(self):
        return sum(len(block) for block in self.blocks)

    def add(self, rows):
        """Append ``rows`` as a block; a memory-mapped array stays a block of its own.

        Rows added in memory join the last block while it is smaller than a
        search chunk: adding costs about the rows added, not the gallery,
        and many small additions do not leave many small blocks to search.
        """
        self.n_features = rows.shape[1]
        if not is_disk_backed(rows):
            rows = np.ascontiguousarray(rows, dtype=np.float32)
            last = self.blocks[-1] if self.blocks else None
            if last is not None and last.reader is None and last.rows.nbytes < _CHUNK_BYTES:
                rows = np.concatenate([self.blocks.pop().rows, rows])
        if len(rows):
            self.blocks.append(_Block(rows, len(self), self.distance))

    def remove(self, rows):
        """Drop the rows at the sorted row numbers ``rows``; later rows move up.

        Rows in memory are copied without them. A memory-mapped block is
        never read in: it is split into views of the runs of rows kept.
        """
        blocks, start = [], 0
        for block in self.blocks:
            inside = rows[(rows >= block.start) & (rows < block.start + len(block))] - block.start
            if len(inside) == 0:
                kept = [(block.rows, block.norms)]
            elif block.reader is None:
                kept = [(np.delete(block.rows, inside, 0), np.delete(block.norms, inside))]
            else:
                # Runs of kept rows lie between the removed ones.
                bounds = zip(np.append(0, inside + 1), np.append(inside, len(block)))
                kept = [(block.rows[a:b], block.norms[a:b]) for a, b in bounds if b > a]
            for kept_rows, norms in kept:
                if len(kept_rows):
                    blocks.append(_Block(kept_rows, start, self.distance, norms))
                    start += len(kept_rows)
        self.blocks = blocks

    def search(self, queries, k):
        """Distances and row numbers of the ``k`` nearest rows of each query."""
        queries = np.asarray(queries, dtype=np.float32)
        ranked = self._prepare_queries(queries)
        chunks = self._chunks(queries.shape[1])
        n_threads = max(1, min(joblib.cpu_count(), len(chunks)))
        shares = [chunks[i::n_threads] for i in range(n_threads)]
        if n_threads == 1:
            found = [self._scan(ranked, shares[0], k)]
        else:
            with _single_threaded_blas, ThreadPoolExecutor(n_threads) as pool:
                found = list(pool.map(lambda share: self._scan(ranked, share, k), shares))
        scores = np.hstack([scores for scores, _ in found])
        indices = np.hstack([indices for _, indices in found])
        best = np.argsort(scores, axis=1, kind="stable")[:, :k]
        return self._measure(queries, np.take_along_axis(indices, best, axis=1))

    def _prepare_queries(self, queries):
        if self.distance == "cosine":
            norms = np.linalg.norm(queries, axis=1, keepdims=True)
            return -np.divide(queries, norms, out=np.zeros_like(queries), where=norms > 0)
        # [-2q, 1] . [g, |g|^2] = |g|^2 - 2 q.g, which ranks rows as |q - g|^2 does.
        return np.hstack([-2.0 * queries, np.ones((len(queries), 1), np.float32)])

    def _chunks(self, n_features):
        """``(block, start, stop)`` pieces of the gallery, about 8 MiB of rows each."""
        rows = max(_ROW_BLOCK, _CHUNK_BYTES // (4 * (n_features + 1)))
        return [
            (block, start, min(start + rows, len(block)))
            for block in self.blocks
            for start in range(0, len(block), rows)
        ]

    def _scan(self, ranked, chunks, k):
        """Each query's ``k`` best scores and row numbers among ``chunks``."""
        scores = np.full((len(ranked), k), np.inf, np.float32)
        indices = np.full((len(ranked), k), -1, np.int64)
        for block, start, stop in chunks:
            rows = block.take(slice(start, stop))
            if self.distance == "cosine":
                rows = rows * block.norms[start:stop, None]
            else:
                rows = np.hstack([rows, block.norms[start:stop, None]])
            for q in range(0, len(ranked), _QUERY_BLOCK):
                best = slice(q, q + _QUERY_BLOCK)
                for r in range(0, len(rows), _ROW_BLOCK):
                    product = ranked[best] @ rows[r : r + _ROW_BLOCK].T
                    scores[best], indices[best] = _merge(
                        scores[best], indices[best], product, block.start + start + r
                    )
        return scores, indices

    def _measure(self, queries, indices):
        """Float64 distances from ``queries`` to the rows at ``indices``, nearest first."""
        n, k = indices.shape
        paired = DISTANCES[self.distance].paired
        distances = np.empty((n, k))
        # About 4 MiB of gathered float64 rows at a time, which stay in cache.
        # The distances sum along rows, so a query's do not depend on the
        # others searched with it.
        step = max(1, 2**19 // max(1, k * queries.shape[1]))
        for q in range(0, n, step):
            rows = self._take(indices[q : q + step]).reshape(-1, queries.shape[1])
            repeated = np.repeat(queries[q : q + step], k, axis=0)
            distances[q : q + step] = paired(
                rows.astype(np.float64), repeated.astype(np.float64)
            ).reshape(-1, k)
        order = np.argsort(distances, axis=1, kind="stable")
        return np.take_along_axis(distances, order, 1), np.take_along_axis(indices, order, 1)

    def _take(self, indices):
        """Rows at the global row numbers ``indices`` (any shape), float32."""
        flat = indices.ravel()
        rows = np.empty((len(flat), self.n_features), np.float32)
        for block in self.blocks:
            inside = np.flatnonzero((flat >= block.start) & (flat < block.start + len(block)))
            if len(inside):
                rows[inside] = block.take(flat[inside] - block.start)
        return rows.reshape((*indices.shape, self.n_features))

    def to_state(self):
        """The index as plain values: its distance and its rows as one float32 array.

        Memory-mapped blocks are read in: the state holds the rows themselves.
        """
        rows = [block.take(slice(0, len(block))) for block in self.blocks]
        rows = np.concatenate(rows) if rows else np.empty((0, self.n_features), np.float32)
        return {"algorithm": "exact", "distance": self.distance, "rows": rows}


def _merge(best_scores, best_indices, scores, offset):
    """Each row's ``k`` best of its sorted best so far and a block of new scores.

    Only scores below the row's ``k``-th best can enter. When few do (the
    usual case once some blocks have been seen), they are merged by one sort
    of the candidates; when many do, each row's ``k`` best of the block are
    picked first.
    """
    n, k = best_scores.shape
    entering = scores < best_scores[:, -1:]
    # Counting is about 40 times cheaper per score than np.nonzero on the
    # block: most blocks stop here.
    n_entering = np.count_nonzero(entering)
    if n_entering == 0:
        return best_scores, best_indices
    if n_entering > 4 * n * k:
        if scores.shape[1] > k:
            columns = np.argpartition(scores, k - 1, axis=1)[:, :k]
        else:
            columns = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
        merged_scores = np.hstack([best_scores, np.take_along_axis(scores, columns, 1)])
        merged_indices = np.hstack([best_indices, columns + offset])
        order = np.argsort(merged_scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(merged_scores, order, 1), np.take_along_axis(
            merged_indices, order, 1
        )
    # flatnonzero is over 10 times faster than np.nonzero of the 2-D block.
    positions = np.flatnonzero(entering)
    rows, columns = np.divmod(positions, scores.shape[1])
    candidate_rows = np.concatenate([np.repeat(np.arange(n), k), rows])
    candidate_scores = np.concatenate([best_scores.ravel(), scores.ravel()[positions]])
    candidate_indices = np.concatenate([best_indices.ravel(), columns + offset])
    order = np.lexsort((candidate_scores, candidate_rows))
    # Every row has at least its k old entries: its first k in the sort are its best.
    starts = np.concatenate([[0], np.cumsum(np.bincount(candidate_rows, minlength=n))[:-1]])
    take = order[starts[:, None] + np.arange(k)]
    return candidate_scores[take], candidate_indices[take]


# Approximate search: HNSW ----------------------------------------------------


class HNSWIndex:
    """faiss's ``IndexHNSWFlat``: a navigable small-world graph over the rows.

    Cosine distances search unit rows by inner product; Euclidean ones by
    squared L2. ``ef_search`` is given per search (faiss'
    ``SearchParametersHNSW``), so searches with different values may run at
    once.

    The graph cannot drop a node cheaply, so removed rows stay in it, listed
    in ``removed`` (faiss' ids, sorted), and every search skips them (faiss'
    ``IDSelectorBitmap``). Row numbers seen from outside count the rows
    kept only, as if the removed ones had never been added. Once more than
    :data:`REBUILD_SHARE` of the graph's nodes are removed, the graph is
    built again from the rows kept: skipped nodes still cost search time.
    """

    algorithm = "hnsw"

    def __init__(self, distance, m, ef_construction):
        self.distance = distance
        self.m = m
        self.ef_construction = ef_construction
        self.index = None
        self.removed = np.empty(0, np.int64)
        self._kept_bitmap = None

    def __len__(self):
        return 0 if self.index is None else self.index.ntotal - len(self.removed)

    @property
    def n_features(self):
        return self.index.d

    def add(self, rows):
        """Insert ``rows`` into the graph, a chunk at a time for memory-mapped ones."""
        faiss = import_faiss()
        if self.index is None:
            self.index = self._empty_graph(faiss, rows.shape[1])
        for _, chunk in iter_chunks(rows, dtype=np.float32):
            self.index.add(self._prepare(chunk))
        self._update_bitmap()

    def _empty_graph(self, faiss, n_features):
        graph = faiss.IndexHNSWFlat(n_features, self.m, self.metric(faiss))
        graph.hnsw.efConstruction = self.ef_construction
        return graph

    def remove(self, rows):
        """Skip the rows at the sorted row numbers ``rows`` from now on; later rows move up.

        Returns whether the graph was built again.
        """
        ids = np.delete(np.arange(self.index.ntotal), self.removed)[rows]
        self.removed = np.union1d(self.removed, ids)
        if len(self.removed) > REBUILD_SHARE * self.index.ntotal:
            self._rebuild()
            return True
        self._update_bitmap()
        return False

    def _rebuild(self):
        """A new graph of the rows kept, read from the old one a chunk at a time."""
        faiss = import_faiss()
        old = self.index
        kept = np.delete(np.arange(old.ntotal), self.removed)
        self.index = self._empty_graph(faiss, old.d)
        step = max(1, _CHUNK_BYTES // (4 * old.d))
        for start in range(0, len(kept), step):
            # Stored rows are unit rows already for cosine.
            self.index.add(old.reconstruct_batch(kept[start : start + step]))
        self.removed = np.empty(0, np.int64)
        self._update_bitmap()

    def _update_bitmap(self):
        """faiss' bitmap of the ids kept, one bit each (little-endian), or None if all are."""
        if len(self.removed) == 0:
            self._kept_bitmap = None
            return
        kept = np.ones(self.index.ntotal, bool)
        kept[self.removed] = False
        self._kept_bitmap = np.packbits(kept, bitorder="little")

    def _selector(self, faiss):
        """``(selector, bitmap)``: the bitmap must outlive the search that reads it."""
        bitmap = self._kept_bitmap
        if bitmap is None:
            return None, None
        return faiss.IDSelectorBitmap(self.index.ntotal, faiss.swig_ptr(bitmap)), bitmap

    def _row_numbers(self, ids):
        """Row numbers among the rows kept of faiss' ``ids`` (-1 stays -1)."""
        if len(self.removed) == 0:
            return ids
        return np.where(ids >= 0, ids - np.searchsorted(self.removed, ids), -1)

    def metric(self, faiss):
        """faiss' metric for the distance: inner product of unit rows for cosine."""
        return faiss.METRIC_INNER_PRODUCT if self.distance == "cosine" else faiss.METRIC_L2

    def search(self, queries, k, ef_search):
        """Distances and row numbers of the (approximately) ``k`` nearest rows."""
        faiss = import_faiss()
        queries = self._prepare(queries)
        selector, bitmap = self._selector(faiss)
        # The search keeps ef candidates; fewer than k could not return k.
        ef = max(int(ef_search), k)
        parameters = faiss.SearchParametersHNSW(efSearch=ef, sel=selector)
        scores, ids = self.index.search(queries, k, params=parameters)
        # Among candidates that are mostly removed rows, faiss may find fewer
        # than k kept ones: search those queries again, wider.
        short = np.flatnonzero((ids < 0).any(axis=1)) if k <= len(self) else []
        while len(short) and ef < self.index.ntotal:
            ef *= 2
            parameters = faiss.SearchParametersHNSW(efSearch=ef, sel=selector)
            scores[short], ids[short] = self.index.search(queries[short], k, params=parameters)
            short = short[(ids[short] < 0).any(axis=1)]
        del bitmap  # read by faiss until here
        distances = _faiss_distances(scores.astype(np.float64), self.distance)
        # faiss marks missing neighbours with -1; they rank last.
        distances[ids < 0] = np.inf
        return distances, self._row_numbers(ids.astype(np.int64))

    def exact_search(self, queries, k):
        """Row numbers of the exactly ``k`` nearest rows, by a scan of the graph's own rows."""
        faiss = import_faiss()
        selector, bitmap = self._selector(faiss)
        storage = faiss.downcast_index(self.index.storage)
        _, ids = storage.search(
            self._prepare(queries), k, params=faiss.SearchParameters(sel=selector)
        )
        del bitmap
        return self._row_numbers(ids.astype(np.int64))

    def _prepare(self, rows):
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if self.distance == "cosine":
            norms = np.linalg.norm(rows, axis=1, keepdims=True)
            rows = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
        return rows

    def to_state(self):
        """The index as plain values: its parameters and faiss' serialisation of it."""
        # The graph itself records m and ef_construction.
        return {
            "algorithm": "hnsw",
            "distance": self.distance,
            "faiss_index": import_faiss().serialize_index(self.index),
            "removed": self.removed,
        }


def _faiss_distances(scores, distance):
    """Distances from faiss' scores: squared L2, or inner products of unit rows for cosine.

    Clipped to the distance's range against rounding.
    """
    if distance == "cosine":
        return np.clip(1.0 - scores, 0.0, 2.0)
    squared = np.maximum(scores, 0.0)
    return np.sqrt(squared) if distance == "euclidean" else squared


# Saved state ----------------------------------------------------------------


def index_from_state(state):
    """The index that :meth:`ExactIndex.to_state` or :meth:`HNSWIndex.to_state` described.

    The state pickle stores, and files of format version 1. Raises a
    ValueError for a state that does not describe a usable index.
    """
    if not isinstance(state, dict) or state.get("algorithm") not in ("exact", "hnsw"):
        raise ValueError("the saved index is neither an exact nor an hnsw index.")
    _check_distance(state.get("distance"))
    if state["algorithm"] == "exact":
        return _exact_index(state["distance"], state.get("rows"))
    data = state.get("faiss_index")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 1:
        raise ValueError("the saved hnsw index does not hold faiss' serialisation as bytes.")
    faiss = import_faiss()
    try:
        graph = faiss.deserialize_index(data)
    except RuntimeError as error:
        raise ValueError(f"faiss cannot read the saved hnsw index ({error}).") from None
    return _hnsw_index(state["distance"], graph, state.get("removed"))


def _check_distance(distance):
    if distance not in DISTANCES:
        raise ValueError(f"the saved index has an unknown distance {distance!r}.")


def _exact_index(distance, rows):
    if not isinstance(rows, np.ndarray) or rows.ndim != 2 or rows.dtype != np.float32:
        raise ValueError("the saved exact index does not hold its rows as a float32 matrix.")
    index = ExactIndex(distance)
    index.add(rows)
    return index


def _hnsw_index(distance, graph, removed=None):
    """The index around a graph read back; ``removed`` is None in files written before removal."""
    faiss = import_faiss()
    if not isinstance(graph, faiss.IndexHNSWFlat):
        raise ValueError(f"the saved hnsw index is a faiss {type(graph).__name__}.")
    index = HNSWIndex(distance, graph.hnsw.nb_neighbors(1), graph.hnsw.efConstruction)
    if graph.metric_type != index.metric(faiss):
        raise ValueError("the saved hnsw index does not search by its distance's metric.")
    index.index = graph
    if removed is not None:
        valid = (
            isinstance(removed, np.ndarray)
            and removed.ndim == 1
            and removed.dtype.kind in "iu"
            and np.all(np.diff(removed) > 0)
            and (len(removed) == 0 or 0 <= removed[0] <= removed[-1] < graph.ntotal)
        )
        if not valid:
            raise ValueError(
                "the saved hnsw index's removed rows are not sorted row numbers of its graph."
            )
        index.removed = removed.astype(np.int64)
        index._update_bitmap()
    return index


# The indexes in saved files: the rows as an .npy member, the graph in faiss'
# own format, each streamed without a copy in memory.


def _encode_index(index, writer):
    fields = {"algorithm": index.algorithm, "distance": index.distance}
    if index.algorithm == "exact":
        rows = [block.rows for block in index.blocks]
        fields["rows"] = writer.at("rows").encode(
            rows[0]
            if len(rows) == 1
            else np.concatenate(rows or [np.empty((0, index.n_features), np.float32)])
        )
        return fields
    faiss = import_faiss()

    def write(stream):
        faiss.write_index(index.index, faiss.PyCallbackIOWriter(stream.write))

    fields["graph"] = {"member": writer.write_blob(write, ".faiss")}
    fields["removed"] = writer.at("removed").encode(index.removed)
    return fields


def _decode_index(fields, reader):
    try:
        if fields.get("algorithm") not in ("exact", "hnsw"):
            raise ValueError("the saved index is neither an exact nor an hnsw index.")
        _check_distance(fields.get("distance"))
    except ValueError as error:
        raise reader.file_error(str(error)) from None
    distance = fields["distance"]
    if fields["algorithm"] == "exact":
        rows = reader.decode(fields.get("rows"))
        return reader.deferred(
            lambda: _or_file_error(reader, lambda: _exact_index(distance, reader.build(rows)))
        )
    graph = fields.get("graph")
    member = reader.member(graph if isinstance(graph, dict) else {}, ".faiss")
    # Files written before rows could be removed have no "removed".
    removed = reader.decode(fields.get("removed"))
    return reader.deferred(
        lambda: _or_file_error(
            reader, lambda: _read_graph(distance, member, reader, reader.build(removed))
        )
    )


def _read_graph(distance, member, reader, removed):
    faiss = import_faiss()
    with reader.open_member(member) as stream:
        try:
            graph = faiss.read_index(faiss.PyCallbackIOReader(stream.read))
        except RuntimeError as error:
            raise ValueError(f"faiss cannot read the saved hnsw index ({error}).") from None
    return _hnsw_index(distance, graph, removed)


def _or_file_error(reader, build):
    """``build()``, its ValueError about the saved index turned into one about the file."""
    try:
        return build()
    except ValueError as error:
        raise reader.file_error(str(error)) from None


register_codec(
    "search_index",
    (f"{__name__}:ExactIndex", f"{__name__}:HNSWIndex"),
    _encode_index,
    _decode_index,
    description="a search index",
)
