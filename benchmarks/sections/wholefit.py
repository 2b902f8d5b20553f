"""Whole fits: what a user waits for, from the call of ``fit`` to its return.

Seconds of whole ``SiameseEmbedder.fit`` calls (validation, set-up,
tracing, training, diagnostics) against a whole hand-written ``tf.function``
loop over the same network, loss and P x K batches (the loop's set-up and
tracing counted too), on 5,840 Omniglot images at 4 and 40 epochs, for the
default cnn and a custom conv network with batch normalisation and
batch-hard mining; and whole fits of an encoder whose backbone is frozen but
for its last layer, against the same backbone trainable and against the
frozen one trained through every layer each batch. Each pair of calls runs
in one process, alternately, after one untimed call of each (of the
shortest fits, for the longer ones).
"""

import functools
import time
from unittest import mock

import numpy as np

from harness import spread
from sections.train import conv_bn_network, hand_loop

BATCH = 128  # 32 classes x 4 images


def run(args, data, train):
    return {
        "against a hand-written loop": bench_whole_fits(
            data.images[train], data.target[train], epochs=(2, 8) if args.quick else (4, 40)
        ),
        "frozen backbone": bench_frozen_fit(n_rows=2000 if args.quick else 4000),
    }


def timed(call):
    """Wall-clock and CPU seconds of ``call()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def alternate(calls, repeats, *, warm_up=True):
    """Seconds of each of ``calls`` (name -> callable), ``repeats`` times in turns.

    With ``warm_up``, one untimed call of each comes first: the process's
    first fit pays TensorFlow's one-time start-up, which neither side should
    carry. The order of the calls flips from one repeat to the next.
    """
    for call in calls.values() if warm_up else ():
        call()
    seconds = {name: [] for name in calls}
    for repeat in range(repeats):
        order = list(calls) if repeat % 2 == 0 else list(calls)[::-1]
        for name in order:
            seconds[name].append(timed(calls[name]))
    return seconds


def bench_whole_fits(images, labels, *, epochs, n_rows=5840, repeats=3):
    """Whole ``fit`` against the whole hand-written loop, same steps, alternately."""
    import keras

    from sksiamese import SiameseEmbedder, losses
    from sksiamese._encoder import build_encoder

    images, labels = np.resize(images, (n_rows, *images.shape[1:])), np.resize(labels, n_rows)
    steps_per_epoch = -(-n_rows // BATCH)
    setups = {
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
        "custom conv+BN network, 128-d, batch-hard": (
            {"network": conv_bn_network, "n_components": 128, "mining": "hard", "margin": 0.2},
            lambda: keras.Sequential(
                [conv_bn_network(images.shape[1:], 128), keras.layers.UnitNormalization()]
            ),
        ),
    }
    results = {"rows": n_rows, "batch": "32 classes x 4", "repeats": repeats}
    for name, (params, build) in setups.items():
        loss_fn = functools.partial(
            losses.triplet_loss, margin=params["margin"], mining=params["mining"]
        )
        for n_epochs in epochs:

            def fit(n_epochs=n_epochs, params=params):
                SiameseEmbedder(
                    input_shape=images.shape[1:],
                    epochs=n_epochs,
                    batch_size=BATCH,
                    samples_per_class=4,
                    augment=False,
                    rotated_classes=False,
                    mirrored_classes=False,
                    random_state=0,
                    **params,
                ).fit(images, labels)

            def loop(n_epochs=n_epochs, build=build, loss_fn=loss_fn):
                hand_loop(build(), images, labels, loss_fn=loss_fn)(n_epochs * steps_per_epoch)

            # The shortest fits warm up for the longer ones.
            seconds = alternate(
                {"fit": fit, "loop": loop}, repeats, warm_up=n_epochs == min(epochs)
            )
            wall = {kind: [s[0] for s in values] for kind, values in seconds.items()}
            cpu = {kind: [s[1] for s in values] for kind, values in seconds.items()}
            results[f"{name}, {n_epochs} epochs"] = {
                "fit s": spread(wall["fit"]),
                "loop s": spread(wall["loop"]),
                "fit CPU s": spread(cpu["fit"]),
                "loop CPU s": spread(cpu["loop"]),
                # Above 1, fit is the faster of the two.
                "fit speed over loop": spread(np.divide(wall["loop"], wall["fit"])),
                "fit CPU speed over loop": spread(np.divide(cpu["loop"], cpu["fit"])),
            }
    return results


def frozen_backbone(frozen):
    """Three conv blocks (64, 128, 256 filters, batch normalisation) and a Dense top.

    With ``frozen``, every layer but the top is frozen: a backbone whose
    features the fit can compute once.
    """
    import keras

    inputs = keras.Input((32, 32, 3))
    x = inputs
    for width in (64, 128, 256):
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(64)(x))
    for layer in model.layers[:-1]:
        layer.trainable = not frozen
    return model


def bench_frozen_fit(*, n_rows, epochs=4, repeats=3):
    """Whole fits with a frozen backbone, against it trainable and against no fast path."""
    from sksiamese import SiameseEmbedder

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, size=(n_rows, 32, 32, 3)).astype(np.float32)
    labels = np.repeat(np.arange(n_rows // 20), 20)

    def fit(frozen, fast=True):
        embedder = SiameseEmbedder(
            network=frozen_backbone(frozen), n_components=64, epochs=epochs, random_state=0
        )
        if fast:
            embedder.fit(images, labels)
        else:
            with mock.patch("sksiamese._frozen.split_frozen", return_value=None):
                embedder.fit(images, labels)

    seconds = alternate(
        {
            "frozen": functools.partial(fit, True),
            "frozen, through every layer each batch": functools.partial(fit, True, fast=False),
            "trainable": functools.partial(fit, False),
        },
        repeats,
    )
    wall = {kind: [s[0] for s in values] for kind, values in seconds.items()}
    results = {
        "backbone": "3 conv blocks (64/128/256, BN), GAP, Dense(64): all frozen but the Dense",
        "rows": n_rows,
        "image": "32 x 32 x 3",
        "epochs": epochs,
        "repeats": repeats,
        **{f"{kind}: fit s": spread(values) for kind, values in wall.items()},
        "frozen speed-up over trainable": spread(np.divide(wall["trainable"], wall["frozen"])),
        "frozen speed-up over no fast path": spread(
            np.divide(wall["frozen, through every layer each batch"], wall["frozen"])
        ),
    }
    results["targets"] = {
        ">= 5x whole fit over trainable": results["frozen speed-up over trainable"]["median"] >= 5
    }
    return results
