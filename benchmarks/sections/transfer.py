"""Transfer: a frozen backbone's features computed once per fit.

Seconds per epoch of ``fit`` with a frozen MobileNetV3Large backbone
(32 x 32 images, random weights) and a trainable projection head, with the
frozen features computed once per fit against the same encoder trained
through the backbone every batch; median and range of repeats, and the
largest difference between the two fits' embeddings.
"""

import time

import numpy as np

from harness import epoch_timer, spread


def run(args, data, train):
    return bench_transfer(quick=args.quick)


def bench_transfer(*, quick, repeats=3, epochs=4):
    """Seconds per epoch with a frozen backbone, with and without the frozen-feature pass.

    The slow path is the same fit with the split into frozen part and head
    turned off, so every batch runs through the backbone. Epoch times come
    from a callback; the first epoch of each fit (tracing) is left out.
    """
    from unittest import mock

    import keras

    from sksiamese import SiameseEmbedder

    n_rows = 1024 if quick else 2048
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(n_rows, 32, 32, 3)).astype(np.float32)
    labels = np.repeat(np.arange(n_rows // 16), 16)
    backbone = keras.applications.MobileNetV3Large(
        input_shape=(32, 32, 3), weights=None, include_top=False, pooling="avg"
    )
    backbone.trainable = False

    def fit(fast):
        timer = epoch_timer()
        embedder = SiameseEmbedder(
            network=backbone,
            n_components=64,
            epochs=epochs,
            batch_size=128,
            augment=False,
            callbacks=[timer],
            random_state=0,
        )
        start = time.perf_counter()
        if fast:
            embedder.fit(images, labels)
        else:
            with mock.patch("sksiamese._frozen.split_frozen", return_value=None):
                embedder.fit(images, labels)
        return embedder, time.perf_counter() - start, timer.times[1:]

    per_epoch = {True: [], False: []}
    fit_seconds = {True: [], False: []}
    embedded = {}
    for _ in range(repeats):
        for fast in (True, False):
            embedder, seconds, times = fit(fast)
            per_epoch[fast].append(float(np.median(times)))
            fit_seconds[fast].append(seconds)
            embedded[fast] = embedder.transform(images[:256])
    speedup = np.divide(per_epoch[False], per_epoch[True])
    results = {
        "backbone": "MobileNetV3Large, include_top=False, pooling=avg, frozen",
        "backbone parameters": int(backbone.count_params()),
        "rows": n_rows,
        "epochs per fit": epochs,
        "repeats": repeats,
        "frozen features once: s/epoch": spread(per_epoch[True]),
        "through the backbone: s/epoch": spread(per_epoch[False]),
        "speed-up per epoch": spread(speedup),
        "frozen features once: fit s": spread(fit_seconds[True]),
        "through the backbone: fit s": spread(fit_seconds[False]),
        "max abs embedding difference": float(np.abs(embedded[True] - embedded[False]).max()),
    }
    results["targets"] = {
        "backbone >= 1M parameters": results["backbone parameters"] >= 1_000_000,
        ">= 5x faster per epoch": bool(np.median(speedup) >= 5),
        "same embeddings (max abs difference <= 1e-4)": results["max abs embedding difference"]
        <= 1e-4,
    }
    return results
