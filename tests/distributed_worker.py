"""One fit under a ``tf.distribute`` strategy, in a process of its own.

Strategies over several logical CPU devices, or over several worker
processes, must be set up before TensorFlow starts its runtime, so the tests
run each case here in a fresh interpreter:

    python distributed_worker.py {mirrored,options,averaging,multiworker} OUTPUT.json

For ``multiworker``, ``TF_CONFIG`` names the cluster and this worker, and
``CHECKPOINT_DIR`` (optional) is passed to the estimator.
"""

import functools
import json
import os
import pickle
import sys

import numpy as np


def fit_digits(strategy):
    """Fit an embedder on digits inside ``strategy.scope()``; report what it did."""
    import tensorflow as tf
    from sklearn.datasets import load_digits

    from sksiamese import SiameseEmbedder

    X, y = load_digits(return_X_y=True)
    embedder = SiameseEmbedder(
        n_components=16,
        epochs=4,
        batch_size=64,
        random_state=0,
        checkpoint_dir=os.environ.get("CHECKPOINT_DIR"),
    )
    with strategy.scope():
        embedder.fit(X[:1200], y[:1200])
    # Used outside the scope: embedding, scoring and pickling.
    score = embedder.score(X[1200:], y[1200:])
    restored = pickle.loads(pickle.dumps(embedder))
    return {
        "replicas": strategy.num_replicas_in_sync,
        "distributed_weights": all(
            isinstance(weight.value, tf.distribute.DistributedValues)
            for weight in embedder.encoder_.weights
        ),
        "loss": embedder.history_["loss"],
        "score": score,
        "restored_score": restored.score(X[1200:], y[1200:]),
        "weights": [weight.tolist() for weight in embedder.encoder_.get_weights()],
    }


def options(strategy):
    """Early stopping, pairs, augmentation, mixed precision and partial_fit under ``strategy``."""
    from sklearn.datasets import load_digits

    from sksiamese import SiameseEmbedder
    from sksiamese.datasets import make_pairs

    X, y = load_digits(return_X_y=True)
    X, y, X_test, y_test = X[:600], y[:600], X[600:900], y[600:900]
    params = dict(n_components=8, epochs=2, random_state=0)
    runs = {
        "early_stopping": lambda: SiameseEmbedder(early_stopping=True, **params).fit(X, y),
        "fit_pairs": lambda: SiameseEmbedder(
            loss="contrastive", early_stopping=True, **params
        ).fit_pairs(*make_pairs(X, y, n_pairs=600, random_state=0)),
        "cnn_augment": lambda: SiameseEmbedder(
            network="cnn", input_shape=(8, 8), augment=True, **params
        ).fit(X, y),
        "mixed_float16": lambda: SiameseEmbedder(precision="mixed_float16", **params).fit(X, y),
        "partial_fit": lambda: (
            SiameseEmbedder(n_components=8, random_state=0)
            .partial_fit(X[:300], y[:300])
            .partial_fit(X[300:], y[300:])
        ),
    }
    result = {}
    for name, run in runs.items():
        with strategy.scope():
            embedder = run()
        result[name] = {
            "history": embedder.history_,
            "score": embedder.score(X_test, y_test),
        }
    return result


def averaging(strategy):
    """One SGD step on two replicas, against the mean of their gradients by hand."""
    import keras
    import tensorflow as tf

    from sksiamese import losses
    from sksiamese._encoder import build_encoder
    from sksiamese._sampling import ClassBalancedSampler, row_reader
    from sksiamese._training import train

    rng = np.random.default_rng(0)
    rows = rng.standard_normal((16, 5)).astype(np.float32)
    labels = np.repeat(np.arange(4), 4)
    loss = functools.partial(losses.triplet_loss, margin=0.5, mining="all")

    def encoder():
        return build_encoder(
            "mlp",
            (5,),
            3,
            init="redraw",
            seed=0,
            normalize=True,
            mean=np.zeros(5),
            variance=np.ones(5),
        )

    with strategy.scope():
        trained = encoder()
        sampler = ClassBalancedSampler(labels, 16, 4, n_replicas=strategy.num_replicas_in_sync)
        train(
            trained,
            loss,
            sampler,
            row_reader(rows),
            validation_sampler=None,
            optimizer=keras.optimizers.SGD(0.5),
            epochs=1,
            seed=7,
            callbacks=[],
            verbose=0,
        )
    reference = encoder()
    gradients = []
    for index in range(strategy.num_replicas_in_sync):
        indices, codes = sampler.sample(tf.constant([7, index], tf.int64))
        with tf.GradientTape() as tape:
            value = loss(codes, reference(tf.gather(rows, indices), training=True))
        gradients.append(tape.gradient(value, reference.trainable_variables))
    start = [np.asarray(weight) for weight in reference.trainable_variables]
    total = [sum(np.asarray(g[i]) for g in gradients) for i in range(len(start))]
    got = [np.asarray(weight) for weight in trained.trainable_variables]

    def error(expected):
        return max(float(np.abs(a - b).max()) for a, b in zip(got, expected))

    n = len(gradients)
    return {
        "replicas": n,
        "steps": sampler.steps_per_epoch,
        "batch_per_replica": sampler.batch_size,
        "error_vs_mean": error([w - 0.5 * g / n for w, g in zip(start, total)]),
        "error_vs_sum": error([w - 0.5 * g for w, g in zip(start, total)]),
    }


def main(mode, output):
    import tensorflow as tf

    if mode in ("mirrored", "options", "averaging"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    else:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    run = {"averaging": averaging, "options": options}.get(mode, fit_digits)
    result = run(strategy)
    with open(output, "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    main(*sys.argv[1:])
