"""Saving estimators without pickle: one zip of JSON and ``.keras`` archives.

:func:`save` writes an estimator to one zip file; :func:`sksiamese.load`, in
:mod:`sksiamese._loading`, reads it back. The zip holds

- ``estimator.json``: the format's name and version, the versions that wrote
  it, the class name, the parameters and the fitted attributes, as JSON;
- one ``.keras`` member per Keras model, in Keras' native format, such as
  ``encoder.keras`` for the ``encoder_`` of a fitted
  :class:`~sksiamese.SiameseEmbedder` and ``network.keras`` for a
  ``network`` parameter that is a model;
- one folder per parameter or fitted attribute holding an estimator, laid
  out like the top level: a :class:`~sksiamese.SiameseVerifier` has
  ``embedder_/estimator.json`` and ``embedder_/encoder.keras``, and
  ``embedder/`` for its ``embedder`` parameter. An attribute that is a
  parameter itself (a frozen embedder as ``embedder_``) is stored once and
  refers to it.

A pipeline, or another scikit-learn object holding sksiamese estimators,
is saved by :func:`save` as

- ``pipeline.json``: the format's name and version, the versions that wrote
  it (skops' among them), the class name and the number of sksiamese
  estimators inside;
- ``pipeline.skops``: the object written by ``skops.io``, with a stand-in
  (:class:`~sksiamese._pipelines.Slot`) where each sksiamese estimator was;
- ``estimators/0/``, ``estimators/1/``, ...: those estimators, each laid
  out like the top level of an estimator's file.

Estimator classes join the format with the :func:`register` decorator, which
declares what their files hold; neither this module nor the loader imports
any of them.

Nothing is pickled. Values that JSON cannot hold as they are (tuples, numpy
arrays and scalars, Keras optimizers, references to network functions) are
JSON objects tagged with a ``"type"``; loading builds only those known types,
and only registered estimator classes. Keras models load in Keras' safe mode,
which refuses ``Lambda`` layers carrying Python code.

Fitted state goes through the same ``__getstate__``/``__setstate__`` the
estimators implement for pickle: what pickle would store as the bytes of a
``.keras`` archive becomes a member of the zip, and loading hands the state
back to ``__setstate__``, which rebuilds the encoder (in safe mode) and the
runtime state beside it.
"""

import functools
import inspect
import json
import os
import pathlib
import re
import sys
import warnings
import zipfile
from typing import NamedTuple

import keras
import numpy as np
from sklearn.frozen import FrozenEstimator

from ._compat import _SigmoidCalibration
from ._files import replacing
from ._pipelines import dump_around, skops_version
from ._serialization import model_to_bytes
from ._version import __version__

FORMAT_NAME = "sksiamese"
FORMAT_VERSION = 1
_ESTIMATOR_FILE = "estimator.json"
PIPELINE_FILE = "pipeline.json"
PIPELINE_TREE = "pipeline.skops"
PIPELINE_ESTIMATORS = "estimators/"
_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9_]*_\Z")
_PICKLE_HINT = (
    "Use pickle or joblib for it instead, and load such files only from sources you trust: "
    "unpickling can run arbitrary code."
)


# Registration ---------------------------------------------------------------


class _Saved(NamedTuple):
    """What :func:`register` records about a class."""

    cls: type
    required: tuple
    kinds: dict
    estimators: dict
    not_saved: tuple


# The classes the format stores, by name: the only classes load builds.
_REGISTRY = {}


def register(*, required, kinds=None, estimators=None, not_saved=()):
    """Class decorator: make the estimator class one the format saves and loads.

    The class declares what its file must hold; this module needs no edit
    for a new estimator, and imports none.

    Parameters
    ----------
    required : tuple of str
        The fitted attributes every fitted instance has; a file without one
        of them is refused. Every fitted attribute is saved.
    kinds : dict of str to str, default=None
        Fitted attributes that loading relies on, each with the kind of value
        it must be: ``"keras_model"``, ``"shape"`` (a non-empty tuple of
        ints) or ``"sigmoid_calibration"``, the kinds the loader checks.
    estimators : dict of str to class, default=None
        The parameters and fitted attributes that may hold an estimator, each
        with that estimator's class, itself registered. The estimator, or a
        ``FrozenEstimator`` around it, is stored in a folder of its own.
    not_saved : tuple of str, default=()
        Parameters that are not saved: the file stores None, and ``save``
        warns when they are set.

    Returns
    -------
    decorator : callable
        Registers the class under its name and returns it unchanged.
    """

    def decorator(cls):
        _REGISTRY[cls.__name__] = _Saved(
            cls, tuple(required), dict(kinds or {}), dict(estimators or {}), tuple(not_saved)
        )
        return cls

    return decorator


def _class_names():
    # Sorted: the registry's order is the order the estimator modules were imported.
    *first, last = sorted(_REGISTRY)
    return f"{', '.join(first)} and {last}" if first else last


def _is_registered(value):
    """Whether ``value`` is stored in sksiamese's own format; a subclass of its classes is refused.

    A subclass may hold state its parent's registration does not declare.
    """
    for saved in _REGISTRY.values():
        if isinstance(value, saved.cls):
            if type(value) is not saved.cls:
                cls = type(value)
                raise ValueError(
                    f"sksiamese's save format stores {_class_names()} objects, not "
                    f"{cls.__module__}.{cls.__qualname__}. {_PICKLE_HINT}"
                )
            return True
    return False


class SaveMixin:
    """Adds :meth:`save` to the estimators; the work is done by :func:`save`."""

    def save(self, path):
        """Save the estimator to one file, without pickle; read it with :func:`sksiamese.load`.

        The file is a zip archive holding the parameters and fitted
        attributes as JSON and each Keras model in Keras' native ``.keras``
        format. Loading it never unpickles anything, and Keras' safe mode
        refuses models that carry Python code. Fitted and unfitted estimators
        can be saved.

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


# Saving ---------------------------------------------------------------------


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
    members = {}
    if _is_registered(estimator):
        _store(estimator, "", members)
    else:
        _store_pipeline(estimator, members)
    path = os.fspath(path)
    # An existing file is never left half-written.
    with replacing(path) as file:
        with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    return path


def _store_pipeline(obj, members):
    """Add the members of a file holding ``obj``, written by skops around its own estimators."""
    own_types = {f"{saved.cls.__module__}.{saved.cls.__name__}" for saved in _REGISTRY.values()}
    tree, estimators = dump_around(obj, _is_registered, own_types)
    for index, estimator in enumerate(estimators):
        _store(estimator, f"{PIPELINE_ESTIMATORS}{index}/", members)
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "sksiamese_version": __version__,
        "library_versions": {**_library_versions(), "skops": skops_version()},
        "class": f"{type(obj).__module__}.{type(obj).__qualname__}",
        "estimators": len(estimators),
    }
    members[PIPELINE_FILE] = json.dumps(document, indent=2).encode("utf-8")
    members[PIPELINE_TREE] = tree


def _store(estimator, prefix, members):
    """Add ``estimator``'s members to ``members``, under the folder ``prefix``."""
    # Registered: save and _encode_estimator store nothing else here.
    saved = _REGISTRY[type(estimator).__name__]
    _check_lambda_layers(estimator)
    params = estimator.get_params(deep=False)
    encoded_params = {}
    for key, value in params.items():
        if key in saved.not_saved:
            encoded_params[key] = _not_saved(key, value)
        else:
            encoded_params[key] = _encode_top(value, key, "parameter", prefix, members, saved, {})

    state = estimator.__getstate__()
    fitted_names = [key for key in state if _ATTRIBUTE.match(key) and key not in params]
    fitted = None
    if fitted_names:
        missing = [key for key in saved.required if key not in fitted_names]
        if missing:
            raise ValueError(
                f"The {saved.cls.__name__} has fitted attributes but lacks "
                f"{', '.join(missing)}; it cannot be saved in this state. Fit it again."
            )
        fitted = {
            key: _encode_top(state[key], key, "fitted attribute", prefix, members, saved, params)
            for key in fitted_names
        }

    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "sksiamese_version": __version__,
        "library_versions": _library_versions(),
        "class": saved.cls.__name__,
        "params": encoded_params,
        "fitted": fitted,
    }
    members[prefix + _ESTIMATOR_FILE] = json.dumps(document, indent=2).encode("utf-8")


def _not_saved(key, value):
    if value:  # an empty list of callbacks loses nothing
        warnings.warn(
            f"The parameter {key} is not saved: the file stores {key}=None. Set it again "
            f"after loading, with set_params({key}=...).",
            UserWarning,
            stacklevel=5,
        )
    return None


def _encode_top(value, key, kind, prefix, members, saved, params):
    """Encode a parameter or fitted attribute: estimators and models may appear here."""
    where = f"{kind} {key!r}"
    if isinstance(value, np.random.RandomState):
        warnings.warn(
            f"{key} is a RandomState instance, which is not saved: the file stores "
            f"{key}=None. Use an int for a reproducible refit after loading.",
            UserWarning,
            stacklevel=5,
        )
        return None
    if isinstance(value, keras.Model):
        # A network given as a model: stored as fitted models are.
        value = model_to_bytes(value)
    if isinstance(value, bytes):
        # What __getstate__ turns a Keras model into: a .keras archive.
        member = f"{prefix}{key.rstrip('_')}.keras"
        members[member] = value
        return {"type": "keras_model", "member": member}
    if key in saved.estimators and value is not None:
        for param_name, param in params.items():
            if param is value:
                return {"type": "same_as_parameter", "name": param_name}
        return _encode_estimator(value, where, f"{prefix}{key}/", members, saved.estimators[key])
    return _encode(value, where)


def _encode_estimator(value, where, folder, members, expected):
    frozen = isinstance(value, FrozenEstimator)
    inner = value.estimator if frozen else value
    if type(inner) is not expected:
        shown = type(inner).__name__
        if frozen:
            shown = f"FrozenEstimator({shown})"
        raise ValueError(
            f"Cannot save {where}: {shown}. sksiamese's save format stores a "
            f"{expected.__name__} there, frozen or not, or None. {_PICKLE_HINT}"
        )
    _store(inner, folder, members)
    return {"type": "frozen_estimator" if frozen else "estimator", "folder": folder}


def _encode(value, where):
    """``value`` as JSON, with tagged objects for what JSON lacks."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is list:
        return [_encode(item, where) for item in value]
    if type(value) is tuple:
        return {"type": "tuple", "items": [_encode(item, where) for item in value]}
    if type(value) is dict:
        if not all(isinstance(item, str) for item in value):
            raise ValueError(f"Cannot save {where}: a dict whose keys are not all strings.")
        return {"type": "dict", "items": {k: _encode(v, where) for k, v in value.items()}}
    if isinstance(value, np.ndarray):
        return _encode_array(value, where)
    if isinstance(value, np.generic):
        _check_dtype(value.dtype, where)
        return {"type": "numpy_scalar", "dtype": value.dtype.str, "value": value.item()}
    if isinstance(value, pathlib.PurePath):
        return {"type": "path", "value": str(value)}
    if isinstance(value, _UnresolvedFunction):
        return {"type": "function", "reference": value.reference}
    if isinstance(value, keras.optimizers.Optimizer):
        return _encode_optimizer(value, where)
    if isinstance(value, _SigmoidCalibration):
        return {
            "type": "sigmoid_calibration",
            "a": _encode(value.a_, where),
            "b": _encode(value.b_, where),
        }
    if callable(value):
        if not inspect.isfunction(value):
            raise ValueError(
                f"Cannot save {where}: {value!r} is not a plain function. The file stores "
                "functions by reference (module and name); wrap it in a function defined "
                "at module level."
            )
        return {"type": "function", "reference": _reference(value, where)}
    raise ValueError(
        f"Cannot save {where}: values of type {type(value).__qualname__} are not supported "
        f"by sksiamese's save format. {_PICKLE_HINT}"
    )


def _check_dtype(dtype, where):
    if dtype.kind not in "biufUO":
        raise ValueError(f"Cannot save {where}: numpy dtype {dtype} is not supported.")


def _encode_array(array, where):
    _check_dtype(array.dtype, where)
    items = array.ravel().tolist()
    if array.dtype.kind == "O":
        if not all(type(item) in (str, int, float, bool) for item in items):
            raise ValueError(
                f"Cannot save {where}: an object array may hold only strings and numbers."
            )
    return {
        "type": "ndarray",
        "dtype": "object" if array.dtype.kind == "O" else array.dtype.str,
        "shape": list(array.shape),
        "data": items,
    }


def _encode_optimizer(optimizer, where):
    encoded = {"type": "keras_optimizer", "config": keras.optimizers.serialize(optimizer)}
    if getattr(keras.optimizers, type(optimizer).__name__, None) is not type(optimizer):
        # Not one of Keras' own: Keras' config does not say where the class
        # lives, so the file names it, and load imports it only if trusted.
        encoded["class"] = _reference(type(optimizer), where)
    return encoded


def _reference(value, where):
    """``"module:qualname"`` of a module-level function or class, checked to import back."""
    qualname, module = value.__qualname__, value.__module__
    if "<lambda>" in qualname or "<locals>" in qualname:
        kind = "a lambda" if "<lambda>" in qualname else "defined inside a function"
        raise ValueError(
            f"Cannot save {where}: {qualname} is {kind}. The file stores functions and "
            "classes by reference (module and name), so define it at module level in an "
            "importable module."
        )
    try:
        found = functools.reduce(getattr, qualname.split("."), sys.modules[module])
    except (KeyError, AttributeError, TypeError):
        found = None
    if found is not value:
        raise ValueError(
            f"Cannot save {where}: {module}.{qualname} does not lead back to {value!r}, "
            "so it could not be imported on loading."
        )
    return f"{module}:{qualname}"


def _check_lambda_layers(estimator):
    """Refuse models that Keras' safe mode would refuse to load."""
    for key, model in vars(estimator).items():
        if not isinstance(model, keras.Model):
            continue
        for layer in _layers(model):
            function = getattr(layer, "function", None)
            if isinstance(layer, keras.layers.Lambda) and (
                getattr(function, "__name__", "") == "<lambda>"
            ):
                raise ValueError(
                    f"Cannot save {key}: its layer {layer.name!r} is a Lambda layer with a "
                    "Python lambda, which Keras' safe mode refuses to load. Write a layer "
                    "class registered with keras.saving.register_keras_serializable instead."
                )


def _layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _layers(layer)


def _library_versions():
    import sklearn
    import tensorflow as tf

    return {
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }


class _UnresolvedFunction:
    """Stands for a network function that could not be imported on loading.

    The loaded estimator embeds rows as usual; fitting it calls this, which
    says what is missing. Saving it again keeps the reference, which is why
    it is defined here, beside the saving code.
    """

    def __init__(self, reference, reason):
        self.reference = reference
        self.reason = reason

    def __call__(self, *args, **kwargs):
        raise ValueError(
            f"network={self.reference!r} could not be imported when the estimator was "
            f"loaded ({self.reason}). Make it importable and load the file again, or "
            "set_params(network=...) before fitting."
        )

    def __eq__(self, other):
        return isinstance(other, _UnresolvedFunction) and other.reference == self.reference

    def __hash__(self):
        return hash(self.reference)

    def __repr__(self):
        return f"<unresolved function {self.reference!r}>"
