"""GalleryClassifier: enrolment, search, rejection, calibration, and the open-set metrics."""

import io
import pickle
import sys
import tracemalloc
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, pairwise_distances
from sklearn.model_selection import GridSearchCV, ShuffleSplit
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_estimators_partial_fit_n_features,
    check_param_validation,
    parametrize_with_checks,
)
from test_persistence import _flip_a_byte, edit_json, rewrite

import sksiamese
from sksiamese import GalleryClassifier, _recall, _rows, _search
from sksiamese.metrics import dir_at_far, dir_far_curve, make_dir_at_far_scorer

ALGORITHMS = ["exact", "hnsw"]
DISTANCES = ["euclidean", "sqeuclidean", "cosine"]


def identities(n_identities, per_identity, n_features=8, *, spread=0.3, seed=0):
    """Rows around one random centre per identity, float32, labelled by identity."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_identities, n_features))
    labels = np.repeat(np.arange(n_identities), per_identity)
    rows = centres[labels] + spread * rng.standard_normal((len(labels), n_features))
    return rows.astype(np.float32), labels


@pytest.fixture
def small_blocks(monkeypatch):
    """Exact search in tiny chunks and blocks, on 3 threads: every merge path runs."""
    monkeypatch.setattr(_search, "_CHUNK_BYTES", 2048)
    monkeypatch.setattr(_search, "_ROW_BLOCK", 16)
    monkeypatch.setattr(_search, "_QUERY_BLOCK", 8)
    monkeypatch.setattr(_search.joblib, "cpu_count", lambda: 3)


# Search ---------------------------------------------------------------------


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("blocks", ["default", "small"])
def test_exact_kneighbors_match_scikit_learn(distance, blocks, request):
    if blocks == "small":
        request.getfixturevalue("small_blocks")
    rng = np.random.default_rng(1)
    X = rng.standard_normal((700, 6)).astype(np.float32)
    queries = rng.standard_normal((50, 6)).astype(np.float32)
    gallery = GalleryClassifier(distance=distance).fit(X, np.arange(700) % 7)
    distances, indices = gallery.kneighbors(queries, n_neighbors=12)
    reference = NearestNeighbors(n_neighbors=12, metric=distance, algorithm="brute").fit(
        X.astype(np.float64)
    )
    expected_distances, expected_indices = reference.kneighbors(queries.astype(np.float64))
    assert_array_equal(indices, expected_indices)
    assert_allclose(distances, expected_distances, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("distance", DISTANCES)
def test_hnsw_recall_against_exact_search(distance):
    X, y = identities(300, 5, n_features=16)
    queries, _ = identities(300, 1, n_features=16, seed=1)
    exact = GalleryClassifier(distance=distance).fit(X, y).kneighbors(queries, 10)[1]
    hnsw = GalleryClassifier(distance=distance, algorithm="hnsw").fit(X, y)
    found = hnsw.kneighbors(queries, 10)[1]
    recall = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(found, exact)])
    assert recall >= 0.95
    # ef_search is read at query time: a narrow search loses neighbours.
    narrow = hnsw.set_params(ef_search=1).kneighbors(queries, 1)[1]
    assert np.mean(narrow[:, 0] == exact[:, 0]) < np.mean(found[:, 0] == exact[:, 0])


def recall_at_10(gallery, queries, exact):
    found = gallery.kneighbors(queries, 10)[1]
    return np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(found, exact)])


def test_hnsw_ef_search_is_the_smallest_meeting_target_recall():
    rows, labels = identities(1000, 5, n_features=32, spread=0.8)
    enrolled = np.arange(5000) % 5 < 4  # 4 rows of each identity; the 5th queries
    X, y, queries = rows[enrolled], labels[enrolled], rows[~enrolled]
    exact = GalleryClassifier().fit(X, y).kneighbors(queries, 10)[1]
    galleries = {
        target: GalleryClassifier(algorithm="hnsw", target_recall=target, random_state=0).fit(X, y)
        for target in (0.8, 0.99)
    }
    low, high = galleries[0.8], galleries[0.99]
    # The last 400 rows (10%), held out of the graph, were the queries; the
    # recall reached on them holds for new rows of the enrolled identities.
    assert low.n_samples_calibrated_ == high.n_samples_calibrated_ == 4000
    assert 0.8 <= low.recall_ < high.recall_ and high.recall_ >= 0.99
    assert 16 <= low.ef_search_ < high.ef_search_ <= 4096
    assert recall_at_10(low, queries, exact) > 0.75
    assert recall_at_10(high, queries, exact) > 0.97


def test_ef_search_given_wins_over_target_recall():
    X, y = identities(100, 3)
    gallery = GalleryClassifier(algorithm="hnsw", ef_search=20).fit(X, y)
    assert (gallery.ef_search_, gallery.recall_, gallery.n_samples_calibrated_) == (20, None, 0)
    fixed = GalleryClassifier(algorithm="hnsw", target_recall=None).fit(X, y)
    assert (fixed.ef_search_, fixed.recall_) == (64, None)
    exact = GalleryClassifier().fit(X, y)
    assert (exact.ef_search_, exact.recall_, exact.n_samples_calibrated_) == (None, None, 0)


def test_partial_fit_measures_ef_search_again_after_growing_a_fifth():
    X, y = identities(400, 4)
    gallery = GalleryClassifier(algorithm="hnsw", random_state=0).fit(X[:1000], y[:1000])
    assert gallery.n_samples_calibrated_ == 1000 and gallery.recall_ >= 0.95
    gallery.partial_fit(X[1000:1200], y[1000:1200])  # 20% more: kept
    assert gallery.n_samples_calibrated_ == 1000
    gallery.partial_fit(X[1200:1201], y[1200:1201])
    assert gallery.n_samples_calibrated_ == 1201 and gallery.recall_ >= 0.95


def test_unreachable_target_recall_warns_and_searches_widest(monkeypatch):
    monkeypatch.setattr(_recall, "MAX_EF_SEARCH", 32)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 32), dtype=np.float32)  # no structure: hard for a graph
    gallery = GalleryClassifier(algorithm="hnsw", hnsw_m=4, target_recall=1.0)
    with pytest.warns(UserWarning, match=r"target_recall=1.0 was not reached: recall@10 is 0\."):
        gallery.fit(X, np.arange(3000))
    assert gallery.ef_search_ == 32 and gallery.recall_ < 1.0


def test_hnsw_search_returns_the_enrolled_row_itself():
    X, y = identities(100, 4)
    distances, indices = GalleryClassifier(algorithm="hnsw").fit(X, y).kneighbors(X, 1)
    assert_array_equal(indices[:, 0], np.arange(400))
    assert_allclose(distances[:, 0], 0.0, atol=1e-6)


def test_cosine_zero_rows_are_at_distance_one():
    gallery = GalleryClassifier(distance="cosine").fit([[0.0, 0.0], [1.0, 0.0]], [0, 1])
    distances, _ = gallery.kneighbors([[0.0, 0.0]], n_neighbors=2)
    assert_allclose(distances, [[1.0, 1.0]])


# Enrolment -------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_partial_fit_adds_rows_and_identities_without_rebuilding(algorithm):
    X, y = identities(60, 5)
    labels = np.array([f"id{label:02d}" for label in y])
    gallery = GalleryClassifier(algorithm=algorithm).fit(X[:200], labels[:200])
    index = gallery.index_
    gallery.partial_fit(X[200:250], labels[200:250]).partial_fit(X[250:], labels[250:])
    assert gallery.index_ is index
    assert gallery.n_samples_fit_ == 300
    assert_array_equal(gallery.classes_, np.unique(labels))
    assert_array_equal(gallery.classes_[gallery.enrolled_codes_], labels)
    # Added rows are found where they were appended, with their identity.
    indices = gallery.kneighbors(X[200:], 1, return_distance=False)
    assert_array_equal(indices[:, 0], np.arange(200, 300))
    assert_array_equal(gallery.predict(X[200:]), labels[200:])
    if algorithm == "exact":
        refitted = GalleryClassifier().fit(X, labels)
        assert_array_equal(gallery.kneighbors(X, 5)[1], refitted.kneighbors(X, 5)[1])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_changing_the_enrolled_array_afterwards_changes_nothing(algorithm):
    X, y = identities(20, 3)
    gallery = GalleryClassifier(algorithm=algorithm).fit(X, y)
    queries = X.copy()
    expected_distances, expected_indices = gallery.kneighbors(queries, 3)
    X[:] = 0.0
    distances, indices = gallery.kneighbors(queries, 3)
    assert_array_equal(indices, expected_indices)
    assert_allclose(distances, expected_distances)


def test_partial_fit_first_call_fits_and_declares_classes():
    X, y = identities(5, 4)
    gallery = GalleryClassifier().partial_fit(X, y, classes=[0, 1, 2, 3, 4, 9])
    assert_array_equal(gallery.classes_, [0, 1, 2, 3, 4, 9])
    assert gallery.n_samples_fit_ == 20
    assert_array_equal(gallery.predict(X), y)


def test_memory_mapped_gallery_is_searched_in_place(tmp_path, small_blocks):
    X, y = identities(500, 4, n_features=16)
    np.save(tmp_path / "gallery.npy", X)
    on_disk = np.load(tmp_path / "gallery.npy", mmap_mode="r")
    queries, _ = identities(500, 1, n_features=16, seed=3)
    in_memory = GalleryClassifier().fit(X, y)
    gallery = GalleryClassifier().fit(on_disk, y)
    assert gallery.index_.blocks[0].reader is not None  # no copy in memory
    assert_array_equal(gallery.kneighbors(queries, 5)[1], in_memory.kneighbors(queries, 5)[1])
    # Rows added later sit in memory beside the file.
    extra, extra_y = identities(3, 4, n_features=16, seed=4)
    gallery.partial_fit(extra, extra_y + 500)
    in_memory.partial_fit(extra, extra_y + 500)
    assert [block.reader is None for block in gallery.index_.blocks] == [False, True]
    assert_array_equal(gallery.kneighbors(queries, 5)[1], in_memory.kneighbors(queries, 5)[1])
    assert_array_equal(gallery.predict(extra), extra_y + 500)


def test_exact_search_memory_stays_bounded(tmp_path, monkeypatch):
    # 64 x 4096 float32 scores per block, gallery chunks of 256 KiB.
    monkeypatch.setattr(_search, "_CHUNK_BYTES", 2**18)
    monkeypatch.setattr(_search, "_ROW_BLOCK", 1024)
    monkeypatch.setattr(_search, "_QUERY_BLOCK", 64)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 32), dtype=np.float32)  # 25.6 MB
    np.save(tmp_path / "gallery.npy", X)
    del X
    gallery = GalleryClassifier().fit(
        np.load(tmp_path / "gallery.npy", mmap_mode="r"), np.arange(200_000)
    )
    queries = rng.standard_normal((256, 32), dtype=np.float32)
    tracemalloc.start()
    try:
        gallery.kneighbors(queries, 10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A distance matrix would take 256 x 200,000 x 4 bytes = 205 MB, the
    # gallery 25.6 MB; the search holds a few chunks and blocks per thread.
    assert peak < 8 * 2**20


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_many_queries_are_searched_in_chunks_with_the_same_answers(algorithm, monkeypatch):
    X, y = identities(100, 3)
    queries, _ = identities(300, 1, seed=12)
    gallery = GalleryClassifier(n_neighbors=3, algorithm=algorithm, threshold=2.0).fit(X, y)
    expected = gallery.kneighbors(queries, 4), gallery.predict(queries)
    monkeypatch.setattr(_rows, "_CHUNK_BYTES", 7 * 8 * 4)  # 7 queries a chunk
    (distances, indices), answers = gallery.kneighbors(queries, 4), gallery.predict(queries)
    assert_array_equal(indices, expected[0][1])
    assert_allclose(distances, expected[0][0])
    assert_array_equal(answers, expected[1])


def test_memory_mapped_queries_are_read_a_chunk_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setattr(_rows, "_CHUNK_BYTES", 2**20)
    X, y = identities(200, 5, n_features=32)
    gallery = GalleryClassifier().fit(X, y)
    rng = np.random.default_rng(0)
    queries = rng.standard_normal((200_000, 32), dtype=np.float32)  # 25.6 MB
    np.save(tmp_path / "queries.npy", queries)
    on_disk = np.load(tmp_path / "queries.npy", mmap_mode="r")
    expected = gallery.predict(queries[:5000])
    tracemalloc.start()
    try:
        answers = gallery.predict(on_disk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_array_equal(answers[:5000], expected)
    # The answers, codes and distances (1.6 MB each), one 1 MiB chunk of
    # queries and its search (about 10 MiB, whatever the number of queries);
    # not the 25.6 MB of queries.
    assert peak < 16 * 2**20
    queries[7, 3] = np.nan
    np.save(tmp_path / "bad.npy", queries)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        gallery.kneighbors(np.load(tmp_path / "bad.npy", mmap_mode="r"))


# Removal ---------------------------------------------------------------------------


def assert_never_answered(gallery, removed, queries):
    labels = gallery.classes_[gallery.enrolled_codes_[gallery.kneighbors(queries, 8)[1]]]
    assert not np.isin(labels, removed).any()
    assert not np.isin(gallery.predict(queries), removed).any()
    assert not np.isin(removed, gallery.classes_).any()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_removed_identities_are_never_answered_again(algorithm, tmp_path):
    X, y = identities(60, 4)
    names = np.array([f"id{label:02d}" for label in y])
    gallery = GalleryClassifier(n_neighbors=3, algorithm=algorithm, threshold=3.0, random_state=0)
    gallery.fit(X, names)
    removed = ["id03", "id17", "id42"]
    kept = ~np.isin(names, removed)
    assert gallery.remove(removed) is gallery
    assert gallery.n_samples_fit_ == 228 == len(gallery.enrolled_codes_)
    # Rows move up as if the removed ones had never been enrolled.
    assert_array_equal(gallery.classes_[gallery.enrolled_codes_], names[kept])
    assert_array_equal(gallery.kneighbors(X[kept], 1)[1][:, 0], np.arange(228))
    # The removed identities' own rows are the hardest queries.
    assert_never_answered(gallery, removed, X)
    refitted = GalleryClassifier(n_neighbors=3, threshold=3.0).fit(X[kept], names[kept])
    if algorithm == "exact":
        assert_array_equal(gallery.kneighbors(X, 8)[1], refitted.kneighbors(X, 8)[1])
    else:
        assert len(gallery.index_.removed) == 12  # skipped, not yet rebuilt
    assert np.mean(gallery.predict(X) == refitted.predict(X)) > 0.97
    loaded = sksiamese.load(gallery.save(tmp_path / "gallery.sksiamese"))
    assert_never_answered(loaded, removed, X)
    assert_array_equal(loaded.predict(X), gallery.predict(X))
    # Rows added later, near the removed identities' rows, do not revive them.
    for model in (gallery, loaded):
        model.partial_fit(X[~kept][::4] + 0.05, ["new1", "new2", "new3"])
        assert_never_answered(model, removed, X)
        assert_array_equal(model.predict(X[~kept][::4]), ["new1", "new2", "new3"])


def test_hnsw_graph_is_rebuilt_once_a_fifth_of_it_is_removed():
    X, y = identities(50, 4)
    gallery = GalleryClassifier(algorithm="hnsw").fit(X, y)
    gallery.remove(np.arange(10))  # 40 of 200 nodes: not yet more than 20%
    assert (len(gallery.index_.removed), gallery.index_.index.ntotal) == (40, 200)
    gallery.remove([10])
    assert (len(gallery.index_.removed), gallery.index_.index.ntotal) == (0, 156)
    assert_never_answered(gallery, np.arange(11), X)
    assert_array_equal(gallery.predict(X[44:]), y[44:])


def test_removal_keeps_a_memory_mapped_gallery_on_disk(tmp_path):
    X, y = identities(30, 4)
    np.save(tmp_path / "gallery.npy", X)
    gallery = GalleryClassifier().fit(np.load(tmp_path / "gallery.npy", mmap_mode="r"), y)
    gallery.remove([0, 7, 29])
    assert all(block.reader is not None for block in gallery.index_.blocks)
    kept = ~np.isin(y, [0, 7, 29])
    expected = GalleryClassifier().fit(X[kept], y[kept]).kneighbors(X, 5)
    assert_array_equal(gallery.kneighbors(X, 5)[1], expected[1])
    assert_allclose(gallery.kneighbors(X, 5)[0], expected[0])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_removing_every_identity_leaves_an_empty_gallery(algorithm, tmp_path):
    X, y = identities(5, 2)
    gallery = GalleryClassifier(algorithm=algorithm).fit(X, y).remove(np.arange(5))
    assert gallery.n_samples_fit_ == 0 and len(gallery.classes_) == 0
    for model in (gallery, sksiamese.load(gallery.save(tmp_path / "empty.sksiamese"))):
        with pytest.raises(ValueError, match="The gallery is empty: every identity enrolled"):
            model.predict(X)
        assert_array_equal(model.partial_fit(X[:2], [8, 8]).predict(X[:1]), [8])


def test_removing_an_identity_not_enrolled_removes_nothing(fitted_gallery):
    gallery, X, y = fitted_gallery
    before = snapshot(gallery, X)
    with pytest.raises(ValueError, match=r"not enrolled: \[77, 78\]. Nothing was removed"):
        gallery.remove([3, 77, 78])
    assert_unchanged(gallery, X, before)
    with pytest.raises(NotFittedError):
        GalleryClassifier().remove([1])


def test_hnsw_files_saved_before_removal_existed_still_load(tmp_path):
    X, y = identities(20, 3)
    gallery = GalleryClassifier(algorithm="hnsw").fit(X, y)
    path = gallery.save(tmp_path / "gallery.sksiamese")

    def forget_removal(document):
        del document["fitted"]["index_"]["removed"]

    older = sksiamese.load(edit_json(path, tmp_path / "older.sksiamese", forget_removal))
    assert_array_equal(older.kneighbors(X, 3)[1], gallery.kneighbors(X, 3)[1])
    older.remove([4])
    assert_never_answered(older, [4], X)


# Open-set identification --------------------------------------------------------


def test_threshold_rejects_far_queries():
    gallery = GalleryClassifier(threshold=1.0).fit([[0.0, 0.0], [10.0, 0.0]], [3, 7])
    assert_array_equal(
        gallery.predict([[0.5, 0.0], [10.0, 0.9], [5.0, 0.0], [10.0, 1.5]]), [3, 7, -1, -1]
    )
    assert_allclose(gallery.score_samples([[0.5, 0.0], [5.0, 0.0]]), [-0.5, -5.0])
    # score counts a rejected impostor labelled unknown_label as right.
    assert gallery.score([[0.5, 0.0], [5.0, 0.0], [10.0, 0.0]], [3, -1, 3]) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "labels, unknown_label, expected",
    [
        (["a", "b"], "auto", np.array(["a", "unknown"])),
        (np.array(["a", "b"], dtype=object), "auto", np.array(["a", "unknown"], dtype=object)),
        ([3, 7], "auto", np.array([3, -1])),
        (["a", "b"], "nobody", np.array(["a", "nobody"])),
        ([3, 7], 0, np.array([3, 0])),
    ],
)
def test_unknown_label_is_of_the_identities_kind(labels, unknown_label, expected):
    gallery = GalleryClassifier(threshold=1.0, unknown_label=unknown_label)
    answers = gallery.fit([[0.0], [9.0]], labels).predict([[0.0], [5.0]])
    assert gallery.unknown_label_ == expected[1]
    assert_array_equal(answers, expected)
    assert answers.dtype == expected.dtype
    closed = GalleryClassifier().fit([[0.0], [9.0]], labels)
    assert closed.predict([[5.0]]).dtype == closed.classes_.dtype


@pytest.mark.parametrize(
    "labels, unknown_label, message",
    [
        (["a", "b"], -1, "unknown_label=-1 is not of the identities' kind: they are text"),
        ([3, 7], "unknown", "unknown_label='unknown' is not of the identities' kind: they are num"),
    ],
)
def test_unknown_label_of_another_kind_is_refused(labels, unknown_label, message):
    gallery = GalleryClassifier(unknown_label=unknown_label)
    with pytest.raises(ValueError, match=message):
        gallery.fit([[0.0], [9.0]], labels)
    assert not hasattr(gallery, "classes_")


def test_score_and_accuracy_with_string_identities():
    # Strangers are labelled "unknown", as the gallery answers them; the
    # answers hold strings only, so scikit-learn's metrics can sort them.
    X, y = identities(40, 3)
    names = np.array([f"person {label}" for label in y])
    gallery = GalleryClassifier(far=0.2, random_state=0).fit(X[y < 30], names[y < 30])
    queries, query_ids = identities(40, 1, seed=0)
    queries += 0.1 * np.random.default_rng(2).standard_normal(queries.shape).astype(np.float32)
    truth = np.where(query_ids < 30, [f"person {label}" for label in query_ids], "unknown")
    answers = gallery.predict(queries)
    assert set(answers) <= {*gallery.classes_, "unknown"}
    expected = np.mean(answers == truth)
    assert gallery.score(queries, truth) == pytest.approx(expected)
    assert accuracy_score(truth, answers) == pytest.approx(expected)
    assert 0.6 < expected < 1.0


def test_vote_of_neighbours_and_its_distance():
    # The nearest row is identity 9 alone; two rows of identity 4 outvote it.
    X = [[0.0], [1.0], [1.5], [8.0]]
    gallery = GalleryClassifier(n_neighbors=3).fit(X, [9, 4, 4, 2])
    assert_array_equal(gallery.predict([[0.2]]), [4])
    assert_allclose(gallery.score_samples([[0.2]]), [-0.8])
    # A tie (one vote each) goes to the identity with the nearest row.
    tie = GalleryClassifier(n_neighbors=2).fit([[0.0], [1.0]], [5, 6])
    assert_array_equal(tie.predict([[0.6], [0.4]]), [6, 5])


def leave_identity_out_distances(X, y):
    """Each row's distance to its nearest row of another identity."""
    distances = pairwise_distances(X.astype(np.float64))
    distances[y[:, None] == y[None, :]] = np.inf
    return distances.min(axis=1)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_far_calibrates_the_threshold_on_identities_left_out(algorithm):
    X, y = identities(400, 5, spread=0.15)
    gallery = GalleryClassifier(algorithm=algorithm, far=0.05, random_state=0).fit(X, y)
    if algorithm == "exact":
        # 100 / far = 2000 impostor queries: every row, each matched against
        # the other 399 identities. For 5% of strangers, each facing all 400,
        # they are held to far' = 1 - 0.95^(399/400); the threshold lies at
        # position far' * 2001 = 99.8 of their sorted distances.
        impostor = np.sort(leave_identity_out_distances(X, y))
        position = (1 - 0.95 ** (399 / 400)) * 2001
        assert position == pytest.approx(99.8, abs=0.01)
        assert impostor[98] <= gallery.threshold_ <= impostor[99]
    # Identities never enrolled are accepted at about the rate asked for
    # (over 40 draws of such galleries: 5.3% on average)...
    strangers, _ = identities(1000, 2, spread=0.15, seed=7)
    assert 0.03 < np.mean(gallery.predict(strangers) != -1) < 0.09
    # ...while new rows of enrolled identities are recognised.
    rng = np.random.default_rng(8)
    centres = np.random.default_rng(0).standard_normal((400, 8))
    mated = (centres + 0.15 * rng.standard_normal((400, 8))).astype(np.float32)
    assert np.mean(gallery.predict(mated) == np.arange(400)) > 0.95


def test_far_draws_whole_identities_up_to_about_100_over_far():
    X, y = identities(600, 5)
    gallery = GalleryClassifier(far=0.25, random_state=0).fit(X, y)
    # 400 impostor queries (80 identities) of the 3000 rows: the threshold
    # accepts at most 100 of them, and about 25% of all rows.
    impostor = leave_identity_out_distances(X, y)
    assert 0.2 < np.mean(impostor <= gallery.threshold_) < 0.3
    again = GalleryClassifier(far=0.25, random_state=0).fit(X, y)
    other_draw = GalleryClassifier(far=0.25, random_state=1).fit(X, y)
    assert again.threshold_ == gallery.threshold_ != other_draw.threshold_


def clustered_unit_rows(rng, n_identities, per_identity, n_features=16, n_clusters=10):
    """Unit rows of identities whose centres gather in clusters, as embeddings do."""
    clusters = rng.standard_normal((n_clusters, n_features))
    centres = clusters[rng.integers(n_clusters, size=n_identities)]
    centres += 0.7 * rng.standard_normal((n_identities, n_features))
    labels = np.repeat(np.arange(n_identities), per_identity)
    rows = centres[labels] + 0.35 * rng.standard_normal((len(labels), n_features))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32), labels


@pytest.mark.parametrize(
    "n_identities, per_identity, far, n_draws, supported",
    [
        (20, 1, 0.1, 200, False),
        (20, 5, 0.2, 100, True),
        (2000, 1, 0.01, 10, True),
        (2000, 5, 0.01, 4, True),
    ],
)
def test_far_reached_on_strangers_is_the_far_asked_for(
    n_identities, per_identity, far, n_draws, supported
):
    # Galleries drawn again and again; strangers (identities never enrolled)
    # from the same clusters query each. The mean rate they are accepted at
    # is within 3 standard errors of far, from one-shot galleries of 20
    # identities to 2,000 of 5 rows. (Before the threshold was placed at
    # far' * (n + 1), 20 one-shot identities accepted 17% at far=0.1.)
    rng = np.random.default_rng(0)
    n_strangers = 1000 if n_identities > 100 else 200
    rates = []
    for _ in range(n_draws):
        X, y = clustered_unit_rows(rng, n_identities + n_strangers, per_identity)
        enrolled = y < n_identities
        gallery = GalleryClassifier(far=far, random_state=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gallery.fit(X[enrolled], y[enrolled])
        assert any("impostor queries" in str(w.message) for w in caught) != supported
        strangers = X[~enrolled][::per_identity]
        rates.append(np.mean(gallery.predict(strangers) != -1))
    standard_error = np.std(rates, ddof=1) / np.sqrt(n_draws)
    assert abs(np.mean(rates) - far) < 3 * standard_error


def test_far_warns_when_too_few_impostors_support_it():
    X, y = identities(30, 1)
    with pytest.warns(UserWarning, match=r"far=0.1 is supported by 2.9 impostor queries") as w:
        GalleryClassifier(far=0.1).fit(X, y)
    # 10 of 30 impostor queries, for 30 identities: far >= 1 - (2/3)^(30/29).
    assert f"supports far >= {1 - (2 / 3) ** (30 / 29):.3g}" in str(w[0].message)


def test_far_with_several_neighbours_voting():
    X, y = identities(200, 5)
    gallery = GalleryClassifier(n_neighbors=3, far=0.1, random_state=0).fit(X, y)
    strangers, _ = identities(500, 2, seed=9)
    assert 0.05 < np.mean(gallery.predict(strangers) != -1) < 0.15


# Bad input -------------------------------------------------------------------------


@pytest.fixture
def fitted_gallery():
    X, y = identities(50, 4)
    return GalleryClassifier(far=0.1, random_state=0).fit(X, y), X, y


def snapshot(gallery, X):
    return (
        gallery.n_samples_fit_,
        gallery.n_features_in_,
        gallery.threshold_,
        gallery.classes_.copy(),
        gallery.kneighbors(X, 3)[1].copy(),
    )


def assert_unchanged(gallery, X, before):
    after = snapshot(gallery, X)
    assert after[:3] == before[:3]
    assert_array_equal(after[3], before[3])
    assert_array_equal(after[4], before[4])


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda g, X, y: g.predict(X[:, :5]),
            "X has 5 features, but GalleryClassifier is expecting 8",
        ),
        (lambda g, X, y: g.kneighbors(np.full((2, 8), np.nan)), "Input X contains NaN"),
        (lambda g, X, y: g.score_samples(np.full((2, 8), np.inf)), "Input X contains infinity"),
        (lambda g, X, y: g.partial_fit(X[:3, :5], y[:3]), "X has 5 features"),
        (lambda g, X, y: g.partial_fit(np.where(X[:3] > 0, np.nan, X[:3]), y[:3]), "contains NaN"),
        (lambda g, X, y: g.partial_fit(X[:3], ["a", "b", "c"]), "Use labels of one kind"),
        (lambda g, X, y: g.partial_fit(X[:3], [1, -1, 2]), "unknown_label=-1 is also an enrolled"),
        (
            lambda g, X, y: g.set_params(algorithm="hnsw").partial_fit(X[:3], y[:3]),
            "Call fit to rebuild it",
        ),
        (lambda g, X, y: g.fit(X[:0], y[:0]), r"Found array with 0 sample\(s\)"),
        (
            lambda g, X, y: g.fit(X[:8, :5], y[:8]),
            "far=0.1 needs at least 10 impostor queries.*8 rows of 2",
        ),
        (lambda g, X, y: g.set_params(far=0.001).fit(X, y), "far=0.001 needs at least 1000"),
        (lambda g, X, y: g.fit(X[:12], np.zeros(12)), "12 rows of 1 identity"),
        (
            lambda g, X, y: g.set_params(threshold=1.0).fit(X, y),
            "Set far .* or threshold .*, not both",
        ),
        (
            lambda g, X, y: g.set_params(far=1.0).fit(X, y),
            "The 'far' parameter of GalleryClassifier",
        ),
        (lambda g, X, y: g.set_params(far=0).fit(X, y), "The 'far' parameter of GalleryClassifier"),
        (lambda g, X, y: g.kneighbors(X, n_neighbors=201), "Expected n_neighbors <= n_samples_fit"),
        (lambda g, X, y: g.kneighbors(X, n_neighbors=0), "n_neighbors must be a positive int"),
    ],
)
def test_bad_input_is_refused_and_leaves_the_gallery_unchanged(fitted_gallery, call, message):
    gallery, X, y = fitted_gallery
    before = snapshot(gallery, X)
    with pytest.raises(ValueError, match=message):
        call(gallery, X, y)
    gallery.set_params(far=0.1, threshold=None, algorithm="exact")
    assert_unchanged(gallery, X, before)


def test_unfitted_gallery_refuses_queries():
    with pytest.raises(NotFittedError, match="GalleryClassifier instance is not fitted"):
        GalleryClassifier().predict([[0.0]])


def test_missing_faiss_names_the_extra(fitted_gallery, monkeypatch):
    gallery, X, y = fitted_gallery
    before = snapshot(gallery, X)
    monkeypatch.setitem(sys.modules, "faiss", None)  # makes `import faiss` fail
    with pytest.raises(ImportError, match=r"pip install 'sksiamese\[ann\]'"):
        gallery.set_params(algorithm="hnsw").fit(X, y)
    gallery.set_params(algorithm="exact")
    assert_unchanged(gallery, X, before)


# Concurrency and pickling ---------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_concurrent_queries_answer_as_serial_ones(algorithm):
    X, y = identities(200, 5, n_features=16)
    gallery = GalleryClassifier(n_neighbors=3, algorithm=algorithm, threshold=2.0).fit(X, y)
    batches = [identities(40, 1, n_features=16, seed=seed)[0] for seed in range(16)]
    serial = [(gallery.predict(b), gallery.kneighbors(b, 5)[1]) for b in batches]
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(
            pool.map(lambda b: (gallery.predict(b), gallery.kneighbors(b, 5)[1]), batches)
        )
    for (labels, indices), (expected_labels, expected_indices) in zip(concurrent, serial):
        assert_array_equal(labels, expected_labels)
        assert_array_equal(indices, expected_indices)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_pickled_gallery_answers_the_same(algorithm, tmp_path):
    X, y = identities(100, 4)
    np.save(tmp_path / "gallery.npy", X)
    gallery = GalleryClassifier(algorithm=algorithm, far=0.1, random_state=0)
    gallery.fit(np.load(tmp_path / "gallery.npy", mmap_mode="r"), y)
    restored = pickle.loads(pickle.dumps(gallery))
    queries, _ = identities(100, 1, seed=5)
    assert restored.threshold_ == gallery.threshold_
    assert_array_equal(restored.predict(queries), gallery.predict(queries))
    assert_array_equal(restored.kneighbors(queries, 4)[1], gallery.kneighbors(queries, 4)[1])
    restored.partial_fit(queries[:2], [500, 501])
    assert_array_equal(restored.predict(queries[:2]), [500, 501])


# Saving and loading ----------------------------------------------------------------------


@pytest.fixture(scope="module", params=ALGORITHMS)
def saved_gallery(request, tmp_path_factory):
    X, y = identities(60, 4)
    labels = np.array([f"id{label}" for label in y])
    gallery = GalleryClassifier(algorithm=request.param, far=0.1, unknown_label="?", random_state=0)
    gallery.fit(X, labels)
    path = gallery.save(tmp_path_factory.mktemp("gallery") / "gallery.sksiamese")
    return gallery, Path(path)


def test_saved_gallery_loads_and_answers_the_same(saved_gallery):
    gallery, path = saved_gallery
    loaded = sksiamese.load(path)
    assert loaded.get_params() == gallery.get_params()
    assert loaded.threshold_ == gallery.threshold_
    assert_array_equal(loaded.classes_, gallery.classes_)
    queries, _ = identities(60, 2, seed=11)
    assert_array_equal(loaded.predict(queries), gallery.predict(queries))
    distances, indices = gallery.kneighbors(queries, 3)
    assert_array_equal(loaded.kneighbors(queries, 3)[1], indices)
    assert_allclose(loaded.kneighbors(queries, 3)[0], distances, rtol=1e-6)
    # The loaded index grows like the original.
    loaded.partial_fit(queries[:2], ["new1", "new2"])
    assert_array_equal(loaded.predict(queries[:2]), ["new1", "new2"])


def test_unfitted_and_closed_set_galleries_round_trip(tmp_path):
    unfitted = GalleryClassifier(n_neighbors=3, algorithm="hnsw", ef_search=20)
    assert sksiamese.load(unfitted.save(tmp_path / "unfitted.sksiamese")).get_params() == (
        unfitted.get_params()
    )
    closed = GalleryClassifier().fit([[0.0], [1.0]], [4, 5])
    loaded = sksiamese.load(closed.save(tmp_path / "closed.sksiamese"))
    assert loaded.threshold_ == np.inf
    assert_array_equal(loaded.predict([[0.9], [40.0]]), [5, 5])


def _replace_index(key, value):
    def edit(document):
        document["fitted"]["index_"][key] = value

    return edit


def _count(value):
    def edit(document):
        document["fitted"]["n_samples_fit_"] = value

    return edit


@pytest.mark.parametrize(
    "edit, message",
    [
        (_count(239), "does not match its enrolled rows"),
        (_replace_index("algorithm", "annoy"), "neither an exact nor an hnsw index"),
        (_replace_index("distance", "manhattan"), "unknown distance 'manhattan'"),
    ],
)
def test_gallery_files_with_a_foreign_index_are_refused(saved_gallery, tmp_path, edit, message):
    _, path = saved_gallery
    with pytest.raises(ValueError, match=message):
        sksiamese.load(edit_json(path, tmp_path / "edited.sksiamese", edit))


def test_damaged_gallery_files_are_refused(saved_gallery, tmp_path):
    gallery, path = saved_gallery
    with pytest.raises(ValueError, match="damaged"):
        sksiamese.load(_flip_a_byte(path, tmp_path / "flipped.sksiamese"))
    # The index's own data, intact as zip data but not an index.
    if gallery.algorithm == "hnsw":
        replace, message = {"index.faiss": b"\x07" * 64}, "faiss cannot read the saved"
    else:
        halves = io.BytesIO()
        np.save(halves, np.full((1, 1), 0.5))
        replace, message = {"index.rows.npy": halves.getvalue()}, "rows as a float32 matrix"
    with pytest.raises(ValueError, match=message):
        sksiamese.load(rewrite(path, tmp_path / "edited.sksiamese", replace))


def test_hnsw_file_searching_by_another_metric_is_refused(tmp_path):
    gallery = GalleryClassifier(algorithm="hnsw").fit(*identities(10, 2))
    path = gallery.save(tmp_path / "gallery.sksiamese")
    edited = edit_json(path, tmp_path / "cosine.sksiamese", _replace_index("distance", "cosine"))
    with pytest.raises(ValueError, match="does not search by its distance's metric"):
        sksiamese.load(edited)


# scikit-learn's checks ------------------------------------------------------------------
#
# All of check_estimator's checks run and pass for both algorithms. Rejection
# (far, threshold) is left at its default: the checks expect every answer to be
# one of the classes fitted.


@parametrize_with_checks([GalleryClassifier(), GalleryClassifier(algorithm="hnsw")])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_param_validation(algorithm):
    check_param_validation("GalleryClassifier", GalleryClassifier(algorithm=algorithm))


def test_partial_fit_n_features():
    check_estimators_partial_fit_n_features("GalleryClassifier", GalleryClassifier())


# Metrics ---------------------------------------------------------------------------------


def test_dir_far_curve_counts_at_every_threshold():
    rng = np.random.default_rng(0)
    y_true = rng.choice([-1, 1, 2, 3], 200)
    y_pred = rng.choice([1, 2, 3], 200)
    y_score = rng.choice(np.linspace(0, 1, 30), 200)  # with ties
    far, dir_, thresholds = dir_far_curve(y_true, y_pred, y_score)
    mated = y_true != -1
    for point_far, point_dir, threshold in zip(far, dir_, thresholds):
        accepted = y_score >= threshold
        assert point_far == np.mean(accepted[~mated])
        assert point_dir == np.mean(accepted[mated] & (y_pred == y_true)[mated])
    assert len(thresholds) == len(np.unique(y_score)) + 1


def test_dir_at_far_values():
    y_true = ["ann", "ann", "bob", "bob", "?", "?", "?", "?"]
    y_pred = ["ann", "bob", "bob", "bob", "ann", "bob", "ann", "bob"]
    y_score = [0.9, 0.8, 0.7, 0.3, 0.85, 0.4, 0.2, 0.1]
    values = [
        dir_at_far(y_true, y_pred, y_score, far=far, unknown_label="?")
        for far in (0.1, 0.25, 0.5, 1.0)
    ]
    assert values == [0.25, 0.5, 0.75, 0.75]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"y_true": [1, 2]}, ValueError, "all 2 probes are mated"),
        ({"y_true": [-1, -1]}, ValueError, "all 2 probes are non-mated"),
        ({"y_pred": [1]}, ValueError, "same length; got shapes"),
        ({"y_score": [0.5]}, ValueError, "one score per probe"),
        ({"y_score": [0.5, np.nan]}, ValueError, "Input y_score contains NaN"),
        ({"far": 0.0}, InvalidParameterError, "The 'far' parameter of dir_at_far"),
        ({"far": 2}, InvalidParameterError, "The 'far' parameter of dir_at_far"),
    ],
)
def test_dir_at_far_refuses_bad_arguments(kwargs, error, message):
    arguments = {"y_true": [1, -1], "y_pred": [1, 1], "y_score": [0.5, 0.2], **kwargs}
    with pytest.raises(error, match=message):
        dir_at_far(**arguments)


def test_dir_at_far_scorer_in_grid_search():
    X, y = identities(150, 3, n_features=8)
    scorer = make_dir_at_far_scorer(far=0.1)
    assert repr(scorer) == "make_dir_at_far_scorer(far=0.1)"
    assert pickle.loads(pickle.dumps(scorer)).far == 0.1
    # Identities of 3 rows: a test split holds rows of enrolled identities and
    # of identities all of whose rows it holds (impostors).
    split = ShuffleSplit(n_splits=2, test_size=0.5, random_state=0)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), GalleryClassifier()),
        {"galleryclassifier__n_neighbors": [1, 2]},
        scoring=scorer,
        cv=split,
        error_score="raise",
    ).fit(X, y)
    train, test = next(split.split(X))
    pipeline = make_pipeline(StandardScaler(), GalleryClassifier(n_neighbors=1)).fit(
        X[train], y[train]
    )
    enrolled = np.isin(y[test], y[train])
    y_true = np.where(enrolled, y[test], -1)
    expected = dir_at_far(
        y_true, pipeline.predict(X[test]), pipeline.score_samples(X[test]), far=0.1
    )
    assert search.cv_results_["split0_test_score"][0] == pytest.approx(expected)
    assert 0.5 < expected <= 1.0


def test_dir_at_far_scorer_needs_both_kinds_of_probe():
    X, y = identities(10, 2)
    gallery = GalleryClassifier().fit(X, y)
    with pytest.raises(ValueError, match="all 20 probes are mated"):
        make_dir_at_far_scorer()(gallery, X, y)
    with pytest.raises(
        InvalidParameterError, match="The 'far' parameter of make_dir_at_far_scorer"
    ):
        make_dir_at_far_scorer(far=-1)


@pytest.mark.parametrize(
    "call",
    [
        lambda gallery, X: gallery.fit(X, ["a", 1] * (len(X) // 2)),
        lambda gallery, X: gallery.partial_fit(X, np.array(["a", 1] * (len(X) // 2), dtype=object)),
        lambda gallery, X: gallery.partial_fit(X, ["a"] * len(X), classes=["b", 2]),
    ],
)
def test_labels_mixing_strings_and_numbers_are_refused(call):
    X, y = identities(4, 2)
    gallery = GalleryClassifier().fit(X, [f"id{label}" for label in y])
    classes, n_rows = gallery.classes_.copy(), gallery.n_samples_fit_
    with pytest.raises(ValueError, match=r"Mix of label input types \(string and number\): "):
        call(gallery, X)
    assert_array_equal(gallery.classes_, classes)
    assert gallery.n_samples_fit_ == n_rows == len(gallery.enrolled_codes_)
