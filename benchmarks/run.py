"""sksiamese benchmark suite: speed, few-shot quality and scaling.

    python benchmarks/run.py            # full run
    python benchmarks/run.py --quick    # a few minutes

Prints one table and writes the results as JSON (``--output``). Sections:

1. train:   images/s of ``SiameseEmbedder.fit`` against a hand-written
            ``tf.function`` loop on the same network, loss and P x K
            batches: a custom conv network with batch normalisation and
            batch-hard mining, and the default cnn.
2. infer:   1-row latency and 10,000-row throughput of ``transform`` against
            ``encoder_.predict``, and the peak memory growth of one
            ``transform`` of a million rows against the size of its output.
3. fewshot: Omniglot (bundled with sksiamese, or ``--omniglot`` zip): train on
            three alphabets, 20-way and 5-way 1-shot episodes on the two
            others, within one alphabet (Lake's protocol) and across both;
            raw pixels and PCA as baselines.
4. scaling: seconds per epoch and peak resident memory of a fresh process at
            n, 2n and 4n rows, next to scikit-learn's
            NeighborhoodComponentsAnalysis at n.
5. peer:    pytorch-metric-learning with the same network, batches and loss,
            when it is installed.
6. verify:  ``SiameseVerifier`` on pairs of classes never seen in training:
            digits 0-6 -> 7-9 and Omniglot's three -> two alphabets. ROC AUC,
            equal error rate, TAR at 1% FAR and accuracy at the calibrated
            threshold, for raw-pixel distance, the contrastive pair model
            trained on pairs, and a triplet embedder trained on classes.
7. outofcore: one epoch of ``fit`` and one ``transform`` on a 3,000,000 x 32
            float32 .npy file read with ``mmap_mode="r"``, against the same
            file loaded into memory: seconds and peak growth of resident
            memory (total, anonymous, file pages).
8. distribute: training and inference images/s of the default cnn without a
            strategy, under MirroredStrategy over two logical CPU devices
            and in mixed_bfloat16; on a machine with GPUs, float32 against
            mixed_float16 and MirroredStrategy over all GPUs.
9. mining:  milliseconds of one triplet loss and its gradient per batch size
            (128 to 8192 rows of 64-d unit vectors) and mining, in P x K
            batches of 4 rows per class and in batches of 64 rows per class,
            against the O(B**3) definitions (``tests/mining_reference.py``)
            where they fit in memory; median and range of repeats, and the
            peak growth of resident memory.
10. batchsize: 20-way and 5-way 1-shot accuracy on Omniglot's unseen
            alphabets and training images/s of the default cnn at
            ``batch_size`` 64, 128, 256 and 512, equal epochs.
11. gallery: ``GalleryClassifier`` on 1,000,000 x 64 clustered unit vectors
            (200,000 with --quick), 1,000 queries: queries/s of exact and
            hnsw search against scikit-learn's brute ``NearestNeighbors``,
            recall@10, build time, peak memory and ``partial_fit`` of 10,000
            rows.
12. defaults: what lifts the default cnn's 20-way 1-shot and 5-shot accuracy
            on unseen alphabets per second of training: each candidate
            (rotated classes, learning rate and a cosine decay of it,
            classes per batch, mining, embedding size) is one 40-epoch fit
            of ``SiameseEmbedder(network="cnn", input_shape=(28, 28, 1),
            epochs=40, random_state=0)`` with changes to the defaults
            before them, on the split of ``--split``: ``demo`` (train on
            three alphabets, test on Early_Aramaic and Greek), ``no-Korean``
            and ``no-Latin`` (train on the four other alphabets). Run it a
            few candidates at a time with ``--candidates``.
13. transfer: seconds per epoch of ``fit`` with a frozen MobileNetV3Large
            backbone (32 x 32 images, random weights) and a trainable
            projection head, with the frozen features computed once per
            fit against the same encoder trained through the backbone every
            batch; median and range of repeats, and the largest difference
            between the two fits' embeddings.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TRAIN_ALPHABETS = ("Balinese", "Korean", "Latin")
TEST_ALPHABETS = ("Early_Aramaic", "Greek")


def omniglot_split(path=None):
    """Omniglot's five background alphabets, bundled (or read from ``path``, a zip).

    Returns the data set and a mask of the rows of the training alphabets.
    """
    from sksiamese.datasets import load_omniglot, load_omniglot_zip

    data = load_omniglot() if path is None else load_omniglot_zip(path)
    data.images = data.images.reshape(len(data.images), 28, 28, 1)
    train = np.isin(data.alphabet, TRAIN_ALPHABETS)
    return data, train


# 1. Training throughput ----------------------------------------------------

def conv_bn_network(input_shape, n_components):
    """Three conv blocks (32, 64, 128 filters) with batch normalisation."""
    import keras

    inputs = keras.Input(input_shape)
    x = inputs
    for width in (32, 64, 128):
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(n_components)(x))


def hand_written_loop(encoder, images, labels, *, steps, loss_fn, classes_per_batch=32,
                      samples_per_class=4, seed=0):
    """Images/s of a plain ``tf.function`` training loop, written as a Keras user would.

    P x K batches are drawn in the graph from a tensor of the images; the
    step embeds, applies ``loss_fn`` and updates with Adam.
    """
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(1e-3)
    members = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    per_class = min(len(m) for m in members)
    table = tf.constant(np.stack([m[:per_class] for m in members]))
    rows, codes = tf.constant(images), tf.constant(labels)

    def batch(index):
        step_seed = tf.stack([tf.constant(seed, tf.int64), index])
        classes = tf.random.experimental.stateless_shuffle(tf.range(len(members)), step_seed)
        picks = tf.random.experimental.stateless_shuffle(tf.range(per_class), step_seed + 1)
        chosen = tf.gather(tf.gather(table, classes[:classes_per_batch]), picks[:samples_per_class], axis=1)
        chosen = tf.reshape(chosen, [-1])
        return tf.gather(rows, chosen), tf.gather(codes, chosen)

    batches = iter(tf.data.Dataset.counter().map(batch).prefetch(2))

    @tf.function(jit_compile=False)
    def step(rows, codes):
        with tf.GradientTape() as tape:
            loss = loss_fn(codes, encoder(rows, training=True))
        gradients = tape.gradient(loss, encoder.trainable_variables)
        optimizer.apply(gradients, encoder.trainable_variables)
        return loss

    for _ in range(3):
        step(*next(batches))
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(*next(batches))
    loss.numpy()
    return steps * classes_per_batch * samples_per_class / (time.perf_counter() - start)


def _spread(values):
    return {"median": float(np.median(values)), "min": float(min(values)), "max": float(max(values))}


def bench_train(images, labels, *, steps, repeats=3):
    """``fit`` against a hand-written loop on the same network, loss and batches.

    Two set-ups, each ``repeats`` times alternately: a custom network
    callable (three conv blocks with batch normalisation, 128-d embedding,
    batch-hard mining, margin 0.2) and the default ``network="cnn"``
    (32-d, semi-hard mining, margin 0.5), both in P x K batches of 32
    classes x 4 images and without augmentation. ``fit`` is timed per epoch
    after its first (tracing) epoch, the loop over ``steps`` steps after
    three warm-up steps.
    """
    import functools

    import keras

    from sksiamese import SiameseEmbedder, losses
    from sksiamese._encoder import build_encoder

    n_rows = steps * 128
    images, labels = np.resize(images, (n_rows, *images.shape[1:])), np.resize(labels, n_rows)

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    def fit_rate(augment=False, **params):
        timer = EpochTimer()
        timer.times = []
        embedder = SiameseEmbedder(
            input_shape=images.shape[1:], epochs=3, batch_size=128, samples_per_class=4,
            augment=augment, callbacks=[timer], random_state=0, **params,
        ).fit(images, labels)
        # The first epoch includes tracing; later ones are steady state.
        return embedder, n_rows / float(np.median(timer.times[1:]))

    setups = {
        "custom conv+BN network, 128-d, batch-hard": (
            {"network": conv_bn_network, "n_components": 128, "mining": "hard", "margin": 0.2},
            lambda: keras.Sequential(
                [conv_bn_network(images.shape[1:], 128), keras.layers.UnitNormalization()]
            ),
        ),
        "default cnn, 32-d, semi-hard": (
            {"network": "cnn", "n_components": 32, "mining": "semi-hard", "margin": 0.5},
            lambda: build_encoder(
                "cnn", images.shape[1:], 32, init="redraw", seed=0, normalize=True,
                mean=np.array([images.mean()]), variance=np.array([images.var()]),
            ),
        ),
    }
    results = {"batch": "32 classes x 4", "repeats": repeats}
    embedder = None
    for name, (params, build) in setups.items():
        loss_fn = functools.partial(
            losses.triplet_loss, margin=params["margin"], mining=params["mining"]
        )
        loop_rates, fit_rates = [], []
        for _ in range(repeats):
            loop_rates.append(hand_written_loop(build(), images, labels, steps=steps, loss_fn=loss_fn))
            embedder, rate = fit_rate(**params)
            fit_rates.append(rate)
        results[name] = {
            "loop images/s": _spread(loop_rates),
            "fit images/s": _spread(fit_rates),
            "fit over loop": _spread(np.divide(fit_rates, loop_rates)),
        }
    # The default cnn as users get it: with augmentation.
    embedder, rate = fit_rate(augment=None, network="cnn")
    results["default cnn with augmentation, fit images/s"] = rate
    return embedder, results


# 2. Inference ----------------------------------------------------------------

def bench_infer(embedder, images, *, n_rows=10_000, repeats=200):
    rows = np.resize(images, (n_rows, *images.shape[1:])).astype(np.float32)
    one = rows[:1]

    def median_ms(function, count):
        times = []
        for _ in range(count):
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
        return 1000 * float(np.median(times))

    embedder.transform(one), embedder.encoder_.predict(one, verbose=0)
    transform_ms = median_ms(lambda: embedder.transform(one), repeats)
    predict_ms = median_ms(lambda: embedder.encoder_.predict(one, verbose=0), max(10, repeats // 10))
    embedder.transform(rows[:2000]), embedder.encoder_.predict(rows[:2000], verbose=0)
    # Median of three runs each: predict as users call it (batches of 32),
    # and with batches as large as transform's chunks, its best case.
    transform_rate = n_rows / (median_ms(lambda: embedder.transform(rows), 3) / 1000)
    predict_rate = n_rows / (median_ms(lambda: embedder.encoder_.predict(rows, verbose=0), 3) / 1000)
    predict_1024_rate = n_rows / (
        median_ms(lambda: embedder.encoder_.predict(rows, verbose=0, batch_size=1024), 3) / 1000
    )
    return {
        "one_row_transform_ms": transform_ms,
        "one_row_predict_ms": predict_ms,
        "rows_per_s_transform": transform_rate,
        "rows_per_s_predict": predict_rate,
        "rows_per_s_predict_batch_1024": predict_1024_rate,
        "throughput_ratio": transform_rate / predict_rate,
        "throughput_ratio_batch_1024": transform_rate / predict_1024_rate,
    }


_MEMORY_CHILD = """
import os, sys, threading, numpy as np
from sksiamese import SiameseEmbedder

def rss():  # current resident memory in bytes (Linux)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

n, dtype = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
X = rng.normal(size=(n, 8)).astype(dtype)
y = rng.integers(0, 4, n)
embedder = SiameseEmbedder(n_components=32, epochs=1, random_state=0).fit(X[:2000], y[:2000])
embedder.transform(X[:5000])
before, peak, done = rss(), [0], threading.Event()

def watch():  # the process's peak is already set by TensorFlow's start-up
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        done.wait(0.002)

watcher = threading.Thread(target=watch)
watcher.start()
Z = embedder.transform(X)
done.set()
watcher.join()
print((max(peak[0], rss()) - before) / 2**20, Z.nbytes / 2**20)
"""


def bench_transform_memory(n_rows):
    """Peak memory growth of one ``transform`` call against the size of its output."""
    results = {}
    for dtype in ("float32", "float64"):
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_CHILD, str(n_rows), dtype],
            capture_output=True, text=True, check=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        ).stdout.split()
        growth, output = float(out[-2]), float(out[-1])
        results[f"{n_rows:,} rows {dtype}: peak growth MB / output MB"] = f"{growth:.0f} / {output:.0f}"
    return results


# 3. Few-shot quality -----------------------------------------------------------

def bench_fewshot(data, train, *, epochs, episodes):
    from sklearn.decomposition import PCA

    from sksiamese import SiameseEmbedder
    from sksiamese.metrics import few_shot_accuracy

    test = ~train
    start = time.perf_counter()
    embedder = SiameseEmbedder(
        network="cnn", input_shape=(28, 28, 1), epochs=epochs, random_state=0
    ).fit(data.images[train], data.target[train])
    fit_seconds = time.perf_counter() - start
    flat = data.images.reshape(len(data.images), -1)
    candidates = {
        "raw pixels": flat[test],
        "PCA (32)": PCA(32, random_state=0).fit(flat[train]).transform(flat[test]),
        "SiameseEmbedder": embedder.transform(data.images[test]),
    }
    results = {"fit_seconds": fit_seconds, "epochs": epochs, "train_images": int(train.sum())}
    # Lake's protocol draws each episode's characters from one alphabet; the
    # looser one mixes the two test alphabets, which is easier.
    protocols = {"within alphabet": data.alphabet[test], "across alphabets": None}
    for name, rows in candidates.items():
        for n_way in (20, 5):
            for protocol, groups in protocols.items():
                results[f"{name}, {n_way}-way 1-shot, {protocol}"] = few_shot_accuracy(
                    rows, data.target[test], n_way=n_way, n_shot=1, n_episodes=episodes,
                    groups=groups, random_state=0,
                )
    return results


# 6. Verification --------------------------------------------------------------

def verification_scores(verifier, pairs, same):
    from sklearn.metrics import roc_auc_score

    from sksiamese.metrics import equal_error_rate, tar_at_far

    scores = verifier.decision_function(pairs)
    return {
        "ROC AUC": roc_auc_score(same, scores),
        "EER": equal_error_rate(same, scores),
        "TAR@FAR=1%": tar_at_far(same, scores, far=0.01),
        "accuracy": verifier.score(pairs, same),
    }


def bench_verify_task(images, labels, seen, *, pair_model, class_model, n_pairs):
    """Train on pairs (or classes) of ``seen`` rows, verify pairs of the others."""
    from sklearn.frozen import FrozenEstimator
    from sklearn.preprocessing import FunctionTransformer

    from sksiamese import SiameseEmbedder, SiameseVerifier
    from sksiamese.datasets import make_pairs

    train_pairs, train_same = make_pairs(images[seen], labels[seen], n_pairs, random_state=0)
    test_pairs, test_same = make_pairs(images[~seen], labels[~seen], n_pairs // 2, random_state=1)
    flat = FunctionTransformer(lambda rows: rows.reshape(len(rows), -1)).fit(images[:1])
    start = time.perf_counter()
    trained_on_classes = SiameseEmbedder(**class_model).fit(images[seen], labels[seen])
    class_seconds = time.perf_counter() - start
    verifiers = {
        "raw pixels": (SiameseVerifier(FrozenEstimator(flat)), 0.0),
        "pair model (contrastive, fit on pairs)": (
            SiameseVerifier(SiameseEmbedder(loss="contrastive", **pair_model), random_state=0),
            None,
        ),
        "triplet embedder (fit on classes)": (
            SiameseVerifier(FrozenEstimator(trained_on_classes)), class_seconds
        ),
    }
    results = {"train pairs": n_pairs, "test pairs": n_pairs // 2}
    for name, (verifier, seconds) in verifiers.items():
        start = time.perf_counter()
        verifier.fit(train_pairs, train_same)
        scores = verification_scores(verifier, test_pairs, test_same)
        scores["fit seconds"] = (time.perf_counter() - start) + (seconds or 0.0)
        results[name] = scores
    return results


def bench_verify(data, train, *, quick):
    from sklearn.datasets import load_digits

    digits = load_digits()
    results = {
        "digits 0-6 -> 7-9": bench_verify_task(
            digits.images[..., None].astype(np.float32) / 16.0, digits.target, digits.target < 7,
            pair_model={"epochs": 20}, class_model={"epochs": 20, "random_state": 0},
            n_pairs=6000,
        )
    }
    cnn = {"network": "cnn", "input_shape": (28, 28, 1), "epochs": 10 if quick else 40}
    results["Omniglot 3 -> 2 alphabets"] = bench_verify_task(
        data.images, data.target, train,
        pair_model=cnn, class_model={**cnn, "random_state": 0}, n_pairs=6000,
    )
    return results


# 4. Scaling --------------------------------------------------------------------

_SCALING_CHILD = """
import sys, time, numpy as np
n, method = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
centers = rng.normal(size=(50, 32)) * 2
y = rng.integers(0, 50, n)
X = (centers[y] + rng.normal(size=(n, 32))).astype(np.float32)
if method == "nca":
    from sklearn.neighbors import NeighborhoodComponentsAnalysis
    start = time.perf_counter()
    nca = NeighborhoodComponentsAnalysis(n_components=16, max_iter=20, random_state=0).fit(X, y)
    seconds = (time.perf_counter() - start) / nca.n_iter_
else:
    import keras
    from sksiamese import SiameseEmbedder
    times = []
    class T(keras.callbacks.Callback):
        def on_epoch_begin(self, e, logs=None): self.t = time.perf_counter()
        def on_epoch_end(self, e, logs=None): times.append(time.perf_counter() - self.t)
    SiameseEmbedder(n_components=16, epochs=3, callbacks=[T()], random_state=0).fit(X, y)
    seconds = float(np.mean(times[1:]))
# VmHWM is this process's own peak; ru_maxrss would carry over the parent's
# peak from before exec.
with open("/proc/self/status") as status:
    peak_mb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
print(seconds, peak_mb, X.nbytes / 2**20)
"""


def bench_scaling(n):
    results = {}
    for method, size in [("siamese", n), ("siamese", 2 * n), ("siamese", 4 * n), ("nca", n)]:
        out = subprocess.run(
            [sys.executable, "-c", _SCALING_CHILD, str(size), method],
            capture_output=True, text=True, check=True,
        ).stdout.split()
        seconds, peak_mb, data_mb = map(float, out[-3:])
        results[f"{method} n={size}"] = {
            "seconds": seconds,
            "unit": "s per iteration" if method == "nca" else "s per epoch",
            "peak_rss_mb": peak_mb,
            "data_mb": data_mb,
        }
    return results


# 7. Out-of-core: a memory-mapped file larger than the memory budget -------------

_OUT_OF_CORE_CHILD = """
import os, sys, threading, time, numpy as np
from sksiamese import SiameseEmbedder

def status():  # resident memory in MiB: total, anonymous, mapped files (Linux)
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                values[key] = int(rest.split()[0]) / 1024
    return values

def peak_growth(call):
    before, peak, done = status(), dict(status()), threading.Event()
    def watch():
        while not done.is_set():
            for key, value in status().items():
                peak[key] = max(peak[key], value)
            done.wait(0.005)
    watcher = threading.Thread(target=watch)
    watcher.start()
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    done.set()
    watcher.join()
    return {key: peak[key] - before[key] for key in before}, seconds, result

path, labels_path, mode, batch_size, mining = sys.argv[1:4] + [int(sys.argv[4]), sys.argv[5]]
X = np.load(path, mmap_mode="r" if mode == "memmap" else None)
y = np.load(labels_path)
embedder = SiameseEmbedder(n_components=16, epochs=1, batch_size=batch_size, mining=mining, random_state=0)
# Warm up TensorFlow's runtime on a small slice, so the growth is the fit's.
embedder.fit(np.asarray(X[:4096]), y[:4096])
fit_growth, fit_seconds, _ = peak_growth(lambda: embedder.fit(X, y))
transform_growth, transform_seconds, Z = peak_growth(lambda: embedder.transform(X))
print(fit_growth["VmRSS"], fit_growth["RssAnon"], fit_growth["RssFile"], fit_seconds,
      transform_growth["VmRSS"], transform_seconds, Z.nbytes / 2**20, embedder.history_["loss"][-1])
"""


OUT_OF_CORE_RUNS = (
    ("memmap", 128, "semi-hard"),
    ("memory", 128, "semi-hard"),
    ("memmap", 1024, "semi-hard"),
    ("memmap", 1024, "hard"),
)


def bench_out_of_core(n_rows, *, n_features=32, n_classes=1000, runs=OUT_OF_CORE_RUNS):
    """One epoch of ``fit`` and one ``transform`` on an ``(n_rows, 32)`` float32 .npy file.

    Read with ``mmap_mode="r"`` against loaded into memory, with the default
    batches and with batches of 1024 rows (semi-hard and batch-hard
    mining); peak growth of resident memory (total, anonymous and file
    pages) over each call.
    """
    import tempfile

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
        file_mb = X.nbytes / 2**20
        del X
        for mode, batch_size, mining in runs:
            out = subprocess.run(
                [sys.executable, "-c", _OUT_OF_CORE_CHILD, str(path), str(labels_path), mode,
                 str(batch_size), mining],
                capture_output=True, text=True, check=True,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            ).stdout.split()
            fit_total, fit_anon, fit_file, fit_s, tr_total, tr_s, out_mb, loss = map(float, out[-8:])
            results[f"{mode}, batch_size={batch_size}, mining={mining}"] = {
                "file MB": file_mb,
                "fit epoch s": fit_s,
                "fit rows/s": n_rows / fit_s,
                "fit peak growth MB (total / anonymous / file pages)": (
                    f"{fit_total:.0f} / {fit_anon:.0f} / {fit_file:.0f}"
                ),
                "transform s": tr_s,
                "transform peak growth MB / output MB": f"{tr_total:.0f} / {out_mb:.0f}",
                "final loss": loss,
            }
    return results


# 8. Throughput under tf.distribute strategies and on GPUs -----------------------

_THROUGHPUT_CHILD = """
import json, sys, time, numpy as np
import tensorflow as tf
import keras

setup, precision, n_rows, batch_size, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
if setup == "mirrored-cpu":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
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
times = []

class Timer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        times.append(time.perf_counter() - self.start)

embedder = SiameseEmbedder(network="cnn", n_components=32, epochs=epochs, batch_size=batch_size,
                           augment=False, precision=precision, callbacks=[Timer()], random_state=0)
with strategy.scope():
    embedder.fit(X, y)
# The first epoch traces and compiles; the others measure.
seconds = float(np.median(times[1:]))
start = time.perf_counter()
embedder.transform(X)
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "train images/s": n_rows / seconds,
                  "transform images/s": n_rows / (time.perf_counter() - start),
                  "final loss": embedder.history_["loss"][-1]}))
"""


def bench_distribute(*, quick):
    """Training and inference throughput of the default cnn, per strategy and precision.

    Without GPUs: no strategy, MirroredStrategy over two logical CPU devices
    (one process and the same cores, so it measures the strategy's
    overhead, not added hardware), and mixed_bfloat16. With GPUs: float32
    against mixed_float16 at two batch sizes, and MirroredStrategy over
    every GPU when there are several.
    """
    import tensorflow as tf

    n_gpus = len(tf.config.list_physical_devices("GPU"))
    n_rows, epochs = (4_000, 3) if quick else (16_000, 4)
    runs = [("none", "float32", 128), ("mirrored-cpu", "float32", 128), ("none", "mixed_bfloat16", 128)]
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
    results = {"device": f"{n_gpus} GPU(s)" if n_gpus else f"CPU only ({os.cpu_count()} cores), no GPU visible"}
    for setup, precision, batch_size in runs:
        out = subprocess.run(
            [sys.executable, "-c", _THROUGHPUT_CHILD, setup, precision, str(n_rows), str(batch_size), str(epochs)],
            capture_output=True, text=True, check=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        ).stdout.strip().splitlines()[-1]
        results[f"{setup}, {precision}, batch_size={batch_size}"] = json.loads(out)
    return results


# 9. Mining cost per batch size ----------------------------------------------------

_MINING_CHILD = """
import importlib.util, json, os, sys, threading, time
import numpy as np
import tensorflow as tf

size, per_class, mining, how, repeats = sys.argv[1:6]
size, per_class, repeats = int(size), int(per_class), int(repeats)
if how == "definition":
    spec = importlib.util.spec_from_file_location("mining_reference", sys.argv[6])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    loss = module.triplet_loss
else:
    from sksiamese.losses import triplet_loss as loss

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

rng = np.random.default_rng(0)
labels = tf.constant(rng.permutation(np.repeat(np.arange(size // per_class), per_class)))
embeddings = tf.Variable(tf.math.l2_normalize(rng.normal(size=(size, 64)).astype(np.float32), axis=1))

@tf.function(jit_compile=False)
def step():
    with tf.GradientTape() as tape:
        value = loss(labels, embeddings, margin=0.2, mining=mining)
    return value, tape.gradient(value, embeddings)

before, peak, done = rss(), [0.0], threading.Event()
def watch():
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        done.wait(0.005)
watcher = threading.Thread(target=watch)
watcher.start()
step()[1].numpy()  # traces
times = []
for _ in range(repeats):
    start = time.perf_counter()
    step()[1].numpy()
    times.append(1000 * (time.perf_counter() - start))
done.set()
watcher.join()
print(json.dumps({"median ms": float(np.median(times)), "min ms": min(times), "max ms": max(times),
                  "repeats": repeats, "peak growth MB": max(peak[0], rss()) - before}))
"""


def bench_mining(*, quick):
    """Loss and gradient of one batch: the library's mining against the definitions.

    Each figure comes from a fresh process (so memory figures are the
    call's own): one traced call, then the median and range of the timed
    repeats. The definitions build ``(B, B, B)`` tensors: they are run up
    to the sizes where that fits in a few GB and takes seconds, and the
    table says what the larger ones would need.
    """
    reference = HERE.parent / "tests" / "mining_reference.py"
    sizes = (128, 512, 1024) if quick else (128, 512, 1024, 4096, 8192)
    # Cubic definitions: B**3 float32 entries, several tensors of them.
    definition_limits = {"semi-hard": 1024, "all": 512}
    results = {}

    def child(size, per_class, mining, how):
        repeats = 3 if size >= 4096 or how == "definition" and size >= 1024 else 5
        out = subprocess.run(
            [sys.executable, "-c", _MINING_CHILD, str(size), str(per_class), mining, how,
             str(repeats), str(reference)],
            capture_output=True, text=True, check=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        ).stdout.strip().splitlines()[-1]
        return json.loads(out)

    for per_class in (4, 64):
        layout = f"{per_class} rows per class"
        for size in sizes:
            for mining in ("hard", "semi-hard", "all"):
                row = {"sksiamese": child(size, per_class, mining, "library")}
                if mining == "hard":
                    row["definition"] = "same code (batch-hard was already O(B**2))"
                elif per_class == 4 and size <= definition_limits[mining]:
                    row["definition"] = child(size, per_class, mining, "definition")
                elif per_class == 4:
                    row["definition"] = (
                        f"not run: one (B, B, B) float32 tensor alone is {size**3 * 4 / 2**30:,.0f} GiB"
                    )
                results[f"{layout}, B={size}, {mining}"] = row
        for size in sizes:
            hard = results[f"{layout}, B={size}, hard"]["sksiamese"]["median ms"]
            for mining in ("semi-hard", "all"):
                ratio = results[f"{layout}, B={size}, {mining}"]["sksiamese"]["median ms"] / hard
                results[f"{layout}, B={size}, {mining}"]["over hard"] = ratio
    return results


# 10. Batch size: few-shot accuracy against throughput --------------------------------

def bench_batch_size(data, train, *, epochs, episodes, sizes=(64, 128, 256, 512)):
    """Unseen-alphabet accuracy and training speed of the default cnn per ``batch_size``.

    Every fit trains ``epochs`` epochs, so each sees the same number of
    images; larger batches take fewer, larger steps. Accuracy is 20-way
    and 5-way 1-shot within the alphabets never seen (Lake's protocol).
    """
    from sksiamese import SiameseEmbedder
    from sksiamese.metrics import few_shot_accuracy

    test = ~train
    results = {"epochs": epochs, "episodes": episodes}
    for size in sizes:
        start = time.perf_counter()
        embedder = SiameseEmbedder(
            network="cnn", input_shape=(28, 28, 1), epochs=epochs, batch_size=size,
            random_state=0,
        ).fit(data.images[train], data.target[train])
        seconds = time.perf_counter() - start
        embedded = embedder.transform(data.images[test])
        row = {"fit seconds": seconds, "images/s": epochs * int(train.sum()) / seconds}
        for n_way in (20, 5):
            row[f"{n_way}-way 1-shot"] = few_shot_accuracy(
                embedded, data.target[test], n_way=n_way, n_shot=1, n_episodes=episodes,
                groups=data.alphabet[test], random_state=0,
            )
        results[f"batch_size={size}"] = row
    return results


# 12. Stronger defaults for images -----------------------------------------------------

DEFAULTS_SPLITS = {
    "demo": TEST_ALPHABETS,
    "no-Korean": ("Korean",),
    "no-Latin": ("Latin",),
}
# The defaults before the search (rotated_classes did not exist; the
# learning rate was 1e-3 for every network).
BEFORE = {"rotated_classes": False, "learning_rate": 1e-3}
DEFAULTS_CANDIDATES = {
    "before": {},
    "cosine decay": {"learning_rate_schedule": "cosine"},
    "samples_per_class=2": {"samples_per_class": 2},
    "mining=hard": {"mining": "hard"},
    "n_components=64": {"n_components": 64},
    "rotated classes": {"rotated_classes": True},
    "rotated classes + mining=hard": {"rotated_classes": True, "mining": "hard"},
    "rotated classes + n_components=64": {"rotated_classes": True, "n_components": 64},
    # The defaults since: what the call above does unchanged.
    "rotated classes + learning_rate=3e-3": {"rotated_classes": True, "learning_rate": 3e-3},
    "rotated classes + learning_rate=3e-3 + cosine decay": {
        "rotated_classes": True, "learning_rate": 3e-3, "learning_rate_schedule": "cosine",
    },
}


def cosine_adam(learning_rate, n_steps):
    """Adam whose step size decays from ``learning_rate`` to 0 along a cosine over ``n_steps``."""
    import keras

    return keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=n_steps)
    )


def bench_defaults(data, *, split, candidates, epochs, episodes):
    """Fit seconds and 20-way 1- and 5-shot accuracy of each candidate on one split."""
    from sksiamese import SiameseEmbedder
    from sksiamese.metrics import few_shot_accuracy

    test = np.isin(data.alphabet, DEFAULTS_SPLITS[split])
    images, labels = data.images[~test], data.target[~test]
    base = dict(network="cnn", input_shape=(28, 28, 1), epochs=epochs, random_state=0)
    results = {
        "train alphabets": sorted(set(data.alphabet[~test])),
        "test alphabets": sorted(set(data.alphabet[test])),
        "train images": int((~test).sum()),
        "epochs": epochs,
        "episodes": episodes,
    }
    for name in candidates:
        params = {**base, **BEFORE, **DEFAULTS_CANDIDATES[name]}
        if params.pop("learning_rate_schedule", None) == "cosine":
            steps_per_epoch = int(np.ceil(len(images) / 128))
            params["optimizer"] = cosine_adam(
                params.pop("learning_rate", 1e-3), epochs * steps_per_epoch
            )
        start = time.perf_counter()
        embedder = SiameseEmbedder(**params).fit(images, labels)
        seconds = time.perf_counter() - start
        embedded = embedder.transform(data.images[test])
        row = {"fit seconds": seconds}
        for n_shot in (1, 5):
            row[f"20-way {n_shot}-shot"] = few_shot_accuracy(
                embedded, data.target[test], n_way=20, n_shot=n_shot, n_episodes=episodes,
                groups=data.alphabet[test], random_state=0,
            )
        results[name] = row
        print(split, name, row, flush=True)
    return results


# 11. Gallery search: exact and HNSW against scikit-learn's brute force --------------

def _resident_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def _timed_with_peak(call):
    """``call()``'s result, its seconds and the peak growth of resident memory (MiB).

    Resident memory is sampled every 5 ms by a thread while ``call`` runs.
    """
    import threading

    before, peak, done = _resident_mb(), [0.0], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], _resident_mb())
            done.wait(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    done.set()
    watcher.join()
    return result, seconds, max(peak[0], _resident_mb()) - before


def gallery_child(folder, method, repeats, ef_values):
    """One search method in this (fresh) process: build, search, add; JSON on stdout.

    ``method`` is ``sklearn`` (brute-force ``NearestNeighbors``), ``exact``,
    ``exact-memmap`` (the gallery read from its .npy file in place) or
    ``hnsw``. The neighbours found are saved beside the data for recall.
    """
    from sklearn.neighbors import NearestNeighbors

    from sksiamese import GalleryClassifier

    folder = Path(folder)
    X = np.load(folder / "X.npy", mmap_mode="r" if method == "exact-memmap" else None)
    y, queries = np.load(folder / "y.npy"), np.load(folder / "queries.npy")
    if method == "sklearn":
        model, fit_s, fit_mb = _timed_with_peak(
            lambda: NearestNeighbors(n_neighbors=10, algorithm="brute").fit(X)
        )
    else:
        algorithm = "hnsw" if method == "hnsw" else "exact"
        model, fit_s, fit_mb = _timed_with_peak(
            lambda: GalleryClassifier(algorithm=algorithm).fit(X, y)
        )
    result = {"fit s": fit_s, "fit peak growth MB": fit_mb, "searches": {}}
    for ef in ef_values if method == "hnsw" else [None]:
        if ef is not None:
            model.set_params(ef_search=ef)
        model.kneighbors(queries[:100], 10)  # warm-up
        rates, peaks = [], []
        for _ in range(repeats):
            (_, found), seconds, peak = _timed_with_peak(lambda: model.kneighbors(queries, 10))
            rates.append(len(queries) / seconds)
            peaks.append(peak)
        np.save(folder / f"found-{method}-{ef}.npy", found)
        result["searches"][str(ef)] = {"rates": rates, "peak growth MB": max(peaks)}
    if method != "sklearn":
        added = np.load(folder / "added.npy")
        added_y = np.arange(len(added)) + y.max() + 1
        result["partial_fit s"] = [
            _timed_with_peak(lambda: model.partial_fit(part, part_y))[1]
            for part, part_y in zip(np.array_split(added, 3), np.array_split(added_y, 3))
        ]
    print(json.dumps(result))


def gallery_data(folder, n_rows, *, n_features=64, per_identity=5, n_queries=1000, n_added=30_000):
    """Clustered unit vectors, written to ``folder`` as .npy files.

    Identities of ``per_identity`` enrolments each lie around 1,000 cluster
    centres; the queries are new rows of enrolled identities, and
    ``n_added`` rows of new identities are kept for ``partial_fit``.
    """
    rng = np.random.default_rng(0)

    def unit(rows):
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

    clusters = unit(rng.standard_normal((1000, n_features)))
    n_identities = n_rows // per_identity
    # The spreads put an identity's rows about 0.4 apart and identities of
    # one cluster about 1.0, out of at most 2 between unit vectors.
    centres = unit(
        clusters[rng.integers(0, 1000, n_identities + n_added)]
        + 0.09 * rng.standard_normal((n_identities + n_added, n_features))
    )
    y = np.repeat(np.arange(n_identities), per_identity)
    X = np.lib.format.open_memmap(folder / "X.npy", mode="w+", dtype=np.float32,
                                  shape=(len(y), n_features))
    for start in range(0, len(y), 100_000):
        part = y[start : start + 100_000]
        X[start : start + len(part)] = unit(
            centres[part] + 0.035 * rng.standard_normal((len(part), n_features))
        )
    X.flush()
    del X
    np.save(folder / "y.npy", y)
    enrolled = rng.integers(0, n_identities, n_queries)
    np.save(folder / "queries.npy", unit(
        centres[enrolled] + 0.035 * rng.standard_normal((n_queries, n_features))
    ))
    np.save(folder / "added.npy", unit(
        centres[n_identities:] + 0.035 * rng.standard_normal((n_added, n_features))
    ))
    return n_identities


def bench_gallery(n_rows, *, repeats=3, ef_values=(16, 32, 64, 128)):
    """Queries/s, recall@10, build time and memory of ``GalleryClassifier`` searches.

    Each method runs in a fresh process on the same ``(n_rows, 64)`` float32
    gallery of clustered unit vectors and 1,000 queries, 10 neighbours each:
    scikit-learn's brute-force ``NearestNeighbors``, ``algorithm="exact"``
    in memory and memory-mapped, and ``algorithm="hnsw"`` (default build
    parameters) at several ``ef_search``. Speeds are the median and range of
    ``repeats`` searches after a warm-up; recall@10 is measured against the
    exact search; ``partial_fit`` adds 10,000 rows of new identities three
    times. Memory is the peak growth of resident memory over each call,
    sampled every 5 ms.
    """
    import tempfile

    results = {}
    with tempfile.TemporaryDirectory() as folder:
        n_identities = gallery_data(Path(folder), n_rows)
        results["data"] = (
            f"{n_rows:,} x 64 float32 unit vectors ({n_rows * 64 * 4 / 2**20:,.0f} MB), "
            f"{n_identities:,} identities of 5 rows around 1,000 clusters; 1,000 queries, k=10"
        )
        runs = {}
        for method in ("sklearn", "exact", "exact-memmap", "hnsw"):
            code = (
                f"import sys; sys.path.insert(0, {str(HERE)!r}); import run; "
                f"run.gallery_child({folder!r}, {method!r}, {repeats}, {list(ef_values)!r})"
            )
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            ).stdout.strip().splitlines()[-1]
            runs[method] = json.loads(out)
        truth = np.load(Path(folder) / "found-exact-None.npy")
        baseline = float(np.median(runs["sklearn"]["searches"]["None"]["rates"]))
        for method, run in runs.items():
            for ef, search in run["searches"].items():
                found = np.load(Path(folder) / f"found-{method}-{ef}.npy")
                rates = _spread(search["rates"])
                name = {"sklearn": "sklearn NearestNeighbors(algorithm='brute')",
                        "exact": "exact", "exact-memmap": "exact, memory-mapped .npy",
                        "hnsw": f"hnsw, ef_search={ef}"}[method]
                row = {
                    "queries/s": rates["median"],
                    "queries/s range": f"{rates['min']:,.0f} - {rates['max']:,.0f}",
                    "x sklearn": rates["median"] / baseline,
                    "recall@10": float(np.mean([
                        len(np.intersect1d(a, b)) / 10 for a, b in zip(found, truth)
                    ])),
                    "build s": run["fit s"],
                    "build peak growth MB": run["fit peak growth MB"],
                    "search peak growth MB": search["peak growth MB"],
                }
                if "partial_fit s" in run:
                    added = _spread(run["partial_fit s"])
                    row["partial_fit 10,000 rows s"] = added["median"]
                    row["partial_fit range s"] = f"{added['min']:.3f} - {added['max']:.3f}"
                results[name] = row
    hnsw = [row for name, row in results.items() if name.startswith("hnsw")]
    reaching = [row for row in hnsw if row["recall@10"] >= 0.95]
    results["targets"] = {
        "exact >= 1.0x sklearn": results["exact"]["x sklearn"] >= 1.0,
        "hnsw >= 20x sklearn at recall@10 >= 0.95": bool(reaching)
        and max(row["x sklearn"] for row in reaching) >= 20,
    }
    return results


# 12. Transfer ----------------------------------------------------------------------

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

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    def fit(fast):
        timer = EpochTimer()
        timer.times = []
        embedder = SiameseEmbedder(
            network=backbone, n_components=64, epochs=epochs, batch_size=128, augment=False,
            callbacks=[timer], random_state=0,
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
        "frozen features once: s/epoch": _spread(per_epoch[True]),
        "through the backbone: s/epoch": _spread(per_epoch[False]),
        "speed-up per epoch": _spread(speedup),
        "frozen features once: fit s": _spread(fit_seconds[True]),
        "through the backbone: fit s": _spread(fit_seconds[False]),
        "max abs embedding difference": float(np.abs(embedded[True] - embedded[False]).max()),
    }
    results["targets"] = {
        "backbone >= 1M parameters": results["backbone parameters"] >= 1_000_000,
        ">= 5x faster per epoch": bool(np.median(speedup) >= 5),
        "same embeddings (max abs difference <= 1e-4)": results["max abs embedding difference"]
        <= 1e-4,
    }
    return results


# 5. Peer -------------------------------------------------------------------------

def bench_peer():
    try:
        import pytorch_metric_learning  # noqa: F401
    except ImportError:
        return {"status": "pytorch-metric-learning not installed; skipped"}
    return {"status": "installed, comparison not implemented for this version"}


# Report ----------------------------------------------------------------------------

def _flat_rows(prefix, value):
    """``(key path, value)`` for every leaf of nested result dicts."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flat_rows(f"{prefix} / {key}" if prefix else str(key), inner)
    else:
        yield prefix, f"{value:.4g}" if isinstance(value, float) else str(value)


def print_table(results):
    rows = [
        (section, key, value)
        for section, values in results.items()
        if isinstance(values, dict)
        for key, value in _flat_rows("", values)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for section, key, value in rows:
        print(f"{section:<{widths[0]}}  {key:<{widths[1]}}  {value}")


def main(argv=None):
    parser = argparse.ArgumentParser(description="sksiamese benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    parser.add_argument(
        "--omniglot", type=Path, default=None,
        help="Omniglot zip to read instead of the set bundled with sksiamese",
    )
    parser.add_argument("--output", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument(
        "--sections", default="train,infer,fewshot,scaling,peer,outofcore,distribute,mining",
        help="comma-separated subset of "
        "train,infer,fewshot,scaling,peer,verify,outofcore,distribute,mining,batchsize,gallery,"
        "defaults,transfer",
    )
    parser.add_argument(
        "--split", default="demo", choices=sorted(DEFAULTS_SPLITS),
        help="alphabet split of the defaults section (default: demo)",
    )
    parser.add_argument(
        "--candidates", default=",".join(DEFAULTS_CANDIDATES),
        help="comma-separated candidates of the defaults section (default: all)",
    )
    args = parser.parse_args(argv)
    sections = set(args.sections.split(","))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import tensorflow as tf

    results = {
        "meta": {
            "quick": args.quick,
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "cpus": os.cpu_count(),
            "gpus": len(tf.config.list_physical_devices("GPU")),
        }
    }
    data, train = omniglot_split(args.omniglot)
    images, labels = data.images[train], data.target[train]
    embedder = None
    if "train" in sections or "infer" in sections:
        embedder, results["train"] = bench_train(
            images, labels, steps=30 if args.quick else 60, repeats=2 if args.quick else 3
        )
    if "infer" in sections:
        results["infer"] = bench_infer(embedder, images, repeats=100 if args.quick else 300)
        results["infer"].update(bench_transform_memory(200_000 if args.quick else 1_000_000))
    if "fewshot" in sections:
        results["fewshot"] = bench_fewshot(
            data, train, epochs=10 if args.quick else 40, episodes=200 if args.quick else 1000
        )
    if "scaling" in sections:
        results["scaling"] = bench_scaling(2_000 if args.quick else 10_000)
    if "peer" in sections:
        results["peer"] = bench_peer()
    if "verify" in sections:
        results["verify"] = bench_verify(data, train, quick=args.quick)
    if "outofcore" in sections:
        results["outofcore"] = bench_out_of_core(300_000 if args.quick else 3_000_000)
    if "distribute" in sections:
        results["distribute"] = bench_distribute(quick=args.quick)
    if "mining" in sections:
        results["mining"] = bench_mining(quick=args.quick)
    if "batchsize" in sections:
        results["batchsize"] = bench_batch_size(
            data, train, epochs=10 if args.quick else 40, episodes=200 if args.quick else 1000
        )
    if "defaults" in sections:
        results["defaults"] = {
            args.split: bench_defaults(
                data, split=args.split, candidates=args.candidates.split(","),
                epochs=10 if args.quick else 40, episodes=200 if args.quick else 1000,
            )
        }
    if "gallery" in sections:
        results["gallery"] = bench_gallery(200_000 if args.quick else 1_000_000)
    if "transfer" in sections:
        results["transfer"] = bench_transfer(quick=args.quick)
    results["meta"]["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print_table(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
