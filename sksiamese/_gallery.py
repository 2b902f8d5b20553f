"""GalleryClassifier: open-set identification against enrolled embeddings."""

import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._compat import Interval, StrOptions, _fit_context
from ._distances import DISTANCES
from ._far import threshold_at_far
from ._io import SaveMixin, register
from ._labels import check_label_types
from ._recall import calibrate_ef_search, held_out_rows
from ._rows import (
    DiskRows,
    check_disk_rows,
    is_disk_backed,
    iter_chunks,
    rows_per_chunk,
)
from ._search import ExactIndex, HNSWIndex, import_faiss, index_from_state, make_index

# ef_search without a target_recall, nor one given.
_DEFAULT_EF_SEARCH = 64
# partial_fit measures ef_search_ again once the gallery has grown by more
# than this share since it was last measured: recall falls as a graph grows.
_RECALIBRATE_GROWTH = 0.2

# far= calibrates on enough impostor queries for about this many false
# accepts at the target rate: the rate reached then has a relative standard
# error of about 10%.
_CALIBRATION_FALSE_ACCEPTS = 100


@register(
    required=(
        "classes_",
        "enrolled_codes_",
        "n_samples_fit_",
        "threshold_",
        "index_",
        "n_features_in_",
    )
)
class GalleryClassifier(SaveMixin, ClassifierMixin, BaseEstimator):
    """Identify queries against a gallery of enrolled rows, or answer "unknown".

    The gallery stores rows (usually embeddings, after a fitted
    :class:`SiameseEmbedder`) with their identities. A query gets the
    identity of its nearest enrolled row, or the majority of its
    ``n_neighbors`` nearest, unless that identity's nearest row is farther
    than a reject threshold: then it gets ``unknown_label``. This is
    open-set identification, as in face, signature or product recognition,
    where most queries may come from identities never enrolled.

    The threshold is set directly (``threshold``) or calibrated by
    :meth:`fit` for a target false accept rate (``far``): the share of
    queries from identities not enrolled that would be accepted as someone.
    Without either, every query is answered with an enrolled identity
    (closed-set identification, like
    :class:`~sklearn.neighbors.KNeighborsClassifier`).

    Enrolments can be added with :meth:`partial_fit` without rebuilding the
    index, and identities deleted with :meth:`remove`. Search is exact (matrix products in blocks, in bounded memory,
    also over galleries memory-mapped from disk) or approximate, with the
    HNSW graphs of faiss (the optional extra ``sksiamese[ann]``).

    Parameters
    ----------
    n_neighbors : int, default=1
        Enrolled rows that vote on a query's identity; ties go to the
        identity with the nearest row. 1 is rank-1 identification.

    distance : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
        Distance between rows; use the one the embedder was trained with
        (its ``distance`` parameter).

    algorithm : {"exact", "hnsw"}, default="exact"
        How neighbours are found.

        - ``"exact"``: every enrolled row is compared with every query, in
          blocks of matrix products on all CPUs; memory beyond the gallery
          is a few tens of MB per CPU, whatever its size. Galleries
          memory-mapped from disk (``np.load(path, mmap_mode="r")``) are
          read in chunks, never loaded whole.
        - ``"hnsw"``: faiss' ``IndexHNSWFlat``, a graph searched
          approximately: much faster on large galleries, at a recall below
          1 set by ``target_recall`` (or ``ef_search``). Needs faiss (``pip install
          "sksiamese[ann]"``).

    far : float in (0, 1) or None, default=None
        Target false accept rate: :meth:`fit` sets ``threshold_`` so that
        about this share of queries from identities never enrolled is
        accepted. Each impostor query is an enrolled row matched against
        the gallery without the rows of its own identity (identities left
        out, not rows), as real impostors are. About ``100 / far`` such
        queries are drawn, whole identities at a time; the threshold lies
        at position ``far' * (n + 1)`` of their ``n`` sorted distances,
        interpolated, where ``far' = 1 - (1 - far) ** ((N - 1) / N)``
        allows for a stranger's chance with all ``N`` identities (an
        impostor query had ``N - 1``). The gallery needs at least
        ``1 / far`` rows and two identities, and :meth:`fit` warns when
        fewer than 10 impostor queries fall below the threshold: the rate
        reached is then too uncertain.

    threshold : float >= 0 or None, default=None
        Reject threshold set directly, as a distance: queries whose voted
        identity has no enrolled row this close are answered
        ``unknown_label``. Exclusive with ``far``.

    unknown_label : int or str, default="auto"
        The answer for rejected queries, of the identities' kind so that
        answers hold one kind of label (``score`` and scikit-learn's
        metrics sort them): ``"auto"`` answers ``"unknown"`` for string
        identities and ``-1`` for numeric ones; a string for numeric
        identities, or a number for string ones, is refused by :meth:`fit`.
        It may not be an enrolled identity when ``far`` or ``threshold`` is
        set. The value used is ``unknown_label_``.

        .. versionchanged:: 0.2
           The default was ``-1`` whatever the identities, and ``None`` was
           accepted; both gave answers mixing labels of two kinds.

    hnsw_m : int, default=32
        Links per node of the HNSW graph (faiss' ``M``): more links, better
        recall and more memory (about ``8 * hnsw_m`` bytes per row).

    ef_construction : int, default=100
        Candidates kept while inserting a row into the graph: higher builds
        a better graph, more slowly.

    ef_search : int or None, default=None
        Candidates kept while searching (at least the number of neighbours
        asked for): higher means better recall and slower queries. None
        measures it for ``target_recall``; an int given wins over
        ``target_recall`` (nothing is measured) and is read at query time,
        so ``set_params(ef_search=...)`` needs no refit.

    target_recall : float in (0, 1] or None, default=0.95
        Recall@10 against exact search that ``algorithm="hnsw"`` is to
        reach, when ``ef_search`` is None: :meth:`fit` holds the last 10% of
        the rows (at most 1,000) out of the graph, finds their exact 10
        nearest rows, and picks the smallest ``ef_search`` (16 to 4096)
        with which the graph finds at least this share of them, as
        ``ef_search_``; it warns if even 4096 falls short, and uses 4096.
        :meth:`partial_fit` measures again once the gallery has grown by
        more than 20% since. None searches with ``ef_search=64``. Ignored
        by ``algorithm="exact"``, whose recall is 1.

    random_state : int, RandomState instance or None, default=None
        Seeds the choice of impostor identities when ``far`` is set.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The enrolled identities, sorted.

    enrolled_codes_ : ndarray of shape (`n_samples_fit_`,)
        Each enrolled row's identity, as an index into ``classes_``.

    n_samples_fit_ : int
        Number of enrolled rows.

    unknown_label_ : int or str
        The answer for rejected queries: ``unknown_label``, or what
        ``"auto"`` stands for.

    threshold_ : float
        Queries whose voted identity's nearest row is farther than this
        distance are rejected; ``inf`` when neither ``far`` nor
        ``threshold`` is set. Calibrated by :meth:`fit` and kept by
        :meth:`partial_fit`.

    index_ : object
        The search index over the enrolled rows (private type).

    ef_search_ : int or None
        The ``ef_search`` that HNSW searches use when ``ef_search`` is None:
        measured for ``target_recall``, else 64 (or ``ef_search`` as given
        at fit). None for ``algorithm="exact"``.

    recall_ : float or None
        Recall@10 measured at ``ef_search_`` on the rows held out; None
        when nothing was measured (``algorithm="exact"``, ``ef_search``
        given, ``target_recall=None``, or fewer than 10 rows).

    n_samples_calibrated_ : int
        Enrolled rows when ``ef_search_`` was last measured; 0 if never.

    n_features_in_ : int
        Number of features of each row.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has feature names that are all
        strings.

    See Also
    --------
    sksiamese.SiameseEmbedder : Learns the embedding the gallery searches.
    sksiamese.metrics.dir_at_far : Detection and identification rate at a
        false accept rate, the measure of open-set identification.
    sklearn.neighbors.KNeighborsClassifier : Closed-set nearest neighbours.
    sklearn.neighbors.RadiusNeighborsClassifier : Neighbours within a radius,
        with an ``outlier_label``.

    Notes
    -----
    The calibrated threshold is a distance, fixed by :meth:`fit`: rows
    added by :meth:`partial_fit` keep it, though every added identity
    gives impostors one more chance to be accepted. Fit again to
    recalibrate. It is calibrated for the ``n_neighbors`` set at fit time.

    :meth:`save` writes the gallery without pickle, to be read back with
    :func:`sksiamese.load`: the enrolled rows (``"exact"``) as an ``.npy``
    member of the file, or the graph (``"hnsw"``) in faiss' own format,
    each streamed in chunks, at any size. Loading an ``"hnsw"`` gallery
    hands the stored graph to faiss' own reader, which is not hardened
    against crafted files: load those only from sources you trust.

    Queries are thread-safe: several threads may call :meth:`predict`,
    :meth:`kneighbors` or :meth:`score_samples` on one fitted gallery at
    once (not while :meth:`partial_fit` runs).

    Examples
    --------
    >>> from sksiamese import GalleryClassifier
    >>> enrolled = [[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [5.0, 6.0]]
    >>> gallery = GalleryClassifier(threshold=1.5)
    >>> gallery.fit(enrolled, ["ann", "ann", "bob", "bob"]).predict(
    ...     [[0.2, 0.5], [5.1, 5.2], [9.0, 0.0]]
    ... )
    array(['ann', 'bob', 'unknown'], dtype='<U7')
    >>> gallery.unknown_label_
    'unknown'
    >>> gallery.partial_fit([[9.0, 0.5]], ["eve"]).predict([[9.0, 0.0]])
    array(['eve'], dtype='<U7')
    >>> gallery.kneighbors([[0.2, 0.5]], n_neighbors=2)
    (array([[0.53851648, 0.53851648]]), array([[0, 1]]))
    >>> gallery.score([[0.2, 0.5], [9.0, 0.0], [0.0, 9.0]], ["ann", "eve", "unknown"])
    1.0

    Deleting an identity: it is never answered again.

    >>> gallery.remove(["ann"]).predict([[0.2, 0.5], [5.1, 5.2]])
    array(['unknown', 'bob'], dtype='<U7')
    >>> gallery.classes_
    array(['bob', 'eve'], dtype='<U3')
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "distance": [StrOptions(set(DISTANCES))],
        "algorithm": [StrOptions({"exact", "hnsw"})],
        "far": [Interval(Real, 0, 1, closed="neither"), None],
        "threshold": [Interval(Real, 0, None, closed="left"), None],
        "unknown_label": [Integral, str],
        "hnsw_m": [Interval(Integral, 2, None, closed="left")],
        "ef_construction": [Interval(Integral, 1, None, closed="left")],
        "ef_search": [Interval(Integral, 1, None, closed="left"), None],
        "target_recall": [Interval(Real, 0, 1, closed="right"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_neighbors=1,
        *,
        distance="euclidean",
        algorithm="exact",
        far=None,
        threshold=None,
        unknown_label="auto",
        hnsw_m=32,
        ef_construction=100,
        ef_search=None,
        target_recall=0.95,
        random_state=None,
    ):
        self.n_neighbors = n_neighbors
        self.distance = distance
        self.algorithm = algorithm
        self.far = far
        self.threshold = threshold
        self.unknown_label = unknown_label
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.target_recall = target_recall
        self.random_state = random_state

    # Enrolment ----------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Enrol rows with their identities, replacing any earlier gallery.

        Builds the index and, with ``far`` set, calibrates ``threshold_``.
        A call that fails leaves a fitted gallery as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to enrol, e.g. embeddings; at least one. A memory-mapped
            array is searched in place by ``algorithm="exact"``.
        y : array-like of shape (n_samples,)
            The identity of each row; an identity may have many rows.

        Returns
        -------
        self : GalleryClassifier
            The fitted gallery.
        """
        return self._enrol_new(X, y, classes=None)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Add enrolments, of known or new identities, without rebuilding the index.

        The first call on an unfitted gallery acts as :meth:`fit`. Later
        calls append ``X`` to the index (row numbers continue from
        ``n_samples_fit_``) and keep ``threshold_``. A call that fails
        leaves the gallery as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to add.
        y : array-like of shape (n_samples,)
            Their identities.
        classes : array-like of shape (n_classes,), default=None
            Identities to add to ``classes_`` even without rows, as
            scikit-learn's incremental classifiers take them.

        Returns
        -------
        self : GalleryClassifier
            The gallery with the rows added.
        """
        if not hasattr(self, "index_"):
            return self._enrol_new(X, y, classes=classes)
        if (self.index_.algorithm, self.index_.distance) != (self.algorithm, self.distance):
            raise ValueError(
                f"partial_fit adds to the index that fit built with algorithm="
                f"{self.index_.algorithm!r} and distance={self.index_.distance!r}; these "
                f"are now {self.algorithm!r} and {self.distance!r}. Call fit to rebuild it."
            )
        X, y = self._validate_enrolment(X, y, reset=False)
        labels = _identities(y, classes, self)
        if (labels.dtype.kind in "biuf") != (self.classes_.dtype.kind in "biuf"):
            raise ValueError(
                f"The gallery's identities are {self.classes_.dtype} labels; y and classes "
                f"hold {labels.dtype} ones. Use labels of one kind."
            )
        classes = np.union1d(self.classes_, labels)
        _check_unknown_label_is_free(
            self.unknown_label_, classes, rejects=bool(np.isfinite(self.threshold_))
        )
        # Existing rows keep their identity under its new position in classes_.
        renumbered = np.searchsorted(classes, self.classes_)[self.enrolled_codes_]
        codes = np.concatenate([renumbered, np.searchsorted(classes, y)])
        grown = len(codes) > (1 + _RECALIBRATE_GROWTH) * self.n_samples_calibrated_
        self._add_rows(self.index_, X, calibrate=grown and self._calibrates_ef_search())
        self.classes_, self.enrolled_codes_, self.n_samples_fit_ = classes, codes, len(codes)
        return self

    def remove(self, labels):
        """Delete identities: their rows, and the identities themselves from ``classes_``.

        For deletion requests (such as the GDPR's right to erasure): a
        removed identity is never answered again, by :meth:`predict`,
        :meth:`kneighbors` or :meth:`score_samples`, nor after :meth:`save`
        and :func:`sksiamese.load`. Rows after the removed ones move up, as
        if the removed rows had never been enrolled. ``threshold_`` is kept.

        ``algorithm="exact"`` drops the rows. An HNSW graph cannot drop a
        node cheaply: its removed rows are skipped by every search, and the
        graph is built again from the rows kept once more than 20% of its
        nodes are removed ones. Until
        then the vectors of removed rows remain inside the graph (and its
        saved file), unreachable through the gallery; call :meth:`fit` on the
        rows kept to erase them at once.

        Parameters
        ----------
        labels : array-like of shape (n_labels,)
            Identities to remove, each enrolled. A call naming one that is
            not enrolled raises a ValueError and removes nothing.

        Returns
        -------
        self : GalleryClassifier
            The gallery without the identities.
        """
        check_is_fitted(self)
        check_label_types(labels, self, name="labels")
        labels = np.unique(column_or_1d(np.asarray(labels), warn=False))
        unknown = labels[~np.isin(labels, self.classes_)]
        if len(unknown):
            raise ValueError(
                f"Cannot remove identities that are not enrolled: {unknown[:5].tolist()}"
                f"{' and more' if len(unknown) > 5 else ''}. Nothing was removed."
            )
        removed = np.searchsorted(self.classes_, labels)
        rows = np.flatnonzero(np.isin(self.enrolled_codes_, removed))
        self.index_.remove(rows)
        # Identities after a removed one move down in classes_.
        renumbered = np.arange(len(self.classes_)) - np.searchsorted(
            removed, np.arange(len(self.classes_))
        )
        self.classes_ = np.delete(self.classes_, removed)
        self.enrolled_codes_ = renumbered[np.delete(self.enrolled_codes_, rows)]
        self.n_samples_fit_ = len(self.enrolled_codes_)
        return self

    def _enrol_new(self, X, y, classes):
        if self.far is not None and self.threshold is not None:
            raise ValueError(
                f"Set far (calibrate the threshold) or threshold (set it), not both; got "
                f"far={self.far!r} and threshold={self.threshold!r}."
            )
        if self.algorithm == "hnsw":
            import_faiss()
        # validate_data records n_features_in_ and feature_names_in_ on the
        # estimator it checks for: a clone, so that self changes only at the end.
        fitted = clone(self)
        X, y = fitted._validate_enrolment(X, y, reset=True)
        classes = _identities(y, classes, self)
        codes = np.searchsorted(classes, y)
        unknown_label = self._resolve_unknown_label(classes)
        _check_unknown_label_is_free(
            unknown_label, classes, rejects=self.far is not None or self.threshold is not None
        )
        impostors = self._impostor_identities(codes, len(classes))
        index = make_index(
            self.algorithm, self.distance, hnsw_m=self.hnsw_m, ef_construction=self.ef_construction
        )
        fitted._set_ef_search()
        fitted._add_rows(index, X, calibrate=fitted._calibrates_ef_search())
        fitted.classes_, fitted.enrolled_codes_, fitted.n_samples_fit_ = classes, codes, len(codes)
        fitted.index_ = index
        fitted.unknown_label_ = unknown_label
        fitted.threshold_ = self._reject_threshold(fitted, X, impostors)
        for key in [key for key in vars(self) if key.endswith("_") and not key.startswith("_")]:
            delattr(self, key)
        vars(self).update({key: value for key, value in vars(fitted).items() if key.endswith("_")})
        return self

    def _validate_enrolment(self, X, y, *, reset):
        check_label_types(y, self)
        disk = is_disk_backed(X)
        # Memory-mapped rows stay where they are (no float32 copy) and are
        # checked for NaN chunk by chunk instead of in one pass over the mapping.
        # The exact index keeps rows in memory as given, beside their norms:
        # a copy, so that changing the caller's array cannot corrupt it.
        if disk:
            checks = {"dtype": None, "ensure_all_finite": False}
        else:
            checks = {"dtype": np.float32, "copy": self.algorithm == "exact"}
        X, y = validate_data(self, X, y, reset=reset, **checks)
        if disk:
            check_disk_rows(X)
        with warnings.catch_warnings():
            # Galleries often hold one or two rows per identity; scikit-learn
            # then warns that y "could represent a regression problem".
            warnings.filterwarnings("ignore", "The number of unique classes", UserWarning)
            check_classification_targets(y)
        return X, y

    def _resolve_unknown_label(self, classes):
        """``unknown_label_``: of the identities' kind, so that answers hold one kind of label.

        Answers mixing text and numbers would break ``score`` and every
        scikit-learn metric, which sort the labels.
        """
        text = _is_text(classes)
        if self.unknown_label == "auto":
            return "unknown" if text else -1
        if text != isinstance(self.unknown_label, str):
            kind = "text" if text else "numbers"
            raise ValueError(
                f"unknown_label={self.unknown_label!r} is not of the identities' kind: they are "
                f"{kind} ({classes.dtype}), and answers must hold one kind of label for score "
                f"and scikit-learn's metrics. Use a{' string' if text else 'n int'} "
                "unknown_label, or 'auto'."
            )
        return self.unknown_label

    # Search breadth -----------------------------------------------------------

    def _calibrates_ef_search(self):
        """Whether ``ef_search_`` is measured for ``target_recall`` (hnsw, no ef_search given)."""
        return (
            self.algorithm == "hnsw" and self.ef_search is None and self.target_recall is not None
        )

    def _set_ef_search(self):
        """``ef_search_`` before any measurement, with ``recall_`` and ``n_samples_calibrated_``."""
        if self.algorithm != "hnsw":
            self.ef_search_ = None
        else:
            self.ef_search_ = _DEFAULT_EF_SEARCH if self.ef_search is None else self.ef_search
        self.recall_, self.n_samples_calibrated_ = None, 0

    def _add_rows(self, index, X, *, calibrate):
        """Add ``X`` to ``index``; to calibrate, measure ``ef_search_`` on its last rows first.

        Those rows are held out of the graph until measured (the last, so
        that row numbers keep the order of enrolment).
        """
        n_queries = min(held_out_rows(len(index) + len(X)), len(X)) if calibrate else 0
        in_graph = len(X) - n_queries
        if in_graph:
            index.add(X[:in_graph])
        if n_queries:
            queries = np.asarray(X[in_graph:], dtype=np.float32)
            self.ef_search_, self.recall_ = calibrate_ef_search(index, queries, self.target_recall)
            self.n_samples_calibrated_ = len(index) + n_queries
            index.add(X[in_graph:])

    # Threshold ----------------------------------------------------------------

    def _impostor_identities(self, codes, n_classes):
        """The identities whose rows calibrate ``far``, checked before any work.

        Whole identities in random order, until about ``100 / far`` rows.
        """
        if self.far is None:
            return None
        needed = math.ceil(1 / self.far)
        if n_classes < 2 or len(codes) < needed:
            raise ValueError(
                f"far={self.far} needs at least {needed} impostor queries, each an enrolled "
                "row matched against the other identities' rows; the gallery has "
                f"{len(codes)} rows of {n_classes} identit{'y' if n_classes == 1 else 'ies'}. "
                "Enrol more identities or rows, raise far, or set threshold instead."
            )
        sizes = np.bincount(codes, minlength=n_classes)
        order = check_random_state(self.random_state).permutation(n_classes)
        wanted = math.ceil(_CALIBRATION_FALSE_ACCEPTS / self.far)
        n_identities = int(np.searchsorted(np.cumsum(sizes[order]), wanted)) + 1
        return order[:n_identities]

    def _reject_threshold(self, fitted, X, impostors):
        """``threshold_``: the largest distance that accepts at most ``far`` of the impostors."""
        if impostors is None:
            return np.inf if self.threshold is None else float(self.threshold)
        codes = fitted.enrolled_codes_
        queries = np.flatnonzero(np.isin(codes, impostors))
        own = codes[queries]
        # Enough neighbours to find n_neighbors of other identities beyond
        # all the rows of the query's own.
        k = min(self.n_neighbors + int(np.bincount(own).max()), len(codes))
        distances, indices = fitted._search(DiskRows(X, X.shape[1:]).take(queries), k)
        neighbours = np.where(indices >= 0, codes[indices], -1)
        neighbours[neighbours == own[:, None]] = -1
        others = np.argsort(neighbours < 0, axis=1, kind="stable")[:, : self.n_neighbors]
        _, nearest = _vote(
            np.take_along_axis(neighbours, others, 1), np.take_along_axis(distances, others, 1)
        )
        return threshold_at_far(nearest, self.far, len(fitted.classes_))

    # Queries ------------------------------------------------------------------

    def kneighbors(self, X, n_neighbors=None, return_distance=True):
        """The enrolled rows nearest to each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query rows.
        n_neighbors : int, default=None
            Neighbours per query; ``self.n_neighbors`` when None.
        return_distance : bool, default=True
            Whether to return the distances too.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors)
            Distances to the neighbours, nearest first; only when
            ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors)
            Their row numbers in the gallery, in enrolment order (rows of
            :meth:`fit`, then of each :meth:`partial_fit`). The labels are
            ``classes_[enrolled_codes_[neigh_ind]]``.
        """
        X, k = self._check_query(X, n_neighbors)
        distances = np.empty((len(X), k))
        indices = np.empty((len(X), k), np.int64)
        for start, queries in _query_chunks(X):
            stop = start + len(queries)
            distances[start:stop], indices[start:stop] = self._search(queries, k)
        return (distances, indices) if return_distance else indices

    def predict(self, X):
        """The identity of each query, or ``unknown_label`` if rejected.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query rows.

        Returns
        -------
        y_pred : ndarray of shape (n_queries,)
            An element of ``classes_``, or ``unknown_label`` where the voted
            identity's nearest row is farther than ``threshold_``. Of the
            dtype of ``classes_``, or object when it cannot hold
            ``unknown_label`` too.
        """
        codes, nearest = self._identify(X)
        labels = self.classes_[codes]
        if not np.isfinite(self.threshold_):
            return labels
        answers = labels.astype(_answer_dtype(self.classes_, self.unknown_label_))
        answers[nearest > self.threshold_] = self.unknown_label_
        return answers

    def score_samples(self, X):
        """How well each query matches its identity: minus the distance to it.

        The distance is to the nearest enrolled row of the identity that
        :meth:`predict` answers (before rejection). Higher means a surer
        match; :meth:`predict` rejects queries scoring below
        ``-threshold_``. This is the score that
        :func:`~sksiamese.metrics.dir_at_far` thresholds.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query rows.

        Returns
        -------
        scores : ndarray of shape (n_queries,)
            At most 0; 0 for a query equal to an enrolled row.
        """
        return -self._identify(X)[1]

    def _identify(self, X):
        """Voted identity code of each query and the distance to its nearest row."""
        X, k = self._check_query(X, None)
        codes = np.empty(len(X), np.int64)
        nearest = np.empty(len(X))
        for start, queries in _query_chunks(X):
            distances, indices = self._search(queries, k)
            stop = start + len(queries)
            codes[start:stop], nearest[start:stop] = _vote(self.enrolled_codes_[indices], distances)
        return codes, nearest

    def _check_query(self, X, n_neighbors):
        check_is_fitted(self)
        if self.n_samples_fit_ == 0:
            raise ValueError(
                "The gallery is empty: every identity enrolled was removed. Enrol rows with "
                "partial_fit or fit before querying it."
            )
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
            raise ValueError(f"n_neighbors must be a positive int; got {k!r}.")
        if k > self.n_samples_fit_:
            raise ValueError(
                f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {k}, "
                f"n_samples_fit = {self.n_samples_fit_}: enrol more rows or ask for fewer "
                "neighbours."
            )
        # Memory-mapped queries stay on disk, checked and searched a chunk at a time.
        if is_disk_backed(X):
            X = validate_data(self, X, reset=False, dtype=None, ensure_all_finite=False)
            check_disk_rows(X)
        else:
            X = validate_data(self, X, reset=False, dtype=np.float32)
        return X, int(k)

    def _search(self, X, k):
        if self.index_.algorithm == "hnsw":
            ef_search = self.ef_search if self.ef_search is not None else self.ef_search_
            return self.index_.search(X, k, ef_search)
        return self.index_.search(X, k)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    # Saved state: what pickle and save store ------------------------------------------

    def __getstate__(self):
        # Copy: object.__getstate__ may hand back the live __dict__ itself.
        state = dict(super().__getstate__())
        if "index_" in state:
            state["index_"] = state["index_"].to_state()
        return state

    def __setstate__(self, state):
        if "index_" in state:
            state = dict(state)
            index = state["index_"]
            # Pickle (and format version 1) hand over the index's plain state;
            # sksiamese.load the index it has already built.
            if isinstance(index, dict):
                state["index_"] = index = index_from_state(index)
            if not isinstance(index, (ExactIndex, HNSWIndex)):
                raise ValueError(
                    "The gallery's saved index is not a search index: the state is damaged."
                )
            codes = state.get("enrolled_codes_")
            # A file could pair an index with attributes of another gallery.
            consistent = (
                isinstance(codes, np.ndarray)
                and codes.dtype.kind in "iu"
                and codes.shape == (len(index),) == (state.get("n_samples_fit_"),)
                and index.n_features == state.get("n_features_in_")
                and isinstance(state.get("classes_"), np.ndarray)
                and (len(codes) == 0 or 0 <= codes.min() <= codes.max() < len(state["classes_"]))
            )
            if not consistent:
                raise ValueError(
                    "The gallery's saved index does not match its enrolled rows, identities "
                    "or number of features: the state is damaged."
                )
            # Galleries saved before unknown_label="auto" answered the parameter itself.
            # Galleries saved before target_recall searched with ef_search.
            if "ef_search_" not in state:
                hnsw = index.algorithm == "hnsw"
                ef_search = state.get("ef_search", vars(self).get("ef_search"))
                state["ef_search_"] = (ef_search or _DEFAULT_EF_SEARCH) if hnsw else None
                state.setdefault("recall_", None)
                state.setdefault("n_samples_calibrated_", 0)
            if "unknown_label_" not in state:
                state["unknown_label_"] = state.get(
                    "unknown_label", vars(self).get("unknown_label")
                )
        super().__setstate__(state)


def _query_chunks(X):
    """``(start, rows)`` of the queries ``X``, about 8 MiB of float32 rows at a time.

    Searching a chunk at a time bounds what a search holds beside its
    answers (scores, candidates, votes), however many queries there are, and
    reads memory-mapped queries from disk a chunk at a time.
    """
    return iter_chunks(X, rows_per_chunk(X, itemsize=4), dtype=np.float32)


def _identities(y, classes, estimator):
    """The sorted identities of ``y`` and of the ``classes`` declared, if any."""
    if classes is None:
        return np.unique(y)
    check_label_types(classes, estimator, name="classes")
    return np.union1d(y, np.asarray(classes))


def _vote(codes, distances):
    """Each row's majority identity among its neighbours, and the distance to its nearest row.

    ``codes`` and ``distances`` have one row per query, nearest neighbour
    first; code -1 marks no neighbour. Ties go to the identity with the
    nearest row: ``argmax`` returns the first position with the most votes,
    and every row of an identity has its count.
    """
    present = codes >= 0
    votes = ((codes[:, :, None] == codes[:, None, :]) & present[:, None, :]).sum(axis=2)
    votes[~present] = 0
    first = votes.argmax(axis=1)
    rows = np.arange(len(codes))
    nearest = np.where(present[rows, first], distances[rows, first], np.inf)
    return codes[rows, first], nearest


def _is_text(classes):
    """Whether the identities are strings (an array of ``str``, or of objects that are)."""
    return classes.dtype.kind in "US" or (
        classes.dtype.kind == "O" and all(isinstance(label, str) for label in classes.tolist())
    )


def _check_unknown_label_is_free(unknown_label, classes, *, rejects):
    """Refuse an ``unknown_label`` that is an identity too, when queries can be rejected."""
    if not rejects:
        return  # nothing is rejected, so the label is never answered
    if any(label == unknown_label for label in classes.tolist()):
        raise ValueError(
            f"unknown_label={unknown_label!r} is also an enrolled identity, so rejected "
            "queries could not be told from it; choose another unknown_label."
        )


def _answer_dtype(classes, unknown_label):
    """A dtype holding both the identities and ``unknown_label``, of the same kind."""
    label = np.asarray(unknown_label)
    if classes.dtype.kind == "O":
        return object
    return np.result_type(classes.dtype, label.dtype)
