"""The training loop: Keras ``fit`` driving a compiled Siamese train step.

Training runs through ``keras.Model.fit`` so users keep what they know from
Keras: callbacks, the progress bar, ``History`` and early stopping. The model
fitted is a thin wrapper around the encoder whose ``train_step`` embeds a
batch (P x K labelled rows, or both members of a set of pairs) and applies the
loss; only the encoder is kept afterwards.
"""

import keras
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
):
    """Train ``encoder`` in place and return the Keras history dict.

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
    """
    batches = sampler.dataset(tf.constant(rows), seed)
    validation_batches = validation_steps = None
    if validation is not None:
        val_sampler, val_rows = validation
        validation_steps = val_sampler.steps_per_epoch
        validation_batches = val_sampler.dataset(
            tf.constant(val_rows), seed + 1, n_batches=validation_steps
        )

    trainer = SiameseTrainer(encoder, loss_fn, augmenter)
    # XLA made the default cnn's train step slower on CPU (1581 vs 2106
    # images/s on 2 cores), so the step is compiled by tf.function alone.
    trainer.compile(optimizer=optimizer, jit_compile=False)
    try:
        history = trainer.fit(
            batches,
            epochs=epochs,
            steps_per_epoch=sampler.steps_per_epoch,
            validation_data=validation_batches,
            validation_steps=validation_steps,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # the samplers already draw batches at random
        )
    finally:
        # Keras leaves each callback pointing at the trainer, which cannot be
        # pickled or deep-copied; the callbacks are estimator parameters, so
        # they must stay clonable and picklable. The base class's set_model
        # is called because subclasses may not accept None.
        for callback in callbacks:
            keras.callbacks.Callback.set_model(callback, None)
    return history.history
