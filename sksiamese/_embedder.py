"""SiameseEmbedder: a scikit-learn transformer that learns a distance."""

import functools
import math
import os
import warnings
from numbers import Integral, Real

import keras
import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import losses, networks
from ._checkpoint import Checkpointer, read_checkpoint
from ._compat import Interval, StrOptions, _fit_context
from ._inference import EncoderRunner
from ._persistence import SaveMixin
from ._serialization import model_from_bytes, model_to_bytes
from ._pairs import check_pair_labels, stack_pair_rows
from ._sampling import ClassBalancedSampler, PairSampler
from ._training import OPTIMIZERS, image_augmenter, make_optimizer, train
from .metrics import precision_at_1

_SEED_LIMIT = 2**31 - 1
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class SiameseEmbedder(
    SaveMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Learn an embedding with a Siamese network and a triplet or contrastive loss.

    Twin copies of one encoder network, sharing their weights, embed the rows
    of ``X``. Training pulls rows of the same class together and pushes rows
    of other classes at least ``margin`` apart. Because the network
    learns a distance rather than a fixed set of classes, the embedding
    recognises classes never seen in training from one or a few examples, for
    instance with a ``KNeighborsClassifier(1)`` behind it in a pipeline.

    :meth:`fit` draws batches of ``P`` classes with ``samples_per_class`` rows
    each and mines triplets or pairs inside every batch from its distance
    matrix. :meth:`fit_pairs` learns from pairs labelled same or different
    instead, when there are no classes.

    Parameters
    ----------
    network : {"mlp", "cnn"} or callable, default="mlp"
        The encoder. ``"mlp"``: a two-layer perceptron for tabular rows.
        ``"cnn"``: a convolutional network for images; needs ``input_shape``.
        A callable ``network(input_shape, n_components)`` must return a
        ``keras.Model`` that maps rows to raw embeddings; define it at module
        level so the estimator can be pickled. Built-in networks standardise
        their inputs with the training rows' mean and variance; custom ones
        receive the rows as given.

    input_shape : tuple of int, default=None
        Shape of one row, e.g. ``(28, 28, 1)`` for grayscale images. Rows of
        a 2-D ``X`` are reshaped to it; ``X`` shaped ``(n_samples,
        *input_shape)`` works as well. For ``network="cnn"`` a 2-tuple
        ``(height, width)`` means one channel. None takes the shape of ``X``.

    n_components : int, default=32
        Size of the embedding.

    margin : float, default=0.5
        Margin of the triplet loss, in the unit of ``distance``. With
        ``normalize=True`` embeddings lie on the unit sphere: Euclidean
        distances are in [0, 2], squared Euclidean in [0, 4] and cosine
        distances (``1 - cos``) in [0, 2].

    loss : {"triplet", "contrastive"}, default="triplet"
        Training objective. ``"triplet"``: the triplet margin loss
        ``max(d(a, p) - d(a, n) + margin, 0)`` over anchors, positives and
        negatives mined from each batch. ``"contrastive"``: pairs of the
        batch cost ``d**2`` when their classes match and ``max(margin - d,
        0)**2`` otherwise (Hadsell et al. 2006); it is the loss of
        :meth:`fit_pairs`, which trains on given pairs instead of classes.

    mining : {"semi-hard", "hard", "all"}, default="semi-hard"
        Which triplets, or pairs, of a batch train the network.
        ``"semi-hard"`` (FaceNet): each anchor-positive pair with the
        closest negative farther than the positive. ``"hard"``
        (batch-hard): each anchor with its farthest positive and closest
        negative. ``"all"`` (batch-all): every triplet with a positive loss;
        for the contrastive loss every pair, positives and violating
        negatives weighted equally.

    distance : {"euclidean", "sqeuclidean", "cosine"}, default="euclidean"
        Distance between embeddings, in training and in :meth:`score`.

    normalize : bool, default=True
        Scale embeddings to unit L2 norm.

    epochs : int, default=20
        Passes over the training data; one epoch draws as many rows as
        ``X`` holds.

    batch_size : int, default=128
        Rows per batch.

    samples_per_class : int, default=4
        ``K``, rows of each class in a batch; a batch holds ``batch_size //
        K`` classes. When ``y`` has fewer classes, every batch holds all of
        them and ``K`` grows to fill the batch.

    augment : bool or None, default=None
        Light data augmentation of image rows in training: random shifts
        of up to 10% of the height and width, rotations of up to 10 degrees
        and zooms of up to 10%. Needs rows of shape ``(height, width,
        channels)``. None turns it on for ``network="cnn"`` only: on
        Omniglot it lifted 20-way 1-shot accuracy on unseen alphabets from
        0.76 to 0.81. Turn it off for images whose position or orientation
        carries meaning.

    learning_rate : float, default=1e-3
        Step size of the optimizer given by name.

    optimizer : {"adam", "adamw", "rmsprop", "sgd"} or keras Optimizer, default="adam"
        A name, or a Keras optimizer instance that is copied for each fit
        (its own learning rate then applies).

    validation_fraction : float, default=0.1
        Proportion of the training rows held out, stratified by class, to
        monitor ``val_loss`` for early stopping. Only used if
        ``early_stopping=True``.

    early_stopping : bool, default=False
        Stop when ``val_loss`` has not improved for ``n_iter_no_change``
        epochs and restore the best weights.

    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.

    callbacks : list of keras.callbacks.Callback, default=None
        Keras callbacks for training. They see a wrapper model as
        ``callback.model``; the encoder is ``callback.model.encoder``.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the batches and the validation split. An
        int gives bit-identical embeddings on CPU for the same data. Seeding
        is local to the fit: no global seed is set and results do not depend
        on one. (Keras still draws from Python's ``random`` module when it
        builds layers, so that module's state moves on during any fit.)

    verbose : int, default=0
        0 silent, 1 Keras progress bar, 2 one line per epoch.

    warm_start : bool, default=False
        Continue training the fitted encoder instead of starting anew;
        ``history_`` then grows. Rows must keep their shape. An estimator
        that has not been fitted in this session resumes from the
        checkpoint in ``checkpoint_dir``, if there is one.

    checkpoint_dir : str or path-like, default=None
        Folder where the encoder and ``history_`` are saved after every
        epoch that ends with a finite loss, in one file replaced atomically,
        so a crash or an interrupt loses at most the epoch in progress.
        With ``warm_start=True`` a new estimator (or a new process) resumes
        from it; otherwise a fit starts anew and overwrites it.

    Attributes
    ----------
    encoder_ : keras.Model
        The trained encoder: input of shape ``input_shape_``, output the
        embedding.

    input_shape_ : tuple of int
        Shape of one row as the encoder sees it.

    history_ : dict of str to list of float
        Per-epoch ``loss`` (and ``val_loss`` with early stopping), like
        Keras' ``History.history``.

    n_iter_ : int
        Number of epochs trained, across warm starts.

    classes_ : ndarray of shape (n_classes,)
        Classes seen in the last :meth:`fit`; not set by :meth:`fit_pairs`.

    n_features_in_ : int
        Number of features of one row (``prod(input_shape_)``).

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.neighbors.NeighborhoodComponentsAnalysis : A linear metric
        learner.

    Notes
    -----
    ``transform`` computes in the precision of its input: float32 rows give
    float32 embeddings; float64 rows run through a float64 copy of the
    encoder, so each row's embedding is independent of its batch.

    Training that diverges (the loss turns NaN or infinite, e.g. with a far
    too large ``learning_rate``) stops at once; the encoder keeps the
    weights of the last epoch that ended with a finite loss and a
    ``ConvergenceWarning`` says so. ``KeyboardInterrupt`` (Ctrl-C) during
    ``fit`` leaves a fitted estimator with the weights reached so far,
    warns, and is raised again.

    References
    ----------
    .. [1] F. Schroff, D. Kalenichenko and J. Philbin, "FaceNet: A Unified
       Embedding for Face Recognition and Clustering", CVPR 2015.
    .. [2] A. Hermans, L. Beyer and B. Leibe, "In Defense of the Triplet Loss
       for Person Re-Identification", arXiv:1703.07737, 2017.
    .. [3] R. Hadsell, S. Chopra and Y. LeCun, "Dimensionality Reduction by
       Learning an Invariant Mapping", CVPR 2006.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import SiameseEmbedder
    >>> X, y = load_digits(return_X_y=True)
    >>> embedder = SiameseEmbedder(n_components=16, epochs=3, random_state=0)
    >>> embedder.fit_transform(X, y).shape
    (1797, 16)
    >>> embedder.score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        "network": [StrOptions(set(networks.BUILT_IN)), callable],
        "input_shape": [tuple, list, None],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "margin": [Interval(Real, 0, None, closed="neither")],
        "loss": [StrOptions(set(losses.LOSSES))],
        "mining": [StrOptions(set(losses.MININGS))],
        "distance": [StrOptions(set(losses.DISTANCES))],
        "normalize": ["boolean"],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "samples_per_class": [Interval(Integral, 2, None, closed="left")],
        "augment": ["boolean", None],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), keras.optimizers.Optimizer],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "checkpoint_dir": [str, os.PathLike, None],
    }

    def __init__(
        self,
        network="mlp",
        input_shape=None,
        n_components=32,
        margin=0.5,
        loss="triplet",
        mining="semi-hard",
        distance="euclidean",
        normalize=True,
        epochs=20,
        batch_size=128,
        samples_per_class=4,
        augment=None,
        learning_rate=1e-3,
        optimizer="adam",
        validation_fraction=0.1,
        early_stopping=False,
        n_iter_no_change=5,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
        checkpoint_dir=None,
    ):
        self.network = network
        self.input_shape = input_shape
        self.n_components = n_components
        self.margin = margin
        self.loss = loss
        self.mining = mining
        self.distance = distance
        self.normalize = normalize
        self.epochs = epochs
        self.batch_size = batch_size
        self.samples_per_class = samples_per_class
        self.augment = augment
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the encoder on rows ``X`` labelled ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or ``(n_samples, *input_shape)``
            Training rows.
        y : array-like of shape (n_samples,)
            Class labels, at least two classes.

        Returns
        -------
        self : SiameseEmbedder
            The fitted estimator.
        """
        plan = self._checked(self._plan_training, self._validate_training_data, (X, y), False)
        return self._train(plan, ClassBalancedSampler, self._batch_loss())

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_pairs(self, pairs, same):
        """Train the encoder on labelled pairs: the classic Siamese pair model.

        Each batch embeds both rows of ``batch_size // 2`` pairs with the
        shared encoder and applies the contrastive loss to their distances;
        ``mining`` and ``samples_per_class`` play no part. Use it when what
        you know is which rows match, not their classes. Needs
        ``loss="contrastive"``.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, n_features) or ``(n_pairs, 2, *input_shape)``
            Pairs of rows.
        same : array-like of shape (n_pairs,)
            1 (or True) where the two rows match, 0 (or False, or -1) where
            they do not; both kinds must occur.

        Returns
        -------
        self : SiameseEmbedder
            The fitted estimator. ``classes_`` is not set: pairs carry no
            classes.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from sksiamese import SiameseEmbedder
        >>> from sksiamese.datasets import make_pairs
        >>> X, y = load_digits(return_X_y=True)
        >>> pairs, same = make_pairs(X, y, n_pairs=2000, random_state=0)
        >>> pairs.shape
        (2000, 2, 64)
        >>> embedder = SiameseEmbedder(loss="contrastive", epochs=3, random_state=0)
        >>> embedder.fit_pairs(pairs, same).transform(X).shape
        (1797, 32)
        """
        plan = self._checked(self._plan_training, self._validate_pair_data, (pairs, same), True)
        loss = functools.partial(
            losses.contrastive_pair_loss, margin=float(self.margin), distance=self.distance
        )
        return self._train(plan, PairSampler, loss)

    def _plan_training(self, validate, data, paired):
        """Validate ``data`` and settle where training starts from.

        ``paired`` says that ``data`` are pairs, so that early stopping holds
        out whole pairs.

        Everything that can reject a call happens here, before any training
        and before any fitted attribute is replaced.
        """
        rows, targets = validate(*data)
        for callback in self.callbacks or []:
            if not isinstance(callback, keras.callbacks.Callback):
                raise TypeError(
                    "callbacks must hold keras.callbacks.Callback instances; got "
                    f"{type(callback).__name__} {callback!r}."
                )
        rng = check_random_state(self.random_state)
        weight_seed, batch_seed, split_seed, augment_seed = rng.randint(_SEED_LIMIT - 3, size=4)
        if self._continues_training():
            encoder, history = self.encoder_, self.history_
        else:
            resumed = self._resumed_checkpoint()
            encoder, history = resumed or (self._build_encoder(rows, weight_seed), {})
        validation = None
        if self.early_stopping:
            rows, targets, validation = self._hold_out(
                rows, targets, split_seed, paired=paired
            )
        return {
            "rows": rows,
            "targets": targets,
            "validation": validation,
            "encoder": encoder,
            "history": history,
            "batch_seed": int(batch_seed),
            "augment_seed": int(augment_seed),
        }

    def _resumed_checkpoint(self):
        """The encoder and history saved in ``checkpoint_dir``, to warm-start from."""
        if not (self.warm_start and self.checkpoint_dir is not None):
            return None
        saved = read_checkpoint(self.checkpoint_dir)
        if saved is not None and saved[0].input_shape[1:] != self.input_shape_:
            raise ValueError(
                f"The checkpoint in {self.checkpoint_dir} holds an encoder for rows of "
                f"shape {saved[0].input_shape[1:]}; these rows have shape {self.input_shape_}."
            )
        return saved

    def _train(self, plan, sampler_type, loss):
        """Train the planned encoder, then record what training reached."""

        def sampler(targets):
            if sampler_type is PairSampler:
                return PairSampler(targets, int(self.batch_size))
            return ClassBalancedSampler(
                targets, int(self.batch_size), int(self.samples_per_class)
            )

        encoder, history = plan["encoder"], plan["history"]
        validation = None
        callbacks = list(self.callbacks or [])
        if plan["validation"] is not None:
            val_rows, val_targets = plan["validation"]
            validation = (sampler(val_targets), val_rows)
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss",
                    patience=int(self.n_iter_no_change),
                    restore_best_weights=True,
                )
            )
        checkpoint = None
        if self.checkpoint_dir is not None:
            checkpoint = Checkpointer(self.checkpoint_dir, earlier_history=history)
        n_before = len(history.get("loss", []))
        run = train(
            encoder,
            loss,
            sampler(plan["targets"]),
            plan["rows"],
            validation=validation,
            optimizer=make_optimizer(self.optimizer, float(self.learning_rate)),
            epochs=int(self.epochs),
            seed=plan["batch_seed"],
            callbacks=callbacks,
            verbose=min(int(self.verbose), 2),
            augmenter=image_augmenter(plan["augment_seed"]) if self._augments() else None,
            checkpoint=checkpoint,
        )
        history.setdefault("loss", [])
        for key, values in run.history.items():
            history.setdefault(key, []).extend(values)
        self.encoder_ = encoder
        self.history_ = history
        self.n_iter_ = len(history["loss"])
        self._runner = EncoderRunner(encoder)
        if run.diverged_at is not None:
            kept = n_before + run.diverged_at
            warnings.warn(
                f"Training diverged: the loss became NaN or infinite in epoch {kept + 1}. "
                "Training stopped and the encoder keeps the weights of "
                + (f"epoch {kept}, the last with a finite loss" if kept else "its start")
                + f". Lower learning_rate (now {self.learning_rate}).",
                ConvergenceWarning,
                stacklevel=4,
            )
        if run.interrupted:
            warnings.warn(
                f"fit was interrupted during epoch {self.n_iter_ + 1}; the estimator keeps "
                f"the weights reached so far ({self.n_iter_} complete epochs in history_) "
                "and can be used, saved or warm-started.",
                UserWarning,
                stacklevel=4,
            )
            raise KeyboardInterrupt
        return self

    def _batch_loss(self):
        """The loss of labelled P x K batches, as configured."""
        loss = losses.triplet_loss if self.loss == "triplet" else losses.contrastive_loss
        return functools.partial(
            loss, margin=float(self.margin), mining=self.mining, distance=self.distance
        )

    def _checked(self, validate, *args):
        """Run ``validate(*args)``; a rejected call leaves the estimator as it was."""
        before = dict(self.__dict__)
        try:
            return validate(*args)
        except Exception:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    def transform(self, X):
        """Embed rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or ``(n_samples, *input_shape_)``
            Rows to embed.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Embeddings, float32 for float32 rows and float64 otherwise.
        """
        check_is_fitted(self)
        rows = self._validate_rows(X)
        embedded = self._runner(rows)
        if not np.isfinite(embedded).all():
            # Inputs are finite (validated), so the weights overflow.
            raise ValueError(
                "The encoder maps these finite rows to NaN or infinite embeddings: its "
                "weights overflow. Refit with a lower learning_rate."
            )
        return embedded

    def score(self, X, y):
        """Precision at 1 of the embedding of ``X``: a retrieval score.

        The fraction of rows whose nearest other row, in the embedding and
        under ``distance``, has the same class: leave-one-out
        1-nearest-neighbour accuracy, so higher is better and
        ``GridSearchCV`` can tune the embedder on its own. Classes need not
        have been seen in training.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or ``(n_samples, *input_shape_)``
            At least two rows.
        y : array-like of shape (n_samples,)
            Their classes.

        Returns
        -------
        score : float
            In [0, 1].
        """
        embeddings = self.transform(X)
        labels = column_or_1d(y, warn=True)
        check_consistent_length(embeddings, labels)
        if len(labels) < 2:
            raise ValueError("score needs at least 2 samples to find neighbours.")
        return precision_at_1(embeddings, labels, distance=self.distance)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    @property
    def _n_features_out(self):
        """Number of transformed output features."""
        return self.encoder_.output_shape[-1]

    def __getstate__(self):
        # Copy: object.__getstate__ may hand back the live __dict__ itself.
        state = dict(super().__getstate__())
        state.pop("_runner", None)
        if "encoder_" in state:
            state["encoder_"] = model_to_bytes(state["encoder_"])
        return state

    def __setstate__(self, state):
        if "encoder_" in state:
            state = dict(state)
            state["encoder_"] = model_from_bytes(state["encoder_"])
        super().__setstate__(state)
        if "encoder_" in state:
            self._runner = EncoderRunner(self.encoder_)

    # Validation -----------------------------------------------------------

    def _validate_training_data(self, X, y):
        X, nd_shape = _flatten_rows(X)
        X, y = validate_data(
            self, X, y, dtype=[np.float64, np.float32], ensure_min_samples=2
        )
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                "SiameseEmbedder needs samples of at least 2 classes to learn a "
                f"distance; y holds one class ({self.classes_[0]!r})."
            )
        return self._shaped_training_rows(X, nd_shape), y

    def _shaped_training_rows(self, X, nd_shape):
        """Set ``input_shape_`` and reshape validated 2-D rows to it, as float32."""
        self.input_shape_ = self._row_shape(X.shape[1], nd_shape)
        if self._augments() and len(self.input_shape_) != 3:
            raise ValueError(
                "augment=True transforms images; it needs rows of shape (height, width, "
                f"channels), got {self.input_shape_}. Set input_shape."
            )
        if self._continues_training() and self.encoder_.input_shape[1:] != self.input_shape_:
            raise ValueError(
                f"warm_start=True continues an encoder for rows of shape "
                f"{self.encoder_.input_shape[1:]}; these rows have shape {self.input_shape_}."
            )
        if X.dtype == np.float64 and np.abs(X).max() > _FLOAT32_MAX:
            raise ValueError(
                "X holds values beyond float32's range (about 3.4e38 in magnitude); the "
                "network trains in float32. Rescale X."
            )
        return X.astype(np.float32, copy=False).reshape((len(X), *self.input_shape_))

    def _validate_pair_data(self, pairs, same):
        if self.loss != "contrastive":
            raise ValueError(
                "fit_pairs trains with the contrastive loss; set loss='contrastive' "
                f"(got loss={self.loss!r})."
            )
        rows = stack_pair_rows(pairs)
        codes, _ = check_pair_labels(same, len(rows) // 2)
        X, nd_shape = _flatten_rows(rows)
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        # Pairs carry no classes; drop those of an earlier fit.
        self.__dict__.pop("classes_", None)
        return self._shaped_training_rows(X, nd_shape), codes

    def _row_shape(self, n_features, nd_shape):
        """Shape of one row for the encoder, checked against ``input_shape``."""
        shape = nd_shape
        if self.input_shape is not None:
            shape = tuple(self.input_shape)
            if not shape or not all(isinstance(size, Integral) and size > 0 for size in shape):
                raise ValueError(
                    f"input_shape must be a tuple of positive ints, got {self.input_shape!r}."
                )
            if networks.flat_size(shape) != n_features:
                raise ValueError(
                    f"input_shape={shape} holds {networks.flat_size(shape)} values per row "
                    f"but X has {n_features} features."
                )
            if nd_shape is not None and not _same_row_shape(nd_shape, shape):
                raise ValueError(f"X has rows of shape {nd_shape}; input_shape is {shape}.")
        if self.network == "cnn":
            if shape is None:
                raise ValueError(
                    "network='cnn' needs input_shape=(height, width, channels) to "
                    "reshape rows of a 2-D X into images."
                )
            if len(shape) == 2:
                shape = (*shape, 1)
        return tuple(int(size) for size in shape) if shape else (n_features,)

    def _validate_rows(self, X):
        X, nd_shape = _flatten_rows(X)
        if nd_shape is not None and not _same_row_shape(nd_shape, self.input_shape_):
            raise ValueError(
                f"X has rows of shape {nd_shape}; the encoder takes {self.input_shape_}."
            )
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return X.reshape((len(X), *self.input_shape_))

    # Training helpers -------------------------------------------------------

    def _augments(self):
        return self.network == "cnn" if self.augment is None else self.augment

    def _continues_training(self):
        return self.warm_start and hasattr(self, "encoder_")

    def _build_encoder(self, rows, seed):
        mean = variance = None
        if isinstance(self.network, str):
            # Centre each feature (or channel) but scale all by one common
            # deviation: relative scales carry information, and per-feature
            # scaling would blow up near-constant features such as blank
            # image borders.
            channels = rows.reshape(-1, rows.shape[-1]).astype(np.float64)
            mean = channels.mean(axis=0)
            variance = np.full_like(mean, np.mean((channels - mean) ** 2))
            if not variance[0] < _FLOAT32_MAX:
                raise ValueError(
                    f"X varies too widely (variance {variance[0]:.3g}) to be standardised "
                    "in float32, in which the network computes. Rescale X."
                )
        encoder = networks.assemble_encoder(
            self.network,
            self.input_shape_,
            int(self.n_components),
            normalize=self.normalize,
            mean=mean,
            variance=variance,
        )
        networks.reinitialize(encoder, seed)
        return encoder

    def _hold_out(self, rows, targets, seed, paired=False):
        """Split off ``validation_fraction`` of the data, stratified when possible.

        Returns ``rows, targets, (val_rows, val_targets)``. With ``paired``,
        ``targets`` label pairs of consecutive rows, and whole pairs are held
        out.
        """
        units = rows.reshape((len(targets), 2, *rows.shape[1:])) if paired else rows
        n_validation = int(np.ceil(self.validation_fraction * len(targets)))
        if len(targets) - n_validation < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} holds out {n_validation} of "
                f"{len(targets)} {'pairs' if paired else 'rows'}, leaving fewer than 2 to "
                "train on; lower it or set early_stopping=False."
            )
        _, counts = np.unique(targets, return_counts=True)
        stratify = targets if counts.min() >= 2 and n_validation >= len(counts) else None
        train_units, val_units, train_targets, val_targets = train_test_split(
            units, targets, test_size=n_validation, stratify=stratify, random_state=seed
        )
        if len(np.unique(train_targets)) < 2 or len(val_targets) < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves too few "
                f"{'pairs' if paired else 'rows'} to train and validate on; lower it "
                "or set early_stopping=False."
            )
        if paired:
            train_units = train_units.reshape((-1, *rows.shape[1:]))
            val_units = val_units.reshape((-1, *rows.shape[1:]))
        return train_units, train_targets, (val_units, val_targets)


def _flatten_rows(X):
    """Flatten rows of an n-d ``X`` to 2-D, returning the rows' shape too."""
    if isinstance(X, (list, tuple)):
        X = np.asarray(X)
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) > 2:
        row_shape = tuple(int(size) for size in shape[1:])
        return np.reshape(X, (shape[0], math.prod(row_shape))), row_shape
    return X, None


def _same_row_shape(given, expected):
    """Whether rows shaped ``given`` are ``expected``, up to one trailing channel axis."""
    return given in (expected, (*expected, 1)) or (*given, 1) == expected
