"""Throughput under ``tf.distribute`` strategies, precisions and GPUs.

Training and inference images/s of the default cnn without a strategy (at
the global batch and at the per-replica batch), under MirroredStrategy
over two logical CPU devices and in mixed_bfloat16; on a machine with
GPUs, float32 against mixed_float16 and MirroredStrategy over all GPUs.
"""

import os
import time

import numpy as np

from harness import epoch_timer, run_child, spread


def run(args, data, train):
    return bench_distribute(quick=args.quick)


def throughput_child(setup, precision, batch_size, n_rows, epochs):
    """Training and ``transform`` images/s of the default cnn under one strategy."""
    import tensorflow as tf

    batch_size, n_rows, epochs = int(batch_size), int(n_rows), int(epochs)
    if setup == "mirrored-cpu":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    elif setup == "mirrored-gpus":
        strategy = tf.distribute.MirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()

    from sksiamese import SiameseEmbedder

    rng = np.random.default_rng(0)
    n_classes = 200
    prototypes = (rng.random((n_classes, 28, 28, 1)) > 0.8).astype(np.float32)
    y = rng.integers(0, n_classes, n_rows)
    X = prototypes[y] + 0.3 * rng.standard_normal((n_rows, 28, 28, 1), dtype=np.float32)
    timer = epoch_timer()
    embedder = SiameseEmbedder(
        network="cnn",
        n_components=32,
        epochs=epochs,
        batch_size=batch_size,
        augment=False,
        precision=precision,
        callbacks=[timer],
        random_state=0,
    )
    with strategy.scope():
        embedder.fit(X, y)
    start = time.perf_counter()
    embedder.transform(X)
    return {
        "replicas": strategy.num_replicas_in_sync,
        # The first epoch traces and compiles; the others measure.
        "train images/s": n_rows / float(np.median(timer.times[1:])),
        "transform images/s": n_rows / (time.perf_counter() - start),
        "final loss": float(embedder.history_["loss"][-1]),
    }


def bench_distribute(*, quick, repeats=3):
    """Training and inference throughput of the default cnn, per strategy and precision.

    Each set-up runs ``repeats`` times in fresh processes, set-ups taking
    turns; a run's speed is the median of its epochs after the first.

    Without GPUs: no strategy at ``batch_size=128``; MirroredStrategy over
    two logical CPU devices at ``batch_size=128`` (one process and the same
    cores, so it measures the strategy's overhead and the use of the
    cores, not added hardware); no strategy at ``batch_size=64``, which
    computes what each replica computes under the strategy (64 rows of 16
    classes x 4, mined on their own), with one update per 64 rows where
    the strategy makes one per 128, so its loss differs; and
    mixed_bfloat16 at 128. With GPUs: float32 against mixed_float16 at two
    batch sizes, and MirroredStrategy over every GPU when there are
    several.
    """
    import tensorflow as tf

    n_gpus = len(tf.config.list_physical_devices("GPU"))
    n_rows, epochs = (4_000, 3) if quick else (16_000, 3)
    runs = [
        ("none", "float32", 128),
        ("mirrored-cpu", "float32", 128),
        ("none", "float32", 64),
        ("none", "mixed_bfloat16", 128),
    ]
    if n_gpus:
        n_rows = 20_000 if quick else 100_000
        runs = [
            ("none", "float32", 512),
            ("none", "mixed_float16", 512),
            ("none", "float32", 2048),
            ("none", "mixed_float16", 2048),
        ]
        if n_gpus > 1:
            runs += [("mirrored-gpus", "float32", 2048), ("mirrored-gpus", "mixed_float16", 2048)]
    measured = {run: [] for run in runs}
    for _ in range(repeats):
        for run in runs:
            measured[run].append(run_child(throughput_child, *run, n_rows, epochs))
    results = {
        "device": f"{n_gpus} GPU(s)"
        if n_gpus
        else f"CPU only ({os.cpu_count()} cores), no GPU visible",
        "rows": n_rows,
        "epochs": epochs,
        "repeats": repeats,
    }
    for (setup, precision, batch_size), values in measured.items():
        results[f"{setup}, {precision}, batch_size={batch_size}"] = {
            "replicas": values[0]["replicas"],
            **{
                key: spread([value[key] for value in values])
                for key in ("train images/s", "transform images/s", "final loss")
            },
        }
    if not n_gpus:

        def ratio(top, bottom):
            return spread(
                np.divide(
                    [value["train images/s"] for value in measured[top]],
                    [value["train images/s"] for value in measured[bottom]],
                )
            )

        results["train speed ratios"] = {
            "mirrored over none at the per-replica batch (64)": ratio(
                ("mirrored-cpu", "float32", 128), ("none", "float32", 64)
            ),
            "mirrored over none at the global batch (128)": ratio(
                ("mirrored-cpu", "float32", 128), ("none", "float32", 128)
            ),
            "mixed_bfloat16 over float32": ratio(
                ("none", "mixed_bfloat16", 128), ("none", "float32", 128)
            ),
        }
    return results
