"""Data sets and pair/triplet samplers for few-shot and metric learning.

:func:`make_pairs`
    Random labelled pairs ``(pairs, same)`` from a labelled data set, for
    contrastive losses or pair classifiers.
:func:`make_triplets`
    Random ``(anchor, positive, negative)`` triplets from a labelled data set.
:func:`load_omniglot`
    Load the Omniglot characters of 8 alphabets bundled with the package, in
    two sets of 5 (no download): a few-shot benchmark to split by alphabet.
:func:`load_omniglot_zip`
    Read an Omniglot zip, in the published layout, into arrays.
:func:`fetch_omniglot`
    Download (or find a local copy of) an Omniglot subset, verify its MD5
    checksum, cache it and load it with :func:`load_omniglot_zip`.

The samplers draw classes uniformly, not rows: on imbalanced data a large
class is as likely to be picked as a small one.
"""

import hashlib
import importlib.resources
import logging
import re
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.datasets import get_data_home
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ._io._atomic import replacing

__all__ = ["fetch_omniglot", "load_omniglot", "load_omniglot_zip", "make_pairs", "make_triplets"]

logger = logging.getLogger(__name__)

# <root>/<alphabet>/<character>/<image id>_<drawer>.png
_OMNIGLOT_MEMBER = re.compile(
    r"^[^/]+/(?P<alphabet>[^/]+)/(?P<character>[^/]+)/[^/]+_(?P<drawer>\d+)\.png$"
)


# Pairs and triplets -----------------------------------------------------------


class _ClassIndex:
    """Rows grouped by class, to draw rows of given classes vectorised.

    ``order[starts[c]:starts[c] + counts[c]]`` are the rows of class ``c``.
    """

    def __init__(self, codes, n_classes):
        self.counts = np.bincount(codes, minlength=n_classes)
        self.order = np.argsort(codes, kind="stable")
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])

    def rows(self, classes, rng):
        """One row of each of ``classes``, uniformly within its class."""
        return self.order[self.starts[classes] + rng.randint(self.counts[classes])]

    def two_distinct_rows(self, classes, rng):
        """Two distinct rows of each of ``classes`` (each with >= 2 rows)."""
        counts = self.counts[classes]
        first = rng.randint(counts)
        second = rng.randint(counts - 1)
        second += second >= first  # skip ``first``: uniform over the others
        starts = self.starts[classes]
        return self.order[starts + first], self.order[starts + second]


def _other_classes(classes, n_classes, rng):
    """For each of ``classes``, a different class drawn uniformly."""
    others = rng.randint(n_classes - 1, size=len(classes))
    return others + (others >= classes)


def _check_samples(X, y, n, name, caller):
    """Validate ``X``, ``y`` and the number of samples to draw."""
    X = np.asarray(X)
    if X.ndim == 0:
        raise ValueError(f"{caller} needs X of shape (n_samples, ...); got a scalar.")
    y = column_or_1d(y)
    if len(X) != len(y):
        raise ValueError(
            f"X and y must have the same length; X has {len(X)} rows and y has {len(y)} labels."
        )
    check_classification_targets(y)
    if n is None:
        n = len(X)
    elif isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"{name} must be an integer >= 1 or None; got {n!r}.")
    classes, codes = np.unique(y, return_inverse=True)
    return X, classes, codes.reshape(-1), int(n)


def _too_few_classes(caller, what, classes):
    held = "no classes" if len(classes) == 0 else f"one class ({classes.tolist()[0]!r})"
    return ValueError(
        f"{caller} needs samples of at least 2 classes to draw {what}; y holds {held}."
    )


def _no_class_with_two_rows(caller, what):
    return ValueError(
        f"{caller} needs a class with at least 2 samples to draw {what}; "
        "every class in y has a single sample."
    )


def make_pairs(
    X, y, n_pairs=None, *, positive_fraction=0.5, return_indices=False, random_state=None
):
    """Draw random pairs of rows labelled same class (1) or different (0).

    Pairs train contrastive losses and pair classifiers, and evaluate
    verification ("are these two the same?"). Classes are drawn uniformly,
    not rows, so that on imbalanced data the big classes do not dominate: a
    positive pair picks a class uniformly among those with at least 2
    samples, then two distinct rows of it; a negative pair picks two
    distinct classes uniformly, then a row of each.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Rows of any shape, e.g. ``(n_samples, n_features)`` or images
        ``(n_samples, height, width, channels)``. Lists and DataFrames are
        converted with :func:`numpy.asarray`.
    y : array-like of shape (n_samples,)
        Class labels of any type (ints, strings, ...).
    n_pairs : int, default=None
        Number of pairs. None draws ``len(X)`` pairs.
    positive_fraction : float, default=0.5
        Proportion of positive (same class) pairs: exactly
        ``round(n_pairs * positive_fraction)`` pairs are positive. The
        default balances positives and negatives.
    return_indices : bool, default=False
        Return indices into ``X`` instead of its rows. This avoids copying
        ``2 * n_pairs`` rows, which matters for large data such as images.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws; an int gives the same pairs at every call.

    Returns
    -------
    pairs : ndarray of shape ``(n_pairs, 2, *X.shape[1:])``
        The rows of each pair, in the dtype of ``X`` (the layout used by
        metric-learn's pair learners). With ``return_indices=True``, an int
        array of shape ``(n_pairs, 2)`` of row indices into ``X`` instead.
    same : ndarray of shape (n_pairs,)
        Int array: 1 where both rows have the same class, 0 otherwise.
        Positive and negative pairs come in random order.

    Raises
    ------
    ValueError
        If ``X`` and ``y`` differ in length, ``n_pairs < 1``,
        ``positive_fraction`` is outside [0, 1], negative pairs are asked for
        but ``y`` holds fewer than 2 classes, or positive pairs are asked for
        but no class has 2 samples.

    See Also
    --------
    make_triplets : Draw (anchor, positive, negative) triplets.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.datasets import make_pairs
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> y = np.array(["a", "a", "a", "b", "b", "c"])
    >>> pairs, same = make_pairs(X, y, n_pairs=8, random_state=0)
    >>> pairs.shape, pairs.dtype
    ((8, 2, 2), dtype('float64'))
    >>> int(same.sum())
    4
    >>> indices, same = make_pairs(X, y, n_pairs=8, return_indices=True, random_state=0)
    >>> indices.shape
    (8, 2)
    >>> bool(np.all((y[indices[:, 0]] == y[indices[:, 1]]) == same))
    True
    """
    caller = "make_pairs"
    X, classes, codes, n_pairs = _check_samples(X, y, n_pairs, "n_pairs", caller)
    if (
        isinstance(positive_fraction, bool)
        or not isinstance(positive_fraction, Real)
        or not 0 <= positive_fraction <= 1
    ):
        raise ValueError(
            f"positive_fraction must be a number in [0, 1]; got {positive_fraction!r}."
        )
    n_positive = int(round(n_pairs * positive_fraction))
    n_negative = n_pairs - n_positive
    n_classes = len(classes)
    if n_negative and n_classes < 2:
        raise _too_few_classes(caller, "negative pairs", classes)
    index = _ClassIndex(codes, n_classes)
    eligible = np.flatnonzero(index.counts >= 2)
    if n_positive and not len(eligible):
        raise _no_class_with_two_rows(caller, "positive pairs")

    rng = check_random_state(random_state)
    indices = np.empty((n_pairs, 2), dtype=np.int64)
    if n_positive:
        positive_classes = eligible[rng.randint(len(eligible), size=n_positive)]
        indices[:n_positive, 0], indices[:n_positive, 1] = index.two_distinct_rows(
            positive_classes, rng
        )
    if n_negative:
        first = rng.randint(n_classes, size=n_negative)
        second = _other_classes(first, n_classes, rng)
        indices[n_positive:, 0] = index.rows(first, rng)
        indices[n_positive:, 1] = index.rows(second, rng)
    same = np.zeros(n_pairs, dtype=np.int64)
    same[:n_positive] = 1
    shuffle = rng.permutation(n_pairs)
    indices, same = indices[shuffle], same[shuffle]
    if return_indices:
        return indices, same
    return X[indices], same


def make_triplets(X, y, n_triplets=None, *, return_indices=False, random_state=None):
    """Draw random (anchor, positive, negative) triplets of rows.

    Triplets train triplet-loss networks: the anchor and the positive share
    a class, the negative has another. Classes are drawn uniformly, not
    rows, so that on imbalanced data the big classes do not dominate: the
    anchor's class is uniform among the classes with at least 2 samples, the
    anchor and the positive are two distinct rows of it, and the negative is
    a row of a class drawn uniformly among the other classes.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Rows of any shape, e.g. ``(n_samples, n_features)`` or images
        ``(n_samples, height, width, channels)``. Lists and DataFrames are
        converted with :func:`numpy.asarray`.
    y : array-like of shape (n_samples,)
        Class labels of any type (ints, strings, ...).
    n_triplets : int, default=None
        Number of triplets. None draws ``len(X)`` triplets.
    return_indices : bool, default=False
        Return indices into ``X`` instead of its rows. This avoids copying
        ``3 * n_triplets`` rows, which matters for large data such as images.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws; an int gives the same triplets at every call.

    Returns
    -------
    triplets : ndarray of shape ``(n_triplets, 3, *X.shape[1:])``
        Anchor, positive and negative rows, in the dtype of ``X``. With
        ``return_indices=True``, an int array of shape ``(n_triplets, 3)``
        of row indices into ``X`` instead.

    Raises
    ------
    ValueError
        If ``X`` and ``y`` differ in length, ``n_triplets < 1``, ``y`` holds
        fewer than 2 classes or no class has 2 samples.

    See Also
    --------
    make_pairs : Draw pairs labelled same or different class.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.datasets import make_triplets
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> y = np.array([0, 0, 0, 1, 1, 2])
    >>> make_triplets(X, y, n_triplets=5, random_state=0).shape
    (5, 3, 2)
    >>> t = make_triplets(X, y, n_triplets=5, return_indices=True, random_state=0)
    >>> bool(np.all((y[t[:, 0]] == y[t[:, 1]]) & (y[t[:, 0]] != y[t[:, 2]])))
    True
    """
    caller = "make_triplets"
    X, classes, codes, n_triplets = _check_samples(X, y, n_triplets, "n_triplets", caller)
    n_classes = len(classes)
    if n_classes < 2:
        raise _too_few_classes(caller, "triplets", classes)
    index = _ClassIndex(codes, n_classes)
    eligible = np.flatnonzero(index.counts >= 2)
    if not len(eligible):
        raise _no_class_with_two_rows(caller, "triplets")

    rng = check_random_state(random_state)
    anchor_classes = eligible[rng.randint(len(eligible), size=n_triplets)]
    indices = np.empty((n_triplets, 3), dtype=np.int64)
    indices[:, 0], indices[:, 1] = index.two_distinct_rows(anchor_classes, rng)
    indices[:, 2] = index.rows(_other_classes(anchor_classes, n_classes, rng), rng)
    if return_indices:
        return indices
    return X[indices]


# Omniglot -------------------------------------------------------------------


def load_omniglot_zip(path, *, image_size=28):
    """Read an Omniglot zip, as published, into arrays.

    The archive holds ``<root>/<alphabet>/<character>/<id>_<drawer>.png``,
    black ink on white, 105x105 pixels (Lake et al. 2015).

    Parameters
    ----------
    path : str or path-like
        The zip file, e.g. ``images_background_small1.zip``.
    image_size : int, default=28
        Images are resized to ``image_size x image_size`` by area averaging.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images``: float32 array ``(n, image_size, image_size, 1)``, ink 1
        and paper 0. ``target``: int array, the character of each image.
        ``target_names``: ``"alphabet/character"`` for each target value.
        ``alphabet``: the alphabet of each image. ``drawer``: int, who drew it.
    """
    # Imported here, not with the module: only decoding the PNGs needs
    # TensorFlow, so load_omniglot and the samplers work without it.
    from ._tensorflow import tf

    images, characters, alphabets, drawers = [], [], [], []
    with zipfile.ZipFile(path) as archive:
        for name in sorted(archive.namelist()):
            match = _OMNIGLOT_MEMBER.match(name)
            if match is None:
                continue
            pixels = tf.io.decode_png(archive.read(name), channels=1)
            resized = tf.image.resize(
                tf.cast(pixels, tf.float32) / 255.0, (image_size, image_size), method="area"
            )
            images.append(1.0 - resized.numpy())
            alphabets.append(match["alphabet"])
            characters.append(f"{match['alphabet']}/{match['character']}")
            drawers.append(int(match["drawer"]))
    if not images:
        raise ValueError(f"{path} holds no <root>/<alphabet>/<character>/<id>_<drawer>.png images.")
    target_names, target = np.unique(characters, return_inverse=True)
    return Bunch(
        images=np.stack(images).astype(np.float32),
        target=target,
        target_names=target_names,
        alphabet=np.array(alphabets),
        drawer=np.array(drawers),
    )


@dataclass(frozen=True)
class _RemoteFile:
    """A published file: its name in the cache, where to get it, its MD5."""

    filename: str
    url: str
    md5: str


_OMNIGLOT_URL = "https://github.com/brendenlake/omniglot/raw/master/python/"

# Brenden Lake's repository. "images_background_small2.zip" is left out: no
# published checksum is known for it.
_OMNIGLOT_FILES = {
    # 964 characters from 30 alphabets
    "background": _RemoteFile(
        "images_background.zip",
        _OMNIGLOT_URL + "images_background.zip",
        "68d2efa1b9178cc56df9314c21c6e718",
    ),
    # 659 characters from 20 alphabets
    "evaluation": _RemoteFile(
        "images_evaluation.zip",
        _OMNIGLOT_URL + "images_evaluation.zip",
        "6b91aef0f799c5bb55b94e3f2daec811",
    ),
    # 136 characters from 5 alphabets
    "background_small1": _RemoteFile(
        "images_background_small1.zip",
        _OMNIGLOT_URL + "images_background_small1.zip",
        "e704a628b5459e08445c13499850abc4",
    ),
}


@dataclass(frozen=True)
class _BundledSet:
    """A published Omniglot zip and its converted copy in ``sksiamese/data/``."""

    md5: str  # of the zip the copy is converted from
    filename: str
    descr: str


# Omniglot's "background small" sets, bundled; load_omniglot(subset="both")
# joins them.
_BUNDLED_SETS = {
    "small1": _BundledSet(
        _OMNIGLOT_FILES["background_small1"].md5,
        "omniglot_small1.npz",
        "omniglot_small1.rst",
    ),
    # No checksum is published for this zip: this is the MD5 of the copy of
    # python/images_background_small2.zip the bundled file was converted from.
    "small2": _BundledSet(
        "b75a71a51d3b13f821f212756fe481fd",
        "omniglot_small2.npz",
        "omniglot_small2.rst",
    ),
}
_BOTH_DESCR = "omniglot_both.rst"


def _bundle_omniglot(subset, zip_path, destination):
    """Convert a published "background small" zip into its bundled file.

    This builds ``sksiamese/data/omniglot_small1.npz`` and
    ``omniglot_small2.npz``, which :func:`load_omniglot` reads; run it again
    only if the conversion changes::

        from sksiamese.datasets import _bundle_omniglot
        _bundle_omniglot("small2", "images_background_small2.zip", "sksiamese/data/omniglot_small2.npz")

    The zip must be the one the bundled file comes from (its MD5 is
    checked). The images are read by :func:`load_omniglot_zip` at 28x28 and
    stored as 8-bit integers (ink 255), which round each pixel by at most
    1/510.
    """
    expected = _BUNDLED_SETS[subset].md5
    checksum = _md5(zip_path)
    if checksum != expected:
        raise ValueError(f"{zip_path} has MD5 checksum {checksum}, expected {expected}.")
    data = load_omniglot_zip(zip_path)
    with replacing(destination) as file:
        np.savez_compressed(
            file,
            images=np.round(data.images[..., 0] * 255).astype(np.uint8),
            target=data.target.astype(np.uint8),
            target_names=data.target_names,
            drawer=data.drawer.astype(np.uint8),
        )


def _read_omniglot_bundle(file):
    """The arrays of a file written by :func:`_bundle_omniglot`.

    Each row's alphabet is the first part of its character's name,
    ``"<alphabet>/<character>"``.
    """
    with np.load(file, allow_pickle=False) as bundle:
        images = bundle["images"].astype(np.float32) / np.float32(255)
        target = bundle["target"].astype(int)
        target_names = bundle["target_names"]
        drawer = bundle["drawer"].astype(int)
    alphabet_of_target = np.array([name.split("/")[0] for name in target_names])
    return Bunch(
        images=images,
        data=images.reshape(len(images), -1),
        target=target,
        target_names=target_names,
        alphabet=alphabet_of_target[target],
        drawer=drawer,
    )


def _join_omniglot_sets(first, second):
    """The images of two bundled sets, each image once, labelled as one set.

    An image is keyed by its character's name and its drawer: the two
    "background small" sets hold the same Greek and Latin characters under
    the same names, drawn by the same people in the same byte-identical
    files, so a key held by both sets is one image, kept once. The rows come
    in the order of each set's own: by character name, then drawer.
    """
    names = np.concatenate([first.target_names[first.target], second.target_names[second.target]])
    drawer = np.concatenate([first.drawer, second.drawer])
    target_names, target = np.unique(names, return_inverse=True)
    # np.unique sorts the keys, by character then drawer, and returns the
    # first row of each: a key of both sets keeps its row of ``first``.
    _, rows = np.unique(target * (drawer.max() + 1) + drawer, return_index=True)
    images = np.concatenate([first.images, second.images])[rows]
    alphabet = np.concatenate([first.alphabet, second.alphabet])
    return Bunch(
        images=images,
        data=images.reshape(len(images), -1),
        target=target[rows],
        target_names=target_names,
        alphabet=alphabet[rows],
        drawer=drawer[rows],
    )


def _bundled_file(filename):
    """A file of ``sksiamese/data/``, where the package is installed."""
    return importlib.resources.files(__package__) / "data" / filename


def _read_bundled_set(subset):
    with _bundled_file(_BUNDLED_SETS[subset].filename).open("rb") as file:
        return _read_omniglot_bundle(file)


_OMNIGLOT_SUBSETS = ("small1", "small2", "both")


def load_omniglot(*, subset="small1", return_X_y=False):
    """Load the Omniglot characters that come with the package.

    Hand-drawn characters for few-shot learning, bundled like scikit-learn's
    :func:`~sklearn.datasets.load_digits`: nothing is downloaded. These are
    the two "background small" subsets of Omniglot (Lake et al. 2015),
    reduced to 28x28 pixels, alone or together. Split them by alphabet
    (``groups=alphabet``): train on some alphabets, recognise the characters
    of the others from one or a few examples each.

    =================  ==============  ==============  ==============
    ``subset``         ``"small1"``    ``"small2"``    ``"both"``
    =================  ==============  ==============  ==============
    Classes            136 characters  156 characters  242 characters
    Alphabets          5               5               8
    Samples per class  20              20              20
    Samples total      2,720           3,120           4,840
    =================  ==============  ==============  ==============

    Each character is drawn once by each of 20 people. Every sample is a
    28x28 image (784 features), float32 in [0, 1], ink 1 and paper 0.

    ``"small1"`` holds Balinese, Early_Aramaic, Greek, Korean and Latin;
    ``"small2"`` holds Greek, Japanese_(katakana), Latin, Sanskrit and
    Tagalog. Greek and Latin are in both, and they are the same data: the
    same 50 characters under the same names (``Greek/character01`` is
    Omniglot's character 0394 in both zips), drawn by the same 20 people,
    the 1,000 image files identical byte for byte. ``"both"`` therefore
    holds each of those images once, and each of those characters is one
    class with one alphabet name: split by alphabet, a Greek character is
    never on both sides.

    The default, ``"small1"``, is what this function loaded before
    ``subset`` existed, so that code written for it gets the same data; use
    ``"both"`` to train on as many alphabets as possible.

    The data take 0.33 MB (``"small1"``) and 0.40 MB (``"small2"``) in the
    installed package (compressed ``.npz`` files) and 8.5, 9.8 and 15.2 MB of
    memory once loaded. They are shared under the MIT licence of the
    Omniglot repository (https://github.com/brendenlake/omniglot), whose text
    is installed beside them, in ``sksiamese/data/``.
    :func:`fetch_omniglot` downloads the full background and evaluation sets.

    Parameters
    ----------
    subset : {"small1", "small2", "both"}, default="small1"
        Which bundled set to load: "background small 1", "background small
        2", or the two together, each image once.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes (shapes for
        ``subset="small1"``; ``n_samples`` and ``n_classes`` as tabled above
        for the others).

        data : ndarray of shape (2720, 784)
            The images, flattened: one row per image, float32.
        target : ndarray of shape (2720,)
            The character of each image, an int in ``[0, 136)``.
        target_names : ndarray of shape (136,)
            The name of each character, ``"<alphabet>/<character>"``, sorted.
        images : ndarray of shape (2720, 28, 28)
            The images, float32 in [0, 1]: ink 1, paper 0.
        alphabet : ndarray of shape (2720,)
            The alphabet of each image (``"Balinese"``, ``"Early_Aramaic"``,
            ``"Greek"``, ``"Korean"`` or ``"Latin"``), for ``groups`` in
            scikit-learn's group splitters and in
            :func:`sksiamese.metrics.few_shot_accuracy`.
        drawer : ndarray of shape (2720,)
            Who drew each image, an int in ``[1, 20]``.
        DESCR : str
            The full description of the data set.

    (data, target) : tuple if ``return_X_y`` is True
        The ``data`` and ``target`` arrays described above.

    Raises
    ------
    ValueError
        If ``subset`` is not one of "small1", "small2" and "both".
    TypeError
        If ``return_X_y`` is not a bool.

    See Also
    --------
    fetch_omniglot : Download the full Omniglot sets.

    References
    ----------
    .. [1] B. M. Lake, R. Salakhutdinov and J. B. Tenenbaum, "Human-level
       concept learning through probabilistic program induction", Science
       350(6266), 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.datasets import load_omniglot
    >>> omniglot = load_omniglot()
    >>> omniglot.images.shape, omniglot.data.shape
    ((2720, 28, 28), (2720, 784))
    >>> print(omniglot.target_names[omniglot.target[0]])
    Balinese/character01
    >>> print(np.unique(omniglot.alphabet))
    ['Balinese' 'Early_Aramaic' 'Greek' 'Korean' 'Latin']

    Hold out whole alphabets, so that the test characters are never seen:

    >>> from sklearn.model_selection import LeaveOneGroupOut
    >>> LeaveOneGroupOut().get_n_splits(groups=omniglot.alphabet)
    5
    >>> X, y = load_omniglot(return_X_y=True)
    >>> X.dtype, len(set(y))
    (dtype('float32'), 136)

    Both sets give 8 alphabets, Greek and Latin once each:

    >>> both = load_omniglot(subset="both")
    >>> both.data.shape, len(both.target_names)
    ((4840, 784), 242)
    >>> print(np.unique(both.alphabet))
    ['Balinese' 'Early_Aramaic' 'Greek' 'Japanese_(katakana)' 'Korean' 'Latin'
     'Sanskrit' 'Tagalog']
    """
    if not isinstance(subset, str) or subset not in _OMNIGLOT_SUBSETS:
        raise ValueError(
            f"subset must be one of {', '.join(map(repr, _OMNIGLOT_SUBSETS))}; got {subset!r}."
        )
    if not isinstance(return_X_y, (bool, np.bool_)):
        raise TypeError(f"return_X_y must be a bool; got {return_X_y!r}.")
    if subset == "both":
        data = _join_omniglot_sets(_read_bundled_set("small1"), _read_bundled_set("small2"))
        descr = _BOTH_DESCR
    else:
        data = _read_bundled_set(subset)
        descr = _BUNDLED_SETS[subset].descr
    if return_X_y:
        return data.data, data.target
    data.DESCR = _bundled_file(descr).read_text(encoding="utf-8")
    return data


_CHUNK_BYTES = 1 << 20


def _md5(path):
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _download(remote, path):
    """Download ``remote`` to ``path`` atomically, checking its MD5.

    The data are streamed into a temporary file beside ``path``, which
    replaces ``path`` only once complete and verified: an interrupted or
    corrupt download never leaves a file under the final name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    logger.info("Downloading %s to %s", remote.url, path)
    with replacing(path) as file, urllib.request.urlopen(remote.url, timeout=60) as response:
        digest = hashlib.md5(usedforsecurity=False)
        while chunk := response.read(_CHUNK_BYTES):
            digest.update(chunk)
            file.write(chunk)
        if digest.hexdigest() != remote.md5:
            raise OSError(
                f"The download of {remote.filename} from {remote.url} is corrupt: its MD5 "
                f"checksum is {digest.hexdigest()}, expected {remote.md5}."
            )


def fetch_omniglot(subset="background", *, data_home=None, download_if_missing=True, image_size=28):
    """Load an Omniglot subset, downloading and caching it if needed.

    Omniglot (Lake et al. 2015) holds 1,623 hand-drawn characters from 50
    alphabets, each drawn by 20 people: the standard benchmark for one-shot
    learning on classes never seen in training.

    =========================  ==========  =========  ======
    subset                     characters  alphabets  images
    =========================  ==========  =========  ======
    ``"background"``           964         30         19,280
    ``"evaluation"``           659         20         13,180
    ``"background_small1"``    136         5          2,720
    =========================  ==========  =========  ======

    The zip files come from Brenden Lake's public repository
    (https://github.com/brendenlake/omniglot) and are checked against their
    MD5 checksums.

    Parameters
    ----------
    subset : {"background", "evaluation", "background_small1"}, default="background"
        Which published file to load.
    data_home : str or path-like, default=None
        Where to look for and cache the data. None uses
        :func:`sklearn.datasets.get_data_home`, which honours the
        ``SCIKIT_LEARN_DATA`` environment variable. The zip is looked for at
        ``<data_home>/omniglot/<filename>`` and then at
        ``<data_home>/<filename>``, so ``data_home`` may also be a folder that
        already holds a local copy of the zip, e.g.
        ``fetch_omniglot("background_small1", data_home="../shared/data/omniglot")``.
        A local copy is checksum-verified too. Downloads go to
        ``<data_home>/omniglot/<filename>``.
    download_if_missing : bool, default=True
        Download the zip when no copy with the right checksum is found;
        otherwise raise an ``OSError``. A copy with a wrong checksum is
        downloaded again, with a warning.
    image_size : int, default=28
        Images are resized to ``image_size x image_size`` by area averaging.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`load_omniglot_zip` returns (``images``, ``target``,
        ``target_names``, ``alphabet``, ``drawer``), plus ``subset``.

    Raises
    ------
    ValueError
        If ``subset`` is unknown.
    OSError
        If the data are not found and ``download_if_missing`` is False, if a
        local copy has a wrong checksum and ``download_if_missing`` is False,
        if the download fails or if the downloaded file has a wrong checksum.

    References
    ----------
    .. [1] B. M. Lake, R. Salakhutdinov and J. B. Tenenbaum, "Human-level
       concept learning through probabilistic program induction", Science
       350(6266), 2015.

    Examples
    --------
    >>> from sksiamese.datasets import fetch_omniglot
    >>> omniglot = fetch_omniglot("background_small1")  # doctest: +SKIP
    >>> omniglot.images.shape  # doctest: +SKIP
    (2720, 28, 28, 1)
    >>> len(omniglot.target_names)  # doctest: +SKIP
    136
    """
    if subset not in _OMNIGLOT_FILES:
        raise ValueError(
            f"Unknown Omniglot subset {subset!r}; valid subsets are {sorted(_OMNIGLOT_FILES)}."
        )
    remote = _OMNIGLOT_FILES[subset]
    data_home = Path(get_data_home(data_home))
    cache_path = data_home / "omniglot" / remote.filename
    corrupt = []
    for candidate in (cache_path, data_home / remote.filename):
        if candidate.is_file():
            checksum = _md5(candidate)
            if checksum == remote.md5:
                path = candidate
                break
            corrupt.append(f"{candidate} has MD5 checksum {checksum}, expected {remote.md5}")
    else:
        if not download_if_missing:
            if corrupt:
                raise OSError("; ".join(corrupt) + ", and `download_if_missing` is False.")
            raise OSError(
                f"Data not found and `download_if_missing` is False: no {remote.filename} "
                f"in {data_home / 'omniglot'} or {data_home}."
            )
        if corrupt:
            warnings.warn("; ".join(corrupt) + f". Downloading {remote.url} again.", stacklevel=2)
        _download(remote, cache_path)
        path = cache_path
    data = load_omniglot_zip(path, image_size=image_size)
    data.subset = subset
    return data
