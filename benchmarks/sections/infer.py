"""Inference: ``transform`` against Keras' calls, and its memory.

1-row latency and 10,000-row throughput of ``transform`` against
``encoder_.predict``, ``predict_on_batch`` and a direct call of the
encoder, and the peak memory growth of one ``transform`` of a million rows
against the size of its output.
"""

import time

import numpy as np

from harness import measure, run_child, spread


def run(args, data, train):
    results = bench_infer(data.images[train], repeats=100 if args.quick else 300)
    results.update(bench_transform_memory(200_000 if args.quick else 1_000_000))
    return results


def bench_infer(images, *, n_rows=10_000, repeats=200):
    """Latency of one row and throughput of 10,000 rows: ``transform`` against Keras.

    The encoder is the default cnn after one epoch (its speed does not
    depend on its weights). One row: ``transform``, ``encoder_.predict``,
    ``encoder_.predict_on_batch`` (Keras' call for one batch) and the
    encoder called directly, ``repeats`` calls each (predict a tenth as
    many) after a warm-up. 10,000 rows: ``transform`` against ``predict``
    as users call it (batches of 32) and with batches as large as
    ``transform``'s chunks, its best case; 3 calls each, alternately.
    """
    from sksiamese import SiameseEmbedder

    head = images[:1024]
    embedder = SiameseEmbedder(
        network="cnn", input_shape=images.shape[1:], epochs=1, random_state=0
    ).fit(head, np.arange(len(head)) % 32)
    encoder = embedder.encoder_
    rows = np.resize(images, (n_rows, *images.shape[1:])).astype(np.float32)
    one = rows[:1]

    def times_ms(function, count):
        function()  # warm-up: tracing, first allocation
        times = []
        for _ in range(count):
            start = time.perf_counter()
            function()
            times.append(1000 * (time.perf_counter() - start))
        return times

    one_row = {
        "transform": lambda: embedder.transform(one),
        "encoder_.predict": lambda: encoder.predict(one, verbose=0),
        "encoder_.predict_on_batch": lambda: encoder.predict_on_batch(one),
        "encoder_(x) called directly": lambda: encoder(one, training=False),
    }
    results = {
        "one row, ms": {
            name: spread(
                times_ms(call, repeats if name != "encoder_.predict" else max(10, repeats // 10))
            )
            for name, call in one_row.items()
        }
    }
    many = {
        "transform": lambda: embedder.transform(rows),
        "encoder_.predict": lambda: encoder.predict(rows, verbose=0),
        "encoder_.predict(batch_size=1024)": lambda: encoder.predict(
            rows, verbose=0, batch_size=1024
        ),
    }
    for call in many.values():
        call()
    rates = {name: [] for name in many}
    for _ in range(3):
        for name, call in many.items():
            start = time.perf_counter()
            call()
            rates[name].append(n_rows / (time.perf_counter() - start))
    results[f"{n_rows:,} rows, rows/s"] = {name: spread(values) for name, values in rates.items()}
    results[f"{n_rows:,} rows, transform over predict"] = {
        name: spread(np.divide(rates["transform"], values))
        for name, values in rates.items()
        if name != "transform"
    }
    return results


def transform_memory_child(n_rows, dtype):
    """Peak memory growth (MiB) of one ``transform`` of ``n_rows`` rows, and its output's size."""
    from sksiamese import SiameseEmbedder

    rng = np.random.default_rng(0)
    X = rng.normal(size=(int(n_rows), 8)).astype(dtype)
    y = rng.integers(0, 4, len(X))
    embedder = SiameseEmbedder(n_components=32, epochs=1, random_state=0).fit(X[:2000], y[:2000])
    embedder.transform(X[:5000])  # compiles for this dtype
    Z, _, growth = measure(lambda: embedder.transform(X))
    return {"peak growth MB": growth["total"], "output MB": Z.nbytes / 2**20}


def bench_transform_memory(n_rows):
    """Peak memory growth of one ``transform`` call against the size of its output."""
    return {
        f"one transform of {n_rows:,} rows, {dtype}": run_child(
            transform_memory_child, n_rows, dtype
        )
        for dtype in ("float32", "float64")
    }
