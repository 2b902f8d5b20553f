"""Saving estimators and pipelines: one zip of JSON, ``.npy`` arrays and binary members."""

import io
import os
import re
import sys
import warnings
import zipfile

import numpy as np
from sklearn.frozen import FrozenEstimator

from .._pipelines import dump_around, skops_version
from .._version import __version__
from . import _codecs  # noqa: F401  (registers the codecs of plain values)
from ._atomic import replacing
from ._members import write_array, write_bytes, write_json
from ._registry import class_names, codec_for_value, own_type_names, registered, registered_parent

FORMAT_NAME = "sksiamese"
FORMAT_VERSION = 2
ESTIMATOR_FILE = "estimator.json"
PIPELINE_FILE = "pipeline.json"
PIPELINE_TREE = "pipeline.skops"
PIPELINE_ESTIMATORS = "estimators/"
ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9_]*_\Z")
PICKLE_HINT = (
    "Use pickle or joblib for it instead, and load such files only from sources you trust: "
    "unpickling can run arbitrary code."
)
# What a member's name keeps of the attribute and keys it was written for.
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class Writer:
    """Encodes one value of an estimator into JSON, writing its arrays and blobs as members.

    ``where`` names the value in error messages; ``path`` is what the names
    of its members are made from (``classes_.npy``, ``index_.rows.npy``).
    """

    def __init__(self, archive, folder, taken, where, path):
        self.archive = archive
        self.folder = folder
        self.taken = taken  # member names written so far, in the whole archive
        self.where = where
        self.path = path

    def at(self, key):
        """The writer of an item inside this value."""
        return Writer(self.archive, self.folder, self.taken, self.where, f"{self.path}.{key}")

    def error(self, message):
        return ValueError(f"Cannot save {self.where}: {message}")

    def encode(self, value):
        """``value`` as JSON, with tagged objects for what JSON lacks."""
        if value is None or type(value) in (bool, int, float, str):
            return value
        if type(value) is list:
            return [self.at(str(index)).encode(item) for index, item in enumerate(value)]
        codec = codec_for_value(value)
        if codec is not None:
            return {"type": codec.tag, **codec.encode(value, self)}
        if callable(value):
            raise self.error(
                f"{value!r} is not a plain function. The file stores functions by reference "
                "(module and name); wrap it in a function defined at module level."
            )
        raise self.error(
            f"values of type {type(value).__qualname__} are not supported by sksiamese's "
            f"save format. {PICKLE_HINT}"
        )

    def member_name(self, suffix):
        """A new member name in this estimator's folder, made from the value's path."""
        stem = self.folder + (_UNSAFE_IN_NAME.sub("-", self.path).strip(".-") or "value")
        name, number = stem + suffix, 1
        while name in self.taken:
            number += 1
            name = f"{stem}-{number}{suffix}"
        self.taken.add(name)
        return name

    def write_array(self, array):
        """Write ``array`` as an ``.npy`` member; return its name."""
        name = self.member_name(".npy")
        write_array(self.archive, name, array)
        return name

    def write_blob(self, write, suffix):
        """Write a binary member with ``write(stream)``; return its name."""
        name = self.member_name(suffix)
        write_bytes(self.archive, name, write)
        return name


class SaveMixin:
    """Adds :meth:`save` to the estimators; the work is done by :func:`save`."""

    def save(self, path):
        """Save the estimator to one file, without pickle; read it with :func:`sksiamese.load`.

        The file is a zip archive: the parameters and small fitted values as
        JSON, each array as a ``.npy`` member, each Keras model in Keras'
        native ``.keras`` format. Loading it never unpickles anything, and
        Keras' safe mode refuses models that carry Python code. Fitted and
        unfitted estimators can be saved.

        Parameters
        ----------
        path : str or path-like
            The file to write; it is replaced if it exists. Any name works,
            e.g. ``"embedder.sksiamese"``.

        Returns
        -------
        path : str
            The path written.

        Raises
        ------
        ValueError
            If a parameter cannot be saved without pickle: a lambda or a
            local function as ``network``, a custom optimizer class defined
            inside a function, or an ``embedder`` that is not a
            :class:`SiameseEmbedder` (frozen or not).

        Warns
        -----
        UserWarning
            When ``callbacks`` are set or ``random_state`` is a
            ``RandomState`` instance: neither is saved, and the loaded
            estimator has None instead.

        See Also
        --------
        sksiamese.load : Read the file back.

        Notes
        -----
        A custom ``network`` is saved as a reference to its function
        (module and name), not as code, and a custom optimizer as a
        reference to its class with its Keras config;
        :func:`sksiamese.load` imports them again only when the caller
        trusts them by name (``trusted=["module.name"]``). The encoder is
        stored whole, so the loaded estimator embeds rows even where the
        function cannot be imported.

        Examples
        --------
        >>> import os, tempfile
        >>> from sklearn.datasets import load_digits
        >>> import sksiamese
        >>> from sksiamese import SiameseEmbedder
        >>> X, y = load_digits(return_X_y=True)
        >>> embedder = SiameseEmbedder(n_components=8, epochs=1, random_state=0).fit(X, y)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = embedder.save(os.path.join(folder, "embedder.sksiamese"))
        ...     loaded = sksiamese.load(path)
        >>> bool((loaded.transform(X) == embedder.transform(X)).all())
        True
        """
        return save(self, path)


def save(estimator, path):
    """Save an estimator or a pipeline to one file, without pickle; read it with :func:`load`.

    sksiamese's estimators are saved as by their :meth:`~SiameseEmbedder.save`
    method. Anything else, typically a scikit-learn ``Pipeline`` or grid
    search holding sksiamese estimators beside scikit-learn ones, is saved
    in two parts in one zip archive: each sksiamese estimator in sksiamese's
    own format, and the rest with ``skops.io``, scikit-learn's recommended
    format without pickle. Needs skops (``pip install
    "sksiamese[pipelines]"``) for the second kind.

    Parameters
    ----------
    estimator : estimator
        A :class:`SiameseEmbedder`, :class:`SiameseVerifier` or
        :class:`GalleryClassifier`, or an object that ``skops.io.dump``
        saves, such as a ``Pipeline``, ``FeatureUnion``,
        ``ColumnTransformer`` or ``GridSearchCV``, holding any of them in
        its attributes (directly, or in lists, tuples and dicts there),
        fitted or not.

    path : str or path-like
        The file to write; it is replaced if it exists.

    Returns
    -------
    path : str
        The path written.

    Raises
    ------
    ValueError
        If a sksiamese estimator cannot be saved (see
        :meth:`SiameseEmbedder.save`), or lies where ``save`` does not look
        for it: inside an object that is neither an estimator, nor another
        scikit-learn object, nor a list, tuple or dict.
    ImportError
        If a pipeline is to be saved and skops is not installed.

    See Also
    --------
    load : Read the file back, trusting what it names by name.
    SiameseEmbedder.save : Save one estimator.

    Notes
    -----
    skops refuses, on loading, types it does not know to be safe unless the
    caller trusts them by name, as :func:`load` does for the functions and
    classes that sksiamese's format names: a custom transformer class in the
    pipeline must be passed in ``trusted`` to be loaded.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn.pipeline import make_pipeline
    >>> import sksiamese
    >>> from sksiamese import SiameseEmbedder
    >>> X, y = load_digits(return_X_y=True)
    >>> pipeline = make_pipeline(
    ...     SiameseEmbedder(n_components=8, epochs=1, random_state=0),
    ...     KNeighborsClassifier(1, algorithm="brute"),
    ... ).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = sksiamese.save(pipeline, os.path.join(folder, "pipeline.sksiamese"))
    ...     loaded = sksiamese.load(path)
    >>> bool((loaded.predict(X) == pipeline.predict(X)).all())
    True
    """
    path = os.fspath(path)
    own = _is_own(estimator)
    if not own:
        tree, estimators = dump_around(estimator, _is_own, own_type_names())
    # An existing file is never left half-written: a refused value removes
    # the new file and leaves the old one as it was.
    with replacing(path) as file:
        with zipfile.ZipFile(file, "w", allowZip64=True) as archive:
            taken = set()
            if own:
                _store(estimator, "", archive, taken)
            else:
                _store_pipeline(estimator, tree, estimators, archive, taken)
    return path


def check_saveable(estimator):
    """Raise the ValueError ``save`` would raise for ``estimator``, writing nothing to disk."""
    with zipfile.ZipFile(io.BytesIO(), "w") as archive:
        _store(estimator, "", archive, set())


def _is_own(value):
    """Whether ``value`` is stored in sksiamese's own format; a subclass of its classes is refused.

    A subclass may hold state its parent's registration does not declare.
    """
    if registered(value) is not None:
        return True
    if registered_parent(value) is not None:
        cls = type(value)
        raise ValueError(
            f"sksiamese's save format stores {class_names()} objects, not "
            f"{cls.__module__}.{cls.__qualname__}. {PICKLE_HINT}"
        )
    return False


def _store_pipeline(obj, tree, estimators, archive, taken):
    """Write a file holding ``obj``: skops' ``tree`` around sksiamese's ``estimators``."""
    for index, estimator in enumerate(estimators):
        _store(estimator, f"{PIPELINE_ESTIMATORS}{index}/", archive, taken)
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "sksiamese_version": __version__,
        "library_versions": {**_library_versions(), "skops": skops_version()},
        "class": f"{type(obj).__module__}.{type(obj).__qualname__}",
        "estimators": len(estimators),
    }
    write_json(archive, PIPELINE_FILE, document)
    write_bytes(archive, PIPELINE_TREE, lambda stream: stream.write(tree))


def _store(estimator, folder, archive, taken):
    """Write ``estimator``'s members into ``folder`` of the archive."""
    saved = registered(estimator)
    params = estimator.get_params(deep=False)

    def encode(key, value, kind, parameters):
        writer = Writer(archive, folder, taken, f"{kind} {key!r}", key.rstrip("_") or key)
        return _encode_top(value, key, writer, saved, parameters)

    encoded_params = {}
    for key, value in params.items():
        if key in saved.not_saved:
            encoded_params[key] = _not_saved(key, value)
        else:
            encoded_params[key] = encode(key, value, "parameter", {})
    # The fitted attributes as they are: codecs write each model, index and
    # array in its own format, not as pickle's state would hold it.
    fitted_names = [key for key in vars(estimator) if ATTRIBUTE.match(key) and key not in params]
    fitted = None
    if fitted_names:
        missing = [key for key in saved.required if key not in fitted_names]
        if missing:
            raise ValueError(
                f"The {saved.cls.__name__} has fitted attributes but lacks "
                f"{', '.join(missing)}; it cannot be saved in this state. Fit it again."
            )
        fitted = {}
        for key in fitted_names:
            fitted[key] = encode(key, vars(estimator)[key], "fitted attribute", params)
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "sksiamese_version": __version__,
        "library_versions": _library_versions(),
        "class": saved.cls.__name__,
        "params": encoded_params,
        "fitted": fitted,
    }
    write_json(archive, folder + ESTIMATOR_FILE, document)


def _not_saved(key, value):
    if value:  # an empty list of callbacks loses nothing
        warnings.warn(
            f"The parameter {key} is not saved: the file stores {key}=None. Set it again "
            f"after loading, with set_params({key}=...).",
            UserWarning,
            stacklevel=5,
        )
    return None


def _encode_top(value, key, writer, saved, params):
    """Encode a parameter or fitted attribute: estimators may appear here."""
    if isinstance(value, np.random.RandomState):
        warnings.warn(
            f"{key} is a RandomState instance, which is not saved: the file stores "
            f"{key}=None. Use an int for a reproducible refit after loading.",
            UserWarning,
            stacklevel=6,
        )
        return None
    if key in saved.estimators and value is not None:
        for param_name, param in params.items():
            if param is value:
                return {"type": "same_as_parameter", "name": param_name}
        return _encode_estimator(value, writer, f"{writer.folder}{key}/", saved.estimators[key])
    return writer.encode(value)


def _encode_estimator(value, writer, folder, expected):
    frozen = isinstance(value, FrozenEstimator)
    inner = value.estimator if frozen else value
    if type(inner) is not expected:
        shown = type(inner).__name__
        if frozen:
            shown = f"FrozenEstimator({shown})"
        raise writer.error(
            f"{shown}. sksiamese's save format stores a {expected.__name__} there, frozen "
            f"or not, or None. {PICKLE_HINT}"
        )
    _store(inner, folder, writer.archive, writer.taken)
    return {"type": "frozen_estimator" if frozen else "estimator", "folder": folder}


def _library_versions():
    import sklearn

    versions = {"scikit-learn": sklearn.__version__, "numpy": np.__version__}
    # Only what the saved estimators used is imported; a gallery needs no Keras.
    for name in ("keras", "tensorflow"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = module.__version__
    return versions
