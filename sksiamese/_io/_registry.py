"""What the format knows: estimator classes, and codecs for the values they hold.

Both tables are filled by the modules that own the types, when those modules
are imported; this package imports none of them. The estimator classes that
:func:`sksiamese.load` may build are named by import path in
:data:`ESTIMATOR_PATHS`, and their module is imported only when a file names
one of them (importing sksiamese's own modules runs no code from the file).
"""

import functools
import importlib
import sys
from typing import Callable, NamedTuple

# The estimator classes files may name, by their name in a file.
ESTIMATOR_PATHS = {
    "GalleryClassifier": "sksiamese._gallery:GalleryClassifier",
    "SiameseEmbedder": "sksiamese._embedder:SiameseEmbedder",
    "SiameseVerifier": "sksiamese._verifier:SiameseVerifier",
}


class Saved(NamedTuple):
    """What :func:`register` records about an estimator class."""

    cls: type
    required: tuple
    kinds: dict
    estimators: dict
    not_saved: tuple


# Estimator classes registered so far, by name.
_ESTIMATORS = {}


def register(*, required, kinds=None, estimators=None, not_saved=()):
    """Class decorator: make the estimator class one the format saves and loads.

    The class declares what its file must hold; the format needs no edit for
    a new estimator, and imports none.

    Parameters
    ----------
    required : tuple of str
        The fitted attributes every fitted instance has; a file without one
        of them is refused. Every fitted attribute is saved.
    kinds : dict of str to str, default=None
        Fitted attributes that loading relies on, each with the kind of value
        it must be: ``"shape"`` (a non-empty tuple of ints), or the tag of a
        registered codec (``"keras_model"``, ``"sigmoid_calibration"``): the
        file must store the attribute with that codec.
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
        _ESTIMATORS[cls.__name__] = Saved(
            cls, tuple(required), dict(kinds or {}), dict(estimators or {}), tuple(not_saved)
        )
        return cls

    return decorator


def saved_class(name):
    """The registration of the estimator class a file names, or None if it names no such class.

    A built-in class's module is imported here, the first time a file needs it.
    """
    if not isinstance(name, str):
        return None
    if name not in _ESTIMATORS and name in ESTIMATOR_PATHS:
        importlib.import_module(ESTIMATOR_PATHS[name].partition(":")[0])
    return _ESTIMATORS.get(name)


def class_names():
    """The classes the format loads, for messages."""
    *first, last = sorted({*ESTIMATOR_PATHS, *_ESTIMATORS})
    return f"{', '.join(first)} and {last}" if first else last


def registered(value):
    """The registration of ``value``'s class, if it is an estimator the format stores."""
    saved = _ESTIMATORS.get(type(value).__name__)
    return saved if saved is not None and type(value) is saved.cls else None


def registered_parent(value):
    """A registered class ``value`` is a subclass of (the format refuses those), or None."""
    for saved in _ESTIMATORS.values():
        if isinstance(value, saved.cls) and type(value) is not saved.cls:
            return saved
    return None


def own_type_names():
    """``"module.Class"`` of every class the format stores, imported or not."""
    names = {path.replace(":", ".") for path in ESTIMATOR_PATHS.values()}
    return names | {
        f"{saved.cls.__module__}.{saved.cls.__qualname__}" for saved in _ESTIMATORS.values()
    }


# Codecs ---------------------------------------------------------------------


class Codec(NamedTuple):
    """How values of one type are written and read back.

    ``encode(value, writer)`` returns the JSON fields that describe the value
    (without its ``"type"``), writing any member it needs through ``writer``;
    ``decode(fields, reader)`` returns the value, or a deferred one built
    after the trust check (see :mod:`sksiamese._io._load`).
    """

    tag: str
    type_paths: tuple  # "module:qualname" of each type encoded
    encode: Callable
    decode: Callable
    subclasses: bool  # whether instances of subclasses are encoded too
    description: str  # what a value of this codec is, for messages


# The codecs, by tag: one table for saving and loading.
_CODECS = {}


def register_codec(tag, type_paths, encode, decode, *, subclasses=False, description=None):
    """Add the codec ``tag`` for values of the types at ``type_paths`` (``"module:qualname"``).

    Types are named by path so that registering imports nothing: saving
    looks a type up only once its module has been imported, since no value
    can be an instance of a class whose module was never imported. Each tag
    and each type is registered once.
    """
    taken = {path for codec in _CODECS.values() for path in codec.type_paths}
    if tag in _CODECS or taken.intersection(type_paths):
        raise ValueError(f"A codec for {tag!r} or {type_paths!r} is registered already.")
    description = description or f"a {tag.replace('_', ' ')}"
    _CODECS[tag] = Codec(tag, tuple(type_paths), encode, decode, subclasses, description)


def codec_for_tag(tag):
    return _CODECS.get(tag) if isinstance(tag, str) else None


def codec_for_value(value):
    """The codec that writes ``value``, or None."""
    cls = type(value)
    for codec in _CODECS.values():
        for path in codec.type_paths:
            codec_type = _imported_type(path)
            if codec_type is None:
                continue
            if cls is codec_type or (codec.subclasses and isinstance(value, codec_type)):
                return codec
    return None


def _imported_type(type_path):
    module, _, qualname = type_path.partition(":")
    if module not in sys.modules:
        return None
    return functools.reduce(getattr, qualname.split("."), sys.modules[module])
