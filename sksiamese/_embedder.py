"""SiameseEmbedder: a scikit-learn transformer that learns a distance."""

import functools
import os
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import losses
from ._compat import Interval, StrOptions, _fit_context
from ._config import TrainingConfig
from ._encoder import INITS
from ._engine import plan_training, run_training
from ._evaluation import check_groups
from ._inference import EncoderRunner
from ._io import SaveMixin, register
from ._keras_io import model_from_bytes, model_to_bytes
from ._labels import check_label_types
from ._pairs import check_pair_labels, stack_pair_rows
from ._rows import check_disk_rows, is_disk_backed, row_checks, shaped_rows
from ._shapes import (
    check_image_options,
    check_test_time_shifts,
    flatten_rows,
    row_shape,
    same_row_shape,
    shift_offsets,
    training_rows,
)
from ._tensorflow import keras
from ._training import OPTIMIZERS
from .metrics import precision_at_1
from .networks import BUILT_IN

_SEED_LIMIT = 2**31 - 1


@register(
    required=("encoder_", "input_shape_", "n_features_in_", "history_", "n_iter_"),
    kinds={"encoder_": "keras_model", "input_shape_": "shape"},
    not_saved=("callbacks",),
)
class SiameseEmbedder(SaveMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
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
    network : {"mlp", "cnn"}, keras.Model or callable, default="mlp"
        The encoder. ``"mlp"``: a two-layer perceptron for tabular rows.
        ``"cnn"``: a convolutional network for images; needs ``input_shape``.
        A ``keras.Model`` (functional, Sequential, or subclassed with
        ``get_config``), such as a pretrained backbone from
        ``keras.applications``, maps rows to a vector each. A callable
        ``network(input_shape, n_components)`` returns such a model; define
        it at module level so the estimator can be pickled. The estimator
        never changes the model it is given: each fit trains a copy, made
        from the model's weights as they are when the fit starts. When the
        model's output size differs from ``n_components``, a trainable
        dense projection to ``n_components`` is appended. Layers with
        ``trainable=False`` stay frozen; frozen batch normalisation runs in
        inference mode. See ``init`` for the weights training starts from.

    input_shape : tuple of int, default=None
        Shape of one row, e.g. ``(28, 28, 1)`` for grayscale images. Rows of
        a 2-D ``X`` are reshaped to it; ``X`` shaped ``(n_samples,
        *input_shape)`` works as well. For ``network="cnn"`` a 2-tuple
        ``(height, width)`` means one channel. None takes the shape of ``X``,
        or that of a ``keras.Model`` network's input when ``X`` is 2-D.

    init : {"auto", "keep", "redraw"}, default="auto"
        The weights training starts from. ``"redraw"``: every weight is
        drawn afresh from its layer's initializer, seeded by
        ``random_state``. ``"keep"``: the network's weights as given. The
        default ``"auto"`` keeps the weights that were loaded or trained
        (a pretrained model or builder) and redraws, as ``"redraw"``
        does, those that still hold their initializer's own draw (a network
        built from scratch, as the built-in ones, or a new layer a builder
        puts on a pretrained backbone). The projection head is always drawn
        from ``random_state``. Reproducibility: with an int
        ``random_state``, a fit is bit-identical on CPU for the same data
        when every weight kept is the same at the start; redrawn weights
        are a function of ``random_state`` alone. Kept weights that a
        builder draws at random, unseeded (with ``"keep"``), differ from
        call to call.

    standardize : {"auto"} or bool, default="auto"
        Standardise rows before the network, with the training rows' mean
        per channel (last axis) and one common variance. ``"auto"``: for the
        built-in networks only; a ``keras.Model`` or a builder receives rows
        as given, and applies its own preprocessing (``keras.applications``
        models include theirs).

    n_components : int, default=32
        Size of the embedding.

    margin : float, default=0.5
        Margin of the triplet loss, in the unit of ``distance``. With
        ``normalize=True`` embeddings lie on the unit sphere: Euclidean
        distances are in [0, 2], squared Euclidean in [0, 4] and cosine
        distances (``1 - cos``) in [0, 2].

    loss : {"triplet", "contrastive"} or callable, default="triplet"
        Training objective. ``"triplet"``: the triplet margin loss
        ``max(d(a, p) - d(a, n) + margin, 0)`` over anchors, positives and
        negatives mined from each batch. ``"contrastive"``: pairs of the
        batch cost ``d**2`` when their classes match and ``max(margin - d,
        0)**2`` otherwise (Hadsell et al. 2006); it is the loss of
        :meth:`fit_pairs`, which trains on given pairs instead of classes.
        A callable ``loss(labels, embeddings)`` takes a batch's integer
        class codes, shape ``(batch,)``, and its float32 embeddings, shape
        ``(batch, n_components)``, and returns a scalar ``tf.Tensor`` to
        minimise; it does its own mining, so ``margin`` and ``mining`` do
        not apply to it (``distance`` still applies in :meth:`score`).

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
        Rows per batch. Under a ``tf.distribute`` strategy this is the
        global batch: each of the ``R`` replicas trains on its own batch of
        ``batch_size / R`` rows (rounded up) and their gradients are
        averaged. Every ``mining`` costs ``O(batch_size**2)`` memory, so
        batches of thousands of rows work too. The default suits data sets
        of tens to hundreds of classes; larger batches take fewer steps per
        epoch (the benchmarks' ``batchsize`` section measures accuracy on
        Omniglot per batch size). Raise it, with ``epochs``, on GPUs and
        for data with many classes.

    samples_per_class : int, default=4
        ``K``, rows of each class in a batch; a batch holds ``batch_size //
        K`` classes. When ``y`` has fewer classes, every batch holds all of
        them and ``K`` grows to fill the batch.

    augment : bool or None, default=None
        Light data augmentation of image rows in training: random shifts
        of up to 10% of the height and width, rotations of up to 10 degrees
        and zooms of up to 10%. Needs rows of shape ``(height, width,
        channels)``. None turns it on for ``network="cnn"`` only (the
        user guide quotes its effect on Omniglot). Turn it off for images
        whose position or orientation carries meaning.

    rotated_classes : bool or None, default=None
        Train on each class of square images as four classes: the class
        itself and its copies turned by 90, 180 and 270 degrees, each turn a
        class of its own that batches draw like the others (as Santoro et
        al. and Vinyals et al. enlarged Omniglot in 2016). Epochs keep their
        number of steps, so it costs no time, and ``classes_`` stays the
        classes of ``y``. Needs rows of shape ``(size, size, channels)``;
        :meth:`fit_pairs` and early stopping's held-out rows are not
        turned. None turns it on for ``network="cnn"`` with square rows; the
        user guide (:ref:`few_shot`) gives what it gained and lost on
        Omniglot splits (benchmarks, section ``defaults``). It assumes that
        a turned image belongs to no class of ``y``: set it to False where
        one can (a 6 turned upside down is a 9) or where orientation does
        not matter at all (texture patches, cell images).

    mirrored_classes : bool or None, default=None
        Train on each class of images also mirrored left to right, as a
        class of its own; with ``rotated_classes``, each turn of the class
        too, so every class is drawn as eight. Like ``rotated_classes``, it
        costs no time and leaves ``classes_`` as the classes of ``y``. Needs
        rows of shape ``(height, width, channels)``; :meth:`fit_pairs` and
        early stopping's held-out rows are not mirrored. None turns it on
        for ``network="cnn"``; the user guide (:ref:`few_shot_defaults`)
        gives what it gained on Omniglot splits. It assumes that a mirrored
        image belongs to no class of ``y``: set it to False where one can
        (a b mirrored is a d) or where a mirrored image is the same
        thing (faces, natural objects).

    test_time_shifts : int, default=0
        Test-time augmentation of image rows in :meth:`transform` (and so
        in ``score`` and the galleries and verifiers built on the
        embedder): each image is embedded as the mean of the embeddings of
        the image and of its copies shifted by 1 to ``test_time_shifts``
        pixels up, down, left and right (edge pixels repeated), normalised
        as one embedding is when ``normalize=True``. It costs ``1 + 4 *
        test_time_shifts`` passes of the encoder per row. Training and
        ``encoder_`` are unchanged, so it can be set after ``fit``. Needs
        rows of shape ``(height, width, channels)``. The user guide
        (:ref:`few_shot_levers`) gives what 1 gained on Omniglot's unseen
        alphabets, and why it is not on by default.

    learning_rate : float or "auto", default="auto"
        Step size of the optimizer given by name. ``"auto"``: 3e-3 for
        ``network="cnn"``, 1e-3 otherwise. A fit of the cnn takes few
        steps (40 epochs of a few thousand images are a few hundred), and
        the larger step learns more from them on Omniglot (benchmarks,
        section ``defaults``; figures in :ref:`few_shot`).

    optimizer : {"adam", "adamw", "rmsprop", "sgd"} or keras Optimizer, default="adam"
        A name, or a Keras optimizer instance that is copied for each fit
        (its own learning rate then applies).

    validation_fraction : float, default=0.1
        Proportion of the training data held out for early stopping: of the
        rows (stratified by class) with ``validation="rows"``, of the
        classes with ``validation="classes"``. Only used if
        ``early_stopping=True``.

    validation : {"rows", "classes"}, default="rows"
        What early stopping holds out and watches. ``"rows"``: rows of every
        class (pairs, in :meth:`fit_pairs`), scored by the loss,
        ``val_loss``; it tells when the network stops fitting the training
        classes better. ``"classes"``: whole classes, never trained on,
        scored by MAP@R (:func:`~sksiamese.metrics.mean_average_precision_at_r`)
        of their rows under ``distance``, ``val_map_at_r``; it tells when
        the embedding stops getting better on classes it has not seen, the
        measure of few-shot and retrieval work. Use ``"classes"`` when the
        embedding will meet new classes and ``y`` has many (tens or more),
        ``"rows"`` when it will embed the training classes again or ``y``
        has few. Held-out classes are drawn among those with two rows or
        more; at least two are held out, and two left to train on. With
        ``groups`` passed to :meth:`fit`, whole groups are held out instead
        (e.g. alphabets of characters).

    early_stopping : bool, default=False
        Stop when the validation score (see ``validation``) has not improved
        for ``n_iter_no_change`` epochs and restore the weights of the best
        epoch. Applies to :meth:`fit` and :meth:`fit_pairs`.

    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.

    callbacks : list of keras.callbacks.Callback, default=None
        Keras callbacks for training. They see a wrapper model as
        ``callback.model``; the encoder is ``callback.model.encoder``.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights redrawn (see ``init``), the batches and
        the validation split. An
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
        Folder where the estimator as fitted so far is saved after every
        epoch that ends with a finite loss, in one file
        (``sksiamese-checkpoint.zip``) replaced atomically, so a crash or an
        interrupt loses at most the epoch in progress. The file is in the
        format of :meth:`save`: :func:`sksiamese.load` reads it as a fitted
        estimator. With ``warm_start=True`` a new estimator (or a new
        process) resumes from it; otherwise a fit starts anew and
        overwrites it.

    precision : {"float32", "mixed", "mixed_float16", "mixed_bfloat16"}, default="float32"
        Arithmetic of the encoder. The mixed policies compute in 16 bits
        and keep float32 weights; input standardisation, the L2
        normalisation and the loss stay in float32. ``"mixed_float16"``
        suits NVIDIA GPUs and scales the loss so that small gradients do
        not underflow; ``"mixed_bfloat16"`` suits TPUs and CPUs with
        bfloat16 units. ``"mixed"`` picks float16 when TensorFlow sees a GPU
        and bfloat16 otherwise. Set when the encoder is built: warm starts
        and :meth:`partial_fit` keep the encoder's own precision. Needs a
        functional or Sequential ``network``.

    Attributes
    ----------
    encoder_ : keras.Model
        The trained encoder: input of shape ``input_shape_``, output the
        embedding.

    input_shape_ : tuple of int
        Shape of one row as the encoder sees it.

    history_ : dict of str to list of float
        Per-epoch ``loss``, and with early stopping the validation score,
        ``val_loss`` or ``val_map_at_r`` (see ``validation``), like Keras'
        ``History.history``.

    n_iter_ : int
        Number of epochs trained, across warm starts and calls of
        :meth:`partial_fit` (one epoch each).

    classes_ : ndarray of shape (n_classes,)
        Classes seen in the last :meth:`fit`, or in all calls of
        :meth:`partial_fit` since; not set by :meth:`fit_pairs`.

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
    ``transform`` returns embeddings in the precision of its input: float32
    rows give float32 embeddings, float64 rows float64 ones. The encoder
    computes in float32 (or the 16 bits of ``precision``) either way: rows
    are cast as they reach it, as Keras' ``predict`` casts them.

    Training that diverges (the loss turns NaN or infinite, e.g. with a far
    too large ``learning_rate``) stops at once; the encoder keeps the
    weights of the last epoch that ended with a finite loss and a
    ``ConvergenceWarning`` says so. A fit that ends with every training row
    embedded at one point, or with a loss that never moved, warns too. Data
    in which every class has a single row is refused: no batch could hold a
    positive pair. ``KeyboardInterrupt`` (Ctrl-C) during
    ``fit`` leaves a fitted estimator with the weights reached so far,
    warns, and is raised again.

    When the leading layers of the encoder are frozen (``trainable=False``,
    and no dropout or other randomness among them) and ``augment`` is off,
    their output is computed once per fit, ``batch_size`` rows at a time,
    and only the trainable rest trains on it, for the same result at a
    fraction of the cost per epoch; callbacks then see that rest as
    ``callback.model.encoder``. See the user guide's page on pretrained
    backbones.

    ``fit`` called inside a ``tf.distribute`` strategy's ``scope()`` builds
    and trains the encoder under that strategy (``MirroredStrategy``,
    ``MultiWorkerMirroredStrategy``); see ``batch_size``. Arrays
    memory-mapped from disk (``np.load(path, mmap_mode="r")``) are read in
    chunks and batches, never copied whole, by every method. Sparse rows
    (``scipy.sparse``, such as the output of ``TfidfVectorizer``) are
    accepted by :meth:`fit`, :meth:`partial_fit`, :meth:`transform` and
    :meth:`score`, and densified a batch or a chunk of rows at a time, never
    whole; :meth:`fit_pairs` takes dense pairs.

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
        "network": [StrOptions(set(BUILT_IN)), keras.Model, callable],
        "input_shape": [tuple, list, None],
        "init": [StrOptions(set(INITS))],
        "standardize": [StrOptions({"auto"}), "boolean"],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "margin": [Interval(Real, 0, None, closed="neither")],
        "loss": [StrOptions(set(losses.LOSSES)), callable],
        "mining": [StrOptions(set(losses.MININGS))],
        "distance": [StrOptions(set(losses.DISTANCES))],
        "normalize": ["boolean"],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "samples_per_class": [Interval(Integral, 2, None, closed="left")],
        "augment": ["boolean", None],
        "rotated_classes": ["boolean", None],
        "mirrored_classes": ["boolean", None],
        "test_time_shifts": [Interval(Integral, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "optimizer": [StrOptions(set(OPTIMIZERS)), keras.optimizers.Optimizer],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "validation": [StrOptions({"rows", "classes"})],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "checkpoint_dir": [str, os.PathLike, None],
        "precision": [StrOptions({"float32", "mixed", "mixed_float16", "mixed_bfloat16"})],
    }

    def __init__(
        self,
        network="mlp",
        input_shape=None,
        init="auto",
        standardize="auto",
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
        rotated_classes=None,
        mirrored_classes=None,
        test_time_shifts=0,
        learning_rate="auto",
        optimizer="adam",
        validation_fraction=0.1,
        validation="rows",
        early_stopping=False,
        n_iter_no_change=5,
        callbacks=None,
        random_state=None,
        verbose=0,
        warm_start=False,
        checkpoint_dir=None,
        precision="float32",
    ):
        self.network = network
        self.input_shape = input_shape
        self.init = init
        self.standardize = standardize
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
        self.rotated_classes = rotated_classes
        self.mirrored_classes = mirrored_classes
        self.test_time_shifts = test_time_shifts
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.validation_fraction = validation_fraction
        self.validation = validation
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.precision = precision

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None):
        """Train the encoder on rows ``X`` labelled ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or ``(n_samples, *input_shape)``
            Training rows.
        y : array-like of shape (n_samples,)
            Class labels, at least two classes.
        groups : array-like of shape (n_samples,), default=None
            Group of each row, the same for all rows of a class: the
            alphabet of each Omniglot character, the speaker of each
            recording. With ``early_stopping=True`` and
            ``validation="classes"``, ``validation_fraction`` of the groups
            is held out whole, so that early stopping scores classes of
            groups never trained on. Not used otherwise.

        Returns
        -------
        self : SiameseEmbedder
            The fitted estimator.
        """
        return self._fit_with(self._validate_training_data, (X, y), groups=groups)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y):
        """Train on one chunk of a stream: one pass over ``X``, continuing the encoder.

        The first call builds the encoder, standardising inputs with the
        statistics of that first chunk (or, with ``warm_start=True``,
        resumes from the checkpoint in ``checkpoint_dir``); every call then
        trains one epoch on its chunk and appends it to ``history_``;
        ``epochs`` and early stopping do not apply. The optimizer's state
        carries over from call to call within a session. Chunks must keep
        the row shape; each needs at least two classes, and ``classes_``
        gathers those seen so far. Chunks may be memory-mapped from disk.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or ``(n_samples, *input_shape)``
            Training rows of this chunk.
        y : array-like of shape (n_samples,)
            Their class labels.

        Returns
        -------
        self : SiameseEmbedder
            The estimator, trained one epoch further.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_digits
        >>> from sksiamese import SiameseEmbedder
        >>> X, y = load_digits(return_X_y=True)
        >>> embedder = SiameseEmbedder(n_components=16, random_state=0)
        >>> for chunk in np.array_split(np.arange(len(X)), 4):
        ...     embedder = embedder.partial_fit(X[chunk], y[chunk])
        >>> embedder.n_iter_
        4
        """
        return self._fit_with(self._validate_training_data, (X, y), incremental=True)

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
        return self._fit_with(self._validate_pair_data, (pairs, same), paired=True)

    def _fit_with(self, validate, data, *, groups=None, paired=False, incremental=False):
        """Validate ``data``, train on it, then set every fitted attribute at once.

        ``validate(*data, reset=...)`` returns the validated rows, flat, the
        shape of one row of an n-d input (or None), their targets (class
        labels, or with ``paired`` the labels of pairs of consecutive rows,
        so that early stopping holds out whole pairs) and the fitted
        attributes the data settle. With ``incremental``
        (:meth:`partial_fit`) a fitted encoder is always continued and one
        epoch is trained. Nothing is set before training has succeeded, so a
        rejected or failed call leaves the estimator as it was.
        """
        continuing = hasattr(self, "encoder_") and (incremental or self.warm_start)
        # partial_fit keeps what the first chunk set (n_features_in_, feature
        # names, classes_) and checks later chunks against it; fit resets it.
        reset = not (incremental and continuing)
        X, nd_shape, targets, fitted = validate(*data, reset=reset)
        rows, config = self._training_setup(
            X, nd_shape, continuing=continuing, paired=paired, incremental=incremental
        )
        fitted["input_shape_"] = config.encoder.input_shape
        if groups is not None:
            groups = check_groups(groups, targets)
        carried = getattr(self, "_optimizer", None) if incremental else None
        plan = plan_training(
            config,
            rows,
            targets,
            seeds=self._seeds(incremental),
            snapshot=functools.partial(self._snapshot, fitted),
            continued=(self.encoder_, self.history_, carried) if continuing else None,
            groups=groups,
        )
        result = run_training(plan)
        self._set_fitted(
            **fitted,
            encoder_=result.encoder,
            history_=result.history,
            n_iter_=result.n_iter,
            _runner=result.runner,
            # partial_fit carries the optimizer's state over to the next chunk.
            _optimizer=result.optimizer if incremental else None,
        )
        self._report(result)
        return self

    def _training_setup(self, X, nd_shape, *, continuing, paired, incremental):
        """The rows as the encoder trains on them, and the call's training configuration.

        Checks that the rows suit the parameters, and a continued encoder.
        """
        if is_disk_backed(X):
            check_disk_rows(X)
        input_shape = row_shape(
            X.shape[1], nd_shape, input_shape=self.input_shape, network=self.network
        )
        config = TrainingConfig.from_params(
            self.get_params(deep=False),
            input_shape=input_shape,
            paired=paired,
            incremental=incremental,
        )
        check_image_options(
            input_shape,
            augment=config.augment,
            rotated_classes=self.rotated_classes,
            mirrored_classes=self.mirrored_classes,
        )
        check_test_time_shifts(input_shape, self.test_time_shifts)
        if continuing and self.encoder_.input_shape[1:] != input_shape:
            raise ValueError(
                "warm_start=True and partial_fit continue an encoder for rows of shape "
                f"{self.encoder_.input_shape[1:]}; these rows have shape {input_shape}."
            )
        return training_rows(X, input_shape), config

    def _snapshot(self, fitted, encoder, history):
        """The estimator as fitted with ``encoder`` after the epochs of ``history``.

        A checkpoint saves it, so that ``sksiamese.load`` reads the last
        checkpoint of an interrupted fit as a fitted estimator. It shares the
        parameters' objects (nothing is copied) and holds no runtime state;
        without an ``encoder`` it is unfitted.
        """
        snapshot = type(self)(**self.get_params(deep=False))
        if encoder is not None:
            snapshot._set_fitted(
                **fitted, encoder_=encoder, history_=history, n_iter_=len(history.get("loss", []))
            )
        return snapshot

    def _set_fitted(self, **attributes):
        """Set the fitted attributes of one fit together; None removes one."""
        for name, value in attributes.items():
            if value is None:
                self.__dict__.pop(name, None)
            else:
                setattr(self, name, value)

    def _seeds(self, incremental):
        """Seeds of the initial weights, the batches, the validation split and augmentation.

        Each :meth:`partial_fit` call with an int ``random_state`` draws
        from its own stream, keyed by the epochs trained so far, so a
        stream of chunks trains reproducibly.
        """
        rng = check_random_state(self.random_state)
        if incremental and isinstance(self.random_state, Integral):
            rng = np.random.RandomState([int(self.random_state), getattr(self, "n_iter_", 0)])
        return rng.randint(_SEED_LIMIT - 3, size=4)

    def _report(self, result):
        """Warn of what the engine found wrong with the fit; raise an interrupt again."""
        for diagnostic in result.diagnostics:
            warnings.warn(diagnostic.message, diagnostic.category, stacklevel=5)
        if result.interrupted:
            raise KeyboardInterrupt

    def transform(self, X):
        """Embed rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or ``(n_samples, *input_shape_)``
            Rows to embed.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Embeddings, float32 for float32 rows and float64 otherwise.
        """
        check_is_fitted(self)
        # Set after fit, it is checked here, before any row is read.
        check_test_time_shifts(self.input_shape_, self.test_time_shifts)
        rows = self._validate_rows(X)
        # Rows memory-mapped from disk keep their dtype until read: integers
        # are embedded in float64, as scikit-learn converts them.
        dtype = rows.dtype if rows.dtype in (np.float32, np.float64) else np.float64
        embedded = self._runner(rows, dtype, shifts=shift_offsets(self.test_time_shifts))
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
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or ``(n_samples, *input_shape_)``
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
        tags.input_tags.sparse = True
        return tags

    @property
    def _n_features_out(self):
        """Number of transformed output features."""
        return self.encoder_.output_shape[-1]

    def __sklearn_clone__(self):
        # Clones share a keras.Model network instead of deep-copying it: no
        # fit changes it (each trains a copy), and a deep copy would go
        # through a .keras archive, slow for a large backbone and impossible
        # for a subclassed model that Keras cannot rebuild from its name.
        if not isinstance(self.network, keras.Model):
            return super().__sklearn_clone__()
        stand_in = object.__new__(type(self))
        stand_in.__dict__.update(self.__dict__, network=None)
        clone = stand_in.__sklearn_clone__()
        clone.network = self.network
        return clone

    def __getstate__(self):
        # Copy: object.__getstate__ may hand back the live __dict__ itself.
        state = dict(super().__getstate__())
        state.pop("_runner", None)
        state.pop("_optimizer", None)
        if "encoder_" in state:
            state["encoder_"] = model_to_bytes(state["encoder_"])
        return state

    def __setstate__(self, state):
        # Pickle hands the encoder over as a .keras archive; sksiamese.load as
        # the model it has already loaded.
        if isinstance(state.get("encoder_"), bytes):
            state = dict(state)
            state["encoder_"] = model_from_bytes(state["encoder_"])
        super().__setstate__(state)
        if "encoder_" in state:
            self._runner = EncoderRunner(self.encoder_)

    # Validation -----------------------------------------------------------

    def _validate_training_data(self, X, y, *, reset):
        check_label_types(y, self)
        X, nd_shape = flatten_rows(X)
        (X, y), fitted = self._validated(X, y, ensure_min_samples=2, reset=reset)
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                "SiameseEmbedder needs samples of at least 2 classes to learn a "
                f"distance; y holds one class ({classes[0]!r})."
            )
        if not reset and hasattr(self, "classes_"):
            classes = np.union1d(self.classes_, classes)
        fitted["classes_"] = classes
        return X, nd_shape, y, fitted

    def _validated(self, *data, reset, **checks):
        """``validate_data(self, *data)``, and the fitted attributes it records.

        ``validate_data`` records ``n_features_in_`` and the feature names
        on the estimator it checks for; here that is a stand-in, so that the
        estimator takes them only once training has succeeded.
        """
        stand_in = object.__new__(type(self))
        stand_in.__dict__.update(self.__dict__)
        validated = validate_data(stand_in, *data, reset=reset, **row_checks(data[0]), **checks)
        recorded = {
            name: getattr(stand_in, name, None) for name in ("n_features_in_", "feature_names_in_")
        }
        return validated, recorded

    def _validate_pair_data(self, pairs, same, *, reset):
        if self.loss != "contrastive":
            raise ValueError(
                "fit_pairs trains with the contrastive loss; set loss='contrastive' "
                f"(got loss={self.loss!r})."
            )
        rows = stack_pair_rows(pairs)
        codes, _ = check_pair_labels(same, len(rows) // 2)
        X, nd_shape = flatten_rows(rows)
        X, fitted = self._validated(X, ensure_min_samples=2, reset=reset)
        # Pairs carry no classes; an earlier fit's are dropped.
        fitted["classes_"] = None
        return X, nd_shape, codes, fitted

    def _validate_rows(self, X):
        X, nd_shape = flatten_rows(X)
        if nd_shape is not None and not same_row_shape(nd_shape, self.input_shape_):
            raise ValueError(
                f"X has rows of shape {nd_shape}; the encoder takes {self.input_shape_}."
            )
        X = validate_data(self, X, reset=False, **row_checks(X))
        if is_disk_backed(X):
            check_disk_rows(X)
        return shaped_rows(X, self.input_shape_)
