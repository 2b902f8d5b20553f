"""Disk-backed arrays (np.load(..., mmap_mode="r")) and partial_fit on streams."""

import pickle

import numpy as np
import pytest

from sksiamese import SiameseEmbedder
from sksiamese._rows import DiskRows, is_disk_backed, iter_chunks
from sksiamese.datasets import make_pairs


def on_disk(tmp_path, array, name="rows.npy"):
    np.save(tmp_path / name, array)
    return np.load(tmp_path / name, mmap_mode="r")


def resident_file_mib():
    """Pages of mapped files this process holds, from /proc (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssFile:"):
                return int(line.split()[1]) / 1024
    pytest.skip("/proc/self/status has no RssFile line on this system")


def test_disk_backed_arrays_are_recognised(tmp_path):
    X = on_disk(tmp_path, np.zeros((10, 4), np.float32))
    assert is_disk_backed(X) and is_disk_backed(X[2:5]) and is_disk_backed(np.asarray(X))
    assert is_disk_backed(X.reshape(5, 8))
    assert not is_disk_backed(np.array(X)) and not is_disk_backed(np.zeros(3))


def test_fit_on_a_memmap_equals_fit_in_memory(tmp_path, small_digits):
    X, y = small_digits
    X = X.astype(np.float32)
    params = dict(n_components=8, epochs=2, random_state=0, early_stopping=True)
    in_memory = SiameseEmbedder(**params).fit(X, y)
    from_disk = SiameseEmbedder(**params).fit(on_disk(tmp_path, X), y)
    assert from_disk.history_ == in_memory.history_
    np.testing.assert_array_equal(
        from_disk.transform(on_disk(tmp_path, X, "b.npy")), in_memory.transform(X)
    )


def test_fit_pairs_on_a_memmap_equals_fit_in_memory(tmp_path, small_digits):
    X, y = small_digits
    pairs, same = make_pairs(X.astype(np.float32), y, n_pairs=200, random_state=0)
    params = dict(loss="contrastive", n_components=4, epochs=2, random_state=0, early_stopping=True)
    in_memory = SiameseEmbedder(**params).fit_pairs(pairs, same)
    from_disk = SiameseEmbedder(**params).fit_pairs(on_disk(tmp_path, pairs), same)
    assert from_disk.history_ == in_memory.history_
    np.testing.assert_array_equal(from_disk.transform(X), in_memory.transform(X))


def test_memmaps_of_other_dtypes_are_converted_batch_by_batch(tmp_path, small_digits):
    X, y = small_digits
    pixels = X.astype(np.uint8)
    embedder = SiameseEmbedder(n_components=4, epochs=1, random_state=0)
    embedder.fit(on_disk(tmp_path, pixels), y)
    reference = SiameseEmbedder(n_components=4, epochs=1, random_state=0).fit(
        pixels.astype(np.float32), y
    )
    np.testing.assert_array_equal(
        embedder.transform(pixels.astype(np.float32)),
        reference.transform(pixels.astype(np.float32)),
    )
    # Integers embed in float64, as scikit-learn converts them.
    embedded = embedder.transform(on_disk(tmp_path, pixels, "p.npy"))
    assert embedded.dtype == np.float64
    np.testing.assert_allclose(embedded, embedder.transform(pixels.astype(np.float64)))
    as_float64 = embedder.transform(on_disk(tmp_path, X.astype(np.float64), "d.npy"))
    assert as_float64.dtype == np.float64


def test_transform_reads_a_large_memmap_in_chunks(tmp_path, fitted, small_digits):
    X, _ = small_digits
    big = np.tile(X.astype(np.float32), (10, 1))
    embedded = fitted.transform(on_disk(tmp_path, big))
    assert embedded.shape == (3000, 8) and embedded.dtype == np.float32
    np.testing.assert_allclose(embedded, fitted.transform(big), atol=1e-6)


@pytest.mark.parametrize("bad, message", [(np.nan, "contains NaN"), (np.inf, "infinity")])
def test_non_finite_memmaps_are_refused_before_training(
    tmp_path, small_digits, fitted, bad, message
):
    X, y = small_digits
    X = X.astype(np.float32)
    X[-1, 3] = bad
    with pytest.raises(ValueError, match=message):
        SiameseEmbedder(epochs=1).fit(on_disk(tmp_path, X), y)
    with pytest.raises(ValueError, match=message):
        fitted.transform(on_disk(tmp_path, X, "t.npy"))


def test_float64_memmap_beyond_float32_range_is_refused(tmp_path, small_digits):
    X, y = small_digits
    X = X.copy()
    X[5, 5] = 1e39
    with pytest.raises(ValueError, match="float32's range"):
        SiameseEmbedder(epochs=1).fit(on_disk(tmp_path, X), y)


def test_changes_to_a_copy_on_write_memmap_are_read(tmp_path):
    np.save(tmp_path / "rows.npy", np.zeros((6, 3), np.float32))
    X = np.load(tmp_path / "rows.npy", mmap_mode="c")
    X[2] = 7.0  # kept in memory only: the file still holds zeros
    np.testing.assert_array_equal(DiskRows(X, (3,)).take(np.array([2, 0])), [[7, 7, 7], [0, 0, 0]])
    np.testing.assert_array_equal(DiskRows(X, (3,)).take(slice(1, 3)), [[0, 0, 0], [7, 7, 7]])


def test_reading_a_memmap_keeps_resident_memory_bounded(tmp_path):
    # 1,500,000 x 32 float32: a 183 MiB file, read twice over.
    path = tmp_path / "big.npy"
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(1_500_000, 32))
    for start in range(0, len(array), 250_000):
        array[start : start + 250_000] = start
    del array
    X = np.load(path, mmap_mode="r")
    before = resident_file_mib()
    peak = 0.0
    total = 0.0
    for _, chunk in iter_chunks(X):
        total += float(chunk[:, 0].sum(dtype=np.float64))
        peak = max(peak, resident_file_mib() - before)
    reader = DiskRows(X, (32,))
    assert reader._fd is not None
    rng = np.random.default_rng(0)
    for _ in range(2000):  # batches of scattered rows, as training reads them
        rows = reader.take(rng.integers(len(X), size=256))
        peak = max(peak, resident_file_mib() - before)
    assert rows.shape == (256, 32) and rows.dtype == np.float32
    assert total == sum(start * 250_000.0 for start in range(0, 1_500_000, 250_000))
    assert peak < 10, f"resident file pages grew by {peak:.0f} MiB"


@pytest.mark.parametrize(
    "view",
    [
        lambda X: X,
        lambda X: X[7:40],
        lambda X: X[::3],
        lambda X: X[:, ::2],
        lambda X: X.reshape(100, 2, 3)[5:],
    ],
    ids=["whole", "rows", "every third row", "strided columns", "reshaped"],
)
@pytest.mark.parametrize("mode", ["r", "c"])
def test_disk_rows_reads_any_view_exactly(tmp_path, view, mode):
    values = np.arange(600, dtype=">f8").reshape(100, 6)  # big-endian, too
    np.save(tmp_path / "rows.npy", values)
    X = view(np.load(tmp_path / "rows.npy", mmap_mode=mode))
    expected = np.asarray(X, dtype=np.float32)
    reader = DiskRows(X, X.shape[1:])
    np.testing.assert_array_equal(reader.take(slice(None)), expected)
    np.testing.assert_array_equal(reader.take(slice(2, 9, 2)), expected[2:9:2])
    picks = np.array([len(X) - 1, 0, 3, 3, -1])
    np.testing.assert_array_equal(reader.take(picks), expected[picks])
    assert reader.take(picks, dtype=None).dtype == X.dtype
    with pytest.raises(IndexError, match="out of (range|bounds)"):
        reader.take(np.array([len(X)]))


# partial_fit -------------------------------------------------------------------


def stream(X, y, n_chunks):
    return zip(np.array_split(X, n_chunks), np.array_split(y, n_chunks))


def test_partial_fit_trains_one_epoch_per_chunk(digits):
    X, y = digits
    train, test = slice(0, 1400), slice(1400, None)
    embedder = SiameseEmbedder(n_components=16, epochs=50, random_state=0)
    scores = []
    for n, (X_chunk, y_chunk) in enumerate(stream(X[train], y[train], 7), start=1):
        embedder.partial_fit(X_chunk, y_chunk)
        assert embedder.n_iter_ == n and len(embedder.history_["loss"]) == n
        scores.append(embedder.score(X[test], y[test]))
    np.testing.assert_array_equal(embedder.classes_, np.arange(10))
    assert scores[-1] > 0.9 and scores[-1] > scores[0]
    # The optimizer's state carries over: its step count spans the stream.
    assert int(embedder._optimizer.iterations) == sum(
        int(np.ceil(len(c) / 128)) for c in np.array_split(y[train], 7)
    )


def test_partial_fit_is_reproducible_and_continues_after_pickling(small_digits):
    X, y = small_digits
    chunks = list(stream(X, y, 3))

    def run(pickle_between=False):
        embedder = SiameseEmbedder(n_components=4, random_state=3)
        for X_chunk, y_chunk in chunks:
            embedder.partial_fit(X_chunk, y_chunk)
            if pickle_between:
                embedder = pickle.loads(pickle.dumps(embedder))
        return embedder

    first, again = run(), run()
    np.testing.assert_array_equal(first.transform(X), again.transform(X))
    resumed = run(pickle_between=True)
    assert resumed.n_iter_ == 3 and np.isfinite(resumed.transform(X)).all()


def test_partial_fit_classes_accumulate(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(n_components=4, random_state=0)
    embedder.partial_fit(X[y < 3], y[y < 3])
    np.testing.assert_array_equal(embedder.classes_, [0, 1, 2])
    embedder.partial_fit(X[y >= 7], y[y >= 7])
    np.testing.assert_array_equal(embedder.classes_, [0, 1, 2, 7, 8, 9])


def test_partial_fit_rejects_a_bad_chunk_and_keeps_its_state(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(n_components=4, random_state=0).partial_fit(X, y)
    before = embedder.transform(X)
    with pytest.raises(ValueError, match="64 features"):
        embedder.partial_fit(X[:, :10], y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        embedder.partial_fit(X[y == 1], y[y == 1])
    assert embedder.n_iter_ == 1 and embedder.n_features_in_ == 64
    np.testing.assert_array_equal(embedder.transform(X), before)


def test_partial_fit_after_fit_continues_the_encoder(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(n_components=4, epochs=2, random_state=0).fit(X, y)
    encoder = embedder.encoder_
    embedder.partial_fit(X, y)
    assert embedder.encoder_ is encoder and embedder.n_iter_ == 3


def test_partial_fit_reads_memmapped_chunks(tmp_path, small_digits):
    X, y = small_digits
    X = on_disk(tmp_path, X.astype(np.float32))
    embedder = SiameseEmbedder(n_components=4, random_state=0)
    for start in range(0, len(y), 100):
        embedder.partial_fit(X[start : start + 100], y[start : start + 100])
    assert embedder.n_iter_ == 3


def test_partial_fit_stream_resumes_from_its_checkpoint_in_a_new_estimator(tmp_path, small_digits):
    X, y = small_digits
    params = dict(n_components=4, random_state=0, checkpoint_dir=tmp_path, warm_start=True)
    first = SiameseEmbedder(**params)
    for X_chunk, y_chunk in stream(X[:200], y[:200], 2):
        first.partial_fit(X_chunk, y_chunk)
    # A new process picks the stream up where the checkpoint left it.
    resumed = SiameseEmbedder(**params).partial_fit(X[200:], y[200:])
    assert resumed.n_iter_ == 3 and len(resumed.history_["loss"]) == 3
    assert resumed.history_["loss"][:2] == first.history_["loss"]


def test_warm_start_fit_reports_the_classes_of_its_last_call_only(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(n_components=4, epochs=1, warm_start=True, random_state=0)
    embedder.fit(X[y < 3], y[y < 3]).fit(X[y >= 7], y[y >= 7])
    np.testing.assert_array_equal(embedder.classes_, [7, 8, 9])
