"""Out of core: a memory-mapped file against the same file in memory.

Three epochs of ``fit`` and one ``transform`` on an ``(n, 32)`` float32
.npy file read with ``mmap_mode="r"``, against the same file loaded into
memory: seconds per epoch and peak growth of resident memory (total,
anonymous, file pages).
"""

import tempfile
from pathlib import Path

import numpy as np

from harness import epoch_timer, measure, run_child, spread


def run(args, data, train):
    return bench_out_of_core(100_000 if args.quick else 1_000_000)


def out_of_core_child(path, labels_path, mode, batch_size, mining, epochs):
    """Seconds per epoch and memory growth of ``fit``, and one ``transform``, on one file."""
    from sksiamese import SiameseEmbedder

    X = np.load(path, mmap_mode="r" if mode == "memmap" else None)
    y = np.load(labels_path)
    timer = epoch_timer()
    embedder = SiameseEmbedder(
        n_components=16,
        epochs=int(epochs),
        batch_size=int(batch_size),
        mining=mining,
        callbacks=[timer],
        random_state=0,
    )
    # Warm up TensorFlow's runtime on a small slice, so the growth is the fit's.
    embedder.fit(np.asarray(X[:4096]), y[:4096])
    timer.times.clear()
    _, _, fit_growth = measure(lambda: embedder.fit(X, y))
    Z, transform_seconds, transform_growth = measure(lambda: embedder.transform(X))
    return {
        "fit seconds per epoch": spread(timer.times),
        "fit peak growth MB": fit_growth,
        "transform seconds": transform_seconds,
        "transform peak growth MB": transform_growth["total"],
        "transform output MB": Z.nbytes / 2**20,
        "final loss": float(embedder.history_["loss"][-1]),
    }


RUNS = (
    ("memmap", 128, "semi-hard"),
    ("memory", 128, "semi-hard"),
    ("memmap", 1024, "semi-hard"),
    ("memmap", 1024, "hard"),
)


def bench_out_of_core(n_rows, *, n_features=32, n_classes=1000, epochs=3, runs=RUNS):
    """``epochs`` epochs of ``fit`` and one ``transform`` on an ``(n_rows, 32)`` float32 .npy file.

    Read with ``mmap_mode="r"`` against loaded into memory, with the default
    batches and with batches of 1024 rows (semi-hard and batch-hard
    mining); seconds per epoch (median and range over the epochs) and peak
    growth of resident memory (total, anonymous and file pages) over the
    whole fit, each run in a fresh process.
    """
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        path, labels_path = Path(folder) / "X.npy", Path(folder) / "y.npy"
        rng = np.random.default_rng(0)
        centres = rng.standard_normal((n_classes, n_features)).astype(np.float32)
        labels = rng.integers(0, n_classes, n_rows)
        np.save(labels_path, labels)
        X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_rows, n_features))
        for start in range(0, n_rows, 500_000):
            part = labels[start : start + 500_000]
            X[start : start + len(part)] = centres[part] + rng.standard_normal(
                (len(part), n_features), dtype=np.float32
            )
        X.flush()
        results["file"] = {"rows": n_rows, "MB": X.nbytes / 2**20, "epochs": epochs}
        del X
        for mode, batch_size, mining in runs:
            results[f"{mode}, batch_size={batch_size}, mining={mining}"] = run_child(
                out_of_core_child, path, labels_path, mode, batch_size, mining, epochs
            )
    return results
