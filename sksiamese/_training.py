"""The training loop: Keras ``fit`` driving a compiled Siamese train step.

Training runs through ``keras.Model.fit`` so users keep what they know from
Keras: callbacks, the progress bar, ``History`` and early stopping. The model
fitted is a thin wrapper around the encoder whose ``train_step`` embeds a
batch (P x K labelled rows, or both members of a set of pairs) and applies the
loss; only the encoder is kept afterwards.
"""

import numpy as np

from ._tensorflow import keras, tf

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
        self._spans_workers = _spans_workers(tf.distribute.get_strategy())

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
            loss = self._loss(targets, rows, training=True)
            # Replicas' gradients are summed: scaling each replica's loss by
            # 1 / R averages them. scale_loss applies mixed precision's loss
            # scaling (a no-op otherwise).
            replicas = tf.distribute.get_replica_context().num_replicas_in_sync
            scaled = self.optimizer.scale_loss(loss / replicas)
        variables = self.encoder.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        return self._track(loss)

    def test_step(self, data):
        rows, targets = data
        return self._track(self._loss(targets, rows, training=False))

    def _track(self, loss):
        self.loss_tracker.update_state(loss)
        result = self.loss_tracker.result()
        if self._spans_workers:
            # Keras averages each replica's logs across workers along their
            # axis 0, which a scalar lacks; as a 1-vector the mean over all
            # replicas comes out a scalar.
            result = tf.reshape(result, [1])
        return {"loss": result}

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a strategy, Keras builds the model from a first batch, which
        # it averages over replicas with one strategy.reduce call on the
        # whole (rows, targets) tuple; MultiWorkerMirroredStrategy rejects
        # nested values there. Shapes are all the build needs, so the first
        # replica's part of the batch is used instead.
        if iterator is None or not tf.distribute.has_strategy():
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        if self.built and self.optimizer.built:
            # Built by fit already: taking a batch would cost the
            # validation pass one of its batches.
            return
        strategy = tf.distribute.get_strategy()
        for _, _, batches in iterator:
            batch = next(batches)
            break
        first_replica = tf.nest.map_structure(
            lambda value: strategy.experimental_local_results(value)[0], batch
        )
        with strategy.scope():
            self._symbolic_build(data_batch=first_replica)

    def _loss(self, targets, rows, training):
        # Mixed precision computes embeddings in float16 or bfloat16; the
        # loss and its distances are computed in float32.
        embeddings = tf.cast(self.encoder(rows, training=training), tf.float32)
        return self.loss_fn(targets, embeddings)


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


def make_optimizer(optimizer, learning_rate, *, loss_scaling=False):
    """A fresh optimizer: from a name, or a copy of a Keras optimizer instance.

    Copying keeps the estimator's parameter untouched, so refits and clones
    never share optimizer state. ``loss_scaling`` wraps it for float16
    mixed precision, whose small gradients would otherwise underflow.
    """
    if isinstance(optimizer, str):
        optimizer = OPTIMIZERS[optimizer](learning_rate=learning_rate)
    else:
        optimizer = type(optimizer).from_config(optimizer.get_config())
    return keras.optimizers.LossScaleOptimizer(optimizer) if loss_scaling else optimizer


def dtype_policy(precision):
    """The Keras dtype policy for ``precision``.

    ``"mixed"`` means float16 where TensorFlow sees a GPU and bfloat16
    otherwise: CPUs have no fast float16 arithmetic.
    """
    if precision == "mixed":
        return "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"
    return precision


def replicas_in_sync():
    """Number of replicas that train in step under the current strategy (1 without one)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def in_current_strategy(encoder):
    """``encoder``, or a copy of it whose variables belong to the current strategy.

    An encoder built under one ``tf.distribute`` strategy (or none) cannot
    be trained under another: warm starts and ``partial_fit`` move it by
    cloning it in the current scope and copying its weights.
    """
    extended = tf.distribute.get_strategy().extended
    if all(extended.variable_created_in_scope(weight.value) for weight in encoder.weights):
        return encoder
    copy = keras.models.clone_model(encoder)
    copy.set_weights(encoder.get_weights())
    return copy


def _spans_workers(strategy):
    """Whether ``strategy`` trains across several worker processes."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    cluster = strategy.cluster_resolver.cluster_spec().as_dict()
    return sum(len(tasks) for tasks in cluster.values()) > 1


def _batches(sampler, read, seed, n_batches=None):
    """The sampler's batches, shared out among replicas under a strategy.

    Each input pipeline builds its own stream, so every replica draws a
    whole batch of its own: P x K batches are not cut across classes, nor
    pair batches across pairs.
    """
    if not tf.distribute.has_strategy():
        return sampler.dataset(read, seed, n_batches=n_batches)
    return tf.distribute.get_strategy().distribute_datasets_from_function(
        lambda context: sampler.dataset(read, seed, n_batches=n_batches, input_context=context)
    )


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
    a batch or two instead of running its epoch on NaN weights.
    """

    # Keras runs batch-end callbacks in a worker thread only when all of them
    # are async-safe; otherwise every step waits for the previous one's logs
    # (see the benchmarks' train section). The check only reads logs and sets
    # flags, and Keras flushes the pending calls before each epoch ends.
    async_safe = True

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
    read,
    *,
    validation_sampler,
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

    Under a ``tf.distribute`` strategy (called inside ``strategy.scope()``)
    each replica trains on batches of its own, drawn by the samplers, and
    their gradients are averaged; ``encoder`` must have been built in the
    same scope (see :func:`in_current_strategy`).

    Parameters
    ----------
    encoder : keras.Model
    loss_fn : callable
        ``loss_fn(targets, embeddings) -> scalar``, where ``targets`` are what
        ``sampler`` yields beside the rows: class codes or pair labels.
    sampler : ClassBalancedSampler or PairSampler
        Draws the training batches.
    read : callable
        Maps row indices to rows, for both samplers; see
        :func:`~sksiamese._sampling.row_reader`.
    validation_sampler : ClassBalancedSampler or PairSampler or None
        Draws held-out batches; their loss is reported as ``val_loss`` after
        each epoch, always on the same batches.
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
        ends with a finite loss; under a multi-worker strategy on the chief
        worker only.
    """
    batches = _batches(sampler, read, seed)
    validation_batches = validation_steps = None
    if validation_sampler is not None:
        validation_steps = validation_sampler.steps_per_epoch
        validation_batches = _batches(validation_sampler, read, seed + 1, validation_steps)
    if checkpoint is not None and not tf.distribute.get_strategy().extended.should_checkpoint:
        checkpoint = None

    run = TrainingRun()
    safeguard = _Safeguard(encoder, run, checkpoint)
    trainer = SiameseTrainer(encoder, loss_fn, augmenter)
    # The step is compiled by tf.function alone: XLA (jit_compile) has not been
    # measured to pay off for these networks.
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
