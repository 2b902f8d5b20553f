"""The training loop: Keras ``fit`` driving a compiled Siamese train step.

Training runs through ``keras.Model.fit`` so users keep what they know from
Keras: callbacks, the progress bar, ``History`` and early stopping. The model
fitted is a thin wrapper around the encoder whose ``train_step`` embeds a
batch (P x K labelled rows, or both members of a set of pairs) and applies the
loss; only the encoder is kept afterwards.
"""

import keras
import numpy as np
import tensorflow as tf

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": keras.optimizers.SGD,
}


class SiameseTrainer(keras.Model):
    """Wraps ``encoder`` so that ``fit`` minimises ``loss_fn(targets, embeddings)``.

    Callbacks see this model as ``callback.model``; the encoder being trained
    is ``callback.model.encoder``.
    """

    def __init__(self, encoder, loss_fn, augmenter=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.loss_fn = loss_fn
        self.augmenter = augmenter
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, rows, training=False):
        return self.encoder(rows, training=training)

    def train_step(self, data):
        rows, targets = data
        if self.augmenter is not None:
            rows = self.augmenter(rows, training=True)
        with tf.GradientTape() as tape:
            loss = self.loss_fn(targets, self.encoder(rows, training=True))
        variables = self.encoder.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        rows, targets = data
        self.loss_tracker.update_state(self.loss_fn(targets, self.encoder(rows, training=False)))
        return {"loss": self.loss_tracker.result()}


def image_augmenter(seed, *, shift=0.1, rotation=10.0, zoom=0.1):
    """Light random affine changes of image batches, for training only.

    Shifts by up to ``shift`` of the height and width, rotations by up to
    ``rotation`` degrees and zooms by up to ``zoom`` in or out; pixels moved
    in from outside repeat the nearest edge. Seeded, so fits stay
    reproducible.
    """
    return keras.Sequential(
        [
            keras.layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=seed),
            keras.layers.RandomRotation(rotation / 360.0, fill_mode="nearest", seed=seed + 1),
            keras.layers.RandomZoom(zoom, fill_mode="nearest", seed=seed + 2),
        ],
        name="augmenter",
    )


def make_optimizer(optimizer, learning_rate):
    """A fresh optimizer: from a name, or a copy of a Keras optimizer instance.

    Copying keeps the estimator's parameter untouched, so refits and clones
    never share optimizer state.
    """
    if isinstance(optimizer, str):
        return OPTIMIZERS[optimizer](learning_rate=learning_rate)
    return type(optimizer).from_config(optimizer.get_config())


class TrainingRun:
    """What one call of :func:`train` did.

    Attributes
    ----------
    history : dict of str to list of float
        Per-epoch logs of the epochs that finished, like Keras'
        ``History.history``.
    diverged_at : int or None
        Index (from 0) of the epoch whose loss turned non-finite; training
        stopped there and the encoder holds the weights of the last epoch
        that ended with a finite loss (or its initial weights).
    interrupted : bool
        Whether training was stopped by ``KeyboardInterrupt``; the encoder
        holds the weights reached when it was.
    """

    def __init__(self):
        self.history = {}
        self.diverged_at = None
        self.interrupted = False


class _Safeguard(keras.callbacks.Callback):
    """Records each epoch's logs, keeps the last finite weights, saves checkpoints.

    The loss is checked after every batch, so a diverging fit stops within
    one batch instead of running its epoch on NaN weights.
    """

    def __init__(self, encoder, run, checkpoint):
        super().__init__()
        self.encoder = encoder
        self.run = run
        self.checkpoint = checkpoint
        self.epoch = 0
        self.finite_weights = None

    def on_train_begin(self, logs=None):
        self.finite_weights = self.encoder.get_weights()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            self.run.diverged_at = self.epoch
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = {key: float(value) for key, value in (logs or {}).items()}
        weights = self.encoder.get_weights()
        # A finite loss does not prove finite weights: relu and masking can
        # turn NaN embeddings into a finite loss, so the weights are checked.
        finite = np.isfinite(list(logs.values())).all() and _all_finite(weights)
        if self.run.diverged_at is not None or not finite:
            self.run.diverged_at = epoch
            self.model.stop_training = True
            return
        for key, value in logs.items():
            self.run.history.setdefault(key, []).append(value)
        self.finite_weights = weights
        if self.checkpoint is not None:
            self.checkpoint(self.encoder, self.run.history)


def train(
    encoder,
    loss_fn,
    sampler,
    rows,
    *,
    validation,
    optimizer,
    epochs,
    seed,
    callbacks,
    verbose,
    augmenter=None,
    checkpoint=None,
):
    """Train ``encoder`` in place; return a :class:`TrainingRun`.

    A loss that turns non-finite stops training and puts back the weights of
    the last epoch that ended with a finite loss. ``KeyboardInterrupt``
    stops training too and is reported in the result, not raised: the
    caller decides what to keep before raising it again.

    Parameters
    ----------
    encoder : keras.Model
    loss_fn : callable
        ``loss_fn(targets, embeddings) -> scalar``, where ``targets`` are what
        ``sampler`` yields beside the rows: class codes or pair labels.
    sampler : ClassBalancedSampler or PairSampler
        Draws the training batches from ``rows``.
    rows : ndarray of shape (n_rows, *input_shape), float32
    validation : tuple (sampler, rows) or None
        Held-out data; its loss is reported as ``val_loss`` after each epoch,
        always on the same batches.
    optimizer : keras.optimizers.Optimizer
    epochs : int
    seed : int
        Seeds the stream of batches.
    callbacks : list of keras.callbacks.Callback
    verbose : int
        0 silent, 1 progress bar, 2 one line per epoch.
    augmenter : keras.Layer or None
        Applied to each training batch before the encoder.
    checkpoint : callable or None
        ``checkpoint(encoder, history)``, called after every epoch that
        ends with a finite loss.
    """
    batches = sampler.dataset(tf.constant(rows), seed)
    validation_batches = validation_steps = None
    if validation is not None:
        val_sampler, val_rows = validation
        validation_steps = val_sampler.steps_per_epoch
        validation_batches = val_sampler.dataset(
            tf.constant(val_rows), seed + 1, n_batches=validation_steps
        )

    run = TrainingRun()
    safeguard = _Safeguard(encoder, run, checkpoint)
    trainer = SiameseTrainer(encoder, loss_fn, augmenter)
    # XLA made the default cnn's train step slower on CPU (1581 vs 2106
    # images/s on 2 cores), so the step is compiled by tf.function alone.
    trainer.compile(optimizer=optimizer, jit_compile=False)
    try:
        trainer.fit(
            batches,
            epochs=epochs,
            steps_per_epoch=sampler.steps_per_epoch,
            validation_data=validation_batches,
            validation_steps=validation_steps,
            # The safeguard goes last: it sees the weights other callbacks
            # (early stopping restoring its best) leave at each epoch end.
            callbacks=[*callbacks, safeguard],
            verbose=verbose,
            shuffle=False,  # the samplers already draw batches at random
        )
    except KeyboardInterrupt:
        run.interrupted = True
    finally:
        # Keras leaves each callback pointing at the trainer, which cannot be
        # pickled or deep-copied; the callbacks are estimator parameters, so
        # they must stay clonable and picklable. The base class's set_model
        # is called because subclasses may not accept None.
        for callback in callbacks:
            keras.callbacks.Callback.set_model(callback, None)
    if run.diverged_at is None and not _all_finite(encoder.get_weights()):
        run.diverged_at = len(run.history.get("loss", []))
    if run.diverged_at is not None:
        encoder.set_weights(safeguard.finite_weights)
    return run


def _all_finite(weights):
    return all(np.isfinite(weight).all() for weight in weights)
