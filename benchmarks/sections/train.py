"""Training throughput: ``SiameseEmbedder.fit`` against a hand-written loop.

Images/s of ``fit`` against a hand-written ``tf.function`` loop on the same
network, loss and P x K batches: a custom conv network with batch
normalisation and batch-hard mining, and the default cnn; the default cnn
with its augmentation.
"""

import functools
import time

import numpy as np

from harness import epoch_timer, spread


def run(args, data, train):
    return bench_train(
        data.images[train], data.target[train], steps=30 if args.quick else 60, repeats=3
    )


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


def hand_loop(
    encoder, images, labels, *, loss_fn, classes_per_batch=32, samples_per_class=4, seed=0
):
    """A plain ``tf.function`` training loop, written as a Keras user would.

    P x K batches are drawn in the graph from a tensor of the images; the
    step embeds, applies ``loss_fn`` and updates with Adam. Returns
    ``train(steps)``, which runs that many steps and waits for the last.
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
        chosen = tf.gather(
            tf.gather(table, classes[:classes_per_batch]), picks[:samples_per_class], axis=1
        )
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

    def train(steps):
        for _ in range(steps):
            loss = step(*next(batches))
        loss.numpy()

    return train


def hand_written_loop(encoder, images, labels, *, steps, loss_fn):
    """Images/s of :func:`hand_loop` over ``steps`` steps, after three warm-up steps."""
    train = hand_loop(encoder, images, labels, loss_fn=loss_fn)
    train(3)
    start = time.perf_counter()
    train(steps)
    return steps * 128 / (time.perf_counter() - start)


def bench_train(images, labels, *, steps, repeats=3):
    """``fit`` against a hand-written loop on the same network, loss and batches.

    Two set-ups, each ``repeats`` times alternately: a custom network
    callable (three conv blocks with batch normalisation, 128-d embedding,
    batch-hard mining, margin 0.2) and the default ``network="cnn"``
    (32-d, semi-hard mining, margin 0.5), both in P x K batches of 32
    classes x 4 images and without augmentation. ``fit`` is timed per epoch
    after its first (tracing) epoch, the loop over ``steps`` steps after
    three warm-up steps. ``fit`` of the default cnn also runs with its
    default augmentation.
    """
    import keras

    from sksiamese import SiameseEmbedder, losses
    from sksiamese._encoder import build_encoder

    n_rows = steps * 128
    images, labels = np.resize(images, (n_rows, *images.shape[1:])), np.resize(labels, n_rows)

    def fit_rate(augment=False, **params):
        timer = epoch_timer()
        SiameseEmbedder(
            input_shape=images.shape[1:],
            epochs=3,
            batch_size=128,
            samples_per_class=4,
            augment=augment,
            callbacks=[timer],
            random_state=0,
            **params,
        ).fit(images, labels)
        # The first epoch includes tracing; later ones are steady state.
        return n_rows / float(np.median(timer.times[1:]))

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
                "cnn",
                images.shape[1:],
                32,
                init="redraw",
                seed=0,
                normalize=True,
                mean=np.array([images.mean()]),
                variance=np.array([images.var()]),
            ),
        ),
    }
    results = {"batch": "32 classes x 4", "repeats": repeats}
    for name, (params, build) in setups.items():
        loss_fn = functools.partial(
            losses.triplet_loss, margin=params["margin"], mining=params["mining"]
        )
        rates = {"loop": [], "fit": [], "fit with augmentation": []}
        for _ in range(repeats):
            rates["loop"].append(
                hand_written_loop(build(), images, labels, steps=steps, loss_fn=loss_fn)
            )
            rates["fit"].append(fit_rate(**params))
            if params["network"] == "cnn":
                rates["fit with augmentation"].append(fit_rate(augment=None, **params))
        results[name] = {
            f"{kind} images/s": spread(values) for kind, values in rates.items() if values
        }
        results[name]["fit over loop"] = spread(np.divide(rates["fit"], rates["loop"]))
    return results
