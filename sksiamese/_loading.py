"""Loading files written by ``save``: read everything, trust by name, then build.

A file is read in full first, into records that import nothing: classes
come from the registry of :mod:`sksiamese._persistence`, and every function or
class the file names stays a :class:`_Deferred`. Only when the caller trusts
all those names, as in ``skops.io.load``, are they imported and the
estimators built. Problems of the file become a ``ValueError`` naming it;
faults of the code are raised as they are.

A file holding a pipeline is read the same way: its sksiamese estimators
into records, and the skops tree around them (:mod:`sksiamese._pipelines`)
through skops, which lists the types it would build without building or
importing any; those join the names to trust.
"""

import functools
import importlib
import inspect
import json
import math
import os
import pathlib
import re
import warnings
import zipfile
import zlib
from typing import NamedTuple

import keras
import numpy as np
from sklearn.frozen import FrozenEstimator

from . import networks
from ._compat import _SigmoidCalibration, validate_params
from ._persistence import (
    _ATTRIBUTE,
    _ESTIMATOR_FILE,
    _REGISTRY,
    FORMAT_NAME,
    FORMAT_VERSION,
    PIPELINE_ESTIMATORS,
    PIPELINE_FILE,
    PIPELINE_TREE,
    _class_names,
    _Saved,
    _UnresolvedFunction,
)
from ._pipelines import load_around, untrusted_types
from ._serialization import model_from_bytes
from ._version import __version__

# estimator.json holds parameters and small fitted attributes; anything
# larger is not a file save wrote.
_MAX_JSON_BYTES = 64 * 2**20
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")

# Names loaded without being trusted: the built-in networks. Keras' own
# optimizers are stored by their Keras config and named by none.
_TRUSTED_BY_DEFAULT = frozenset(
    f"{network.__module__}.{network.__qualname__}" for network in networks.BUILT_IN.values()
)


class _LoadError(ValueError):
    """A problem with the file; :func:`load` adds the file's name."""


class UntrustedTypesError(TypeError):
    """The file names functions or classes that the caller has not trusted.

    Raised by :func:`sksiamese.load` before it imports anything the file
    names, as ``skops.io.load`` raises ``UntrustedTypesFoundException``.
    """


class _Deferred:
    """A value built only after the trust check: building it may import code.

    ``build()`` makes the value. Values that import what the file names are
    made by :meth:`_Reading.named`, which records the name to trust.
    """

    def __init__(self, build):
        self.build = build


class _KerasMember(_Deferred):
    """A ``.keras`` member of the archive, read when its estimator is built."""

    def __init__(self, archive, member):
        super().__init__(lambda: _read_member(archive, member))


class _KerasParameter(_Deferred):
    """A parameter's ``.keras`` member, loaded in safe mode when its estimator is built."""

    def __init__(self, archive, member):
        super().__init__(lambda: _load_model(archive, member))


def _load_model(archive, member):
    data = _read_member(archive, member)
    try:
        return model_from_bytes(data)
    except Exception as error:  # Keras raises many kinds of error for an archive it cannot read
        raise _model_error(member, error) from error


# The kinds of value a fitted attribute can be required to have: a test of the
# value as read from the file, and how an error names it.
_KINDS = {
    "keras_model": (lambda value: isinstance(value, _KerasMember), "a Keras model"),
    "shape": (
        lambda value: (
            isinstance(value, tuple) and len(value) > 0 and all(type(size) is int for size in value)
        ),
        "a tuple of ints",
    ),
    "sigmoid_calibration": (
        lambda value: isinstance(value, _SigmoidCalibration),
        "a sigmoid calibration",
    ),
}


class _Record(NamedTuple):
    """An estimator as read from the file, not built yet."""

    saved: _Saved
    params: dict
    state: object  # dict of fitted attributes, or None when unfitted
    folder: str
    frozen: bool


class _Pipeline(NamedTuple):
    """A pipeline as read from the file, not built yet."""

    tree: bytes  # skops' file, with slots where the estimators go
    records: list  # the _Record of each sksiamese estimator, by slot number


class _Reading:
    """The archive being read, and the names read so far that need trust."""

    def __init__(self, archive):
        self.archive = archive
        self.names = set()

    def named(self, name, build):
        """A deferred value that imports ``name``, which the caller must trust."""
        self.names.add(name)
        return _Deferred(build)


@validate_params(
    {"path": [str, os.PathLike], "trusted": [list, tuple, None]},
    prefer_skip_nested_validation=True,
)
def load(path, trusted=None):
    """Load an estimator or a pipeline saved with ``save``, without pickle.

    Reads the zip file written by :func:`sksiamese.save` or an estimator's
    ``save`` method: parameters and fitted attributes from JSON, and Keras
    models from their ``.keras`` archives in Keras' safe mode. Nothing is
    unpickled, and only sksiamese's estimator classes and plain data are
    built. As in ``skops.io.load``, a function or class the file names (a
    custom ``network``, a custom optimizer) is imported only when listed in
    ``trusted``; the built-in networks and Keras' own optimizers need no
    trust. The scikit-learn part of a pipeline is loaded by ``skops.io``
    under the same rule: types skops does not trust by default (a custom
    transformer class) must be listed in ``trusted``. The whole file is
    checked before anything is imported.

    Parameters
    ----------
    path : str or path-like
        The file written by ``save``.

    trusted : list of str, function or class, default=None
        The functions and classes named in the file that may be imported, as
        ``"module.qualname"`` (``"mypackage.nets.small_cnn"``) or as the
        objects themselves. :func:`get_untrusted_types` lists what a file
        names; review it before trusting it: importing a module runs its
        code.

    Returns
    -------
    estimator : SiameseEmbedder, SiameseVerifier, GalleryClassifier or object
        The estimator or pipeline as it was saved, fitted if it was: same
        parameters (except ``callbacks``, which are not saved) and, on the
        same machine and versions, the same outputs bit for bit.

    Raises
    ------
    UntrustedTypesError
        If the file names functions or classes not in ``trusted``; the
        message lists them. Nothing has been imported.
    ValueError
        If the file is not one written by ``save``, is damaged, was written
        by a newer format version, or holds a Keras model that safe mode
        refuses.
    ImportError
        If the file holds a pipeline and skops is not installed.

    Warns
    -----
    UserWarning
        When the custom ``network`` function the estimator was trained with
        is trusted but cannot be imported. The estimator still embeds rows;
        only refitting it needs the function.

    See Also
    --------
    get_untrusted_types : The names in a file that need trust.
    save : Write the file.

    Notes
    -----
    A custom ``network`` is stored as a reference ``"module:qualname"`` and
    imported with ``importlib`` once trusted; the reference must name a
    plain Python function defined in that module. A custom optimizer is
    stored as its class's reference and Keras config. Custom Keras layers
    inside the network must be registered with
    ``keras.saving.register_keras_serializable``, in a module imported
    before loading, as for any ``.keras`` file: Keras' safe mode builds
    nothing else.

    Examples
    --------
    >>> import os, tempfile
    >>> import sksiamese
    >>> from sksiamese import SiameseEmbedder
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = SiameseEmbedder(n_components=8).save(os.path.join(folder, "e.sksiamese"))
    ...     sksiamese.load(path)
    SiameseEmbedder(n_components=8)
    """
    trusted = _trusted_names(trusted)
    path = os.fspath(path)
    with _open(path) as archive:
        reading = _Reading(archive)
        record = _read_file(reading, path)
        untrusted = sorted(reading.names - _TRUSTED_BY_DEFAULT - trusted)
        if untrusted:
            raise UntrustedTypesError(
                f"Untrusted types found in the file {path!r}: {untrusted}. Loading would "
                "import them, and importing a module runs its code. If you trust them, "
                f"load the file with sksiamese.load(path, trusted={untrusted}); "
                "sksiamese.get_untrusted_types(path) lists them."
            )
        try:
            if isinstance(record, _Pipeline):
                return _build_pipeline(record, trusted)
            return _build(record, {})
        except _LoadError as error:
            raise ValueError(f"Cannot load {path!r}: {error}") from error.__cause__


@validate_params({"path": [str, os.PathLike]}, prefer_skip_nested_validation=True)
def get_untrusted_types(path):
    """The functions and classes a saved file names that :func:`load` does not trust by default.

    Like ``skops.io.get_untrusted_types``: reads the whole file, imports
    nothing, and returns the names to review before passing them to
    ``load(path, trusted=...)``.

    Parameters
    ----------
    path : str or path-like
        The file written by ``save``.

    Returns
    -------
    names : list of str
        Sorted ``"module.qualname"`` names, such as a custom ``network``
        function or optimizer class, or a custom transformer class in a
        pipeline; empty when the file loads without trust.

    Raises
    ------
    ValueError
        If the file is not one written by ``save`` or is damaged.

    See Also
    --------
    load : Load the file, trusting some of these names.

    Examples
    --------
    >>> import os, tempfile
    >>> import sksiamese
    >>> from sksiamese import SiameseEmbedder
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = SiameseEmbedder(network="cnn").save(os.path.join(folder, "e.sksiamese"))
    ...     sksiamese.get_untrusted_types(path)
    []
    """
    path = os.fspath(path)
    with _open(path) as archive:
        reading = _Reading(archive)
        _read_file(reading, path)
    return sorted(reading.names - _TRUSTED_BY_DEFAULT)


def _trusted_names(trusted):
    names = set()
    for item in trusted or ():
        if isinstance(item, str):
            names.add(item)
        elif inspect.isfunction(item) or inspect.isclass(item):
            names.add(f"{item.__module__}.{item.__qualname__}")
        else:
            raise TypeError(
                "trusted must list names such as 'mypackage.nets.small_cnn', or the "
                f"functions and classes themselves; got {item!r}."
            )
    return names


def _open(path):
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise ValueError(
            f"Cannot load {path!r}: it is not a readable zip archive ({error}); "
            "sksiamese.load reads files written by the estimators' save method."
        ) from None


def _read_file(reading, path):
    """The record of the file's estimator or pipeline; file problems become a ValueError."""
    names = reading.archive.namelist()
    try:
        if PIPELINE_FILE in names and _ESTIMATOR_FILE not in names:
            return _read_pipeline(reading)
        return _read(reading, "", None, frozen=False)
    except _LoadError as error:
        raise ValueError(f"Cannot load {path!r}: {error}") from None
    except RecursionError:
        # Only a file can nest values this deeply: the JSON parser accepted it,
        # the decoder, a few frames deeper, did not.
        raise ValueError(f"Cannot load {path!r}: its values are nested too deeply.") from None


def _read(reading, folder, expected, frozen):
    """The record of the estimator in ``folder``; of class ``expected`` if given."""
    member = folder + _ESTIMATOR_FILE
    document = _read_document(reading.archive, member, "estimator")
    name = document.get("class")
    if not isinstance(name, str) or name not in _REGISTRY:
        raise _LoadError(
            f"it holds an estimator of class {name!r}; only {_class_names()} can be loaded."
        )
    saved = _REGISTRY[name]
    if expected is not None and saved.cls is not expected:
        raise _LoadError(f"{folder!r} holds a {name}, where a {expected.__name__} belongs.")
    params, fitted = document.get("params"), document.get("fitted")
    if not isinstance(params, dict) or not (fitted is None or isinstance(fitted, dict)):
        raise _LoadError(f"{member} lacks its params or fitted sections.")

    known = saved.cls().get_params(deep=False)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise _LoadError(
            f"the {name} has parameters {', '.join(map(repr, unknown))}, unknown to this "
            f"sksiamese ({__version__}); it was written by sksiamese "
            f"{document.get('sksiamese_version')!r}."
        )
    read_params = {
        key: _decode_top(value, key, "parameter", folder, reading, saved, {})
        for key, value in params.items()
    }
    if fitted is None:
        return _Record(saved, read_params, None, folder, frozen)

    missing = [key for key in saved.required if key not in fitted]
    if missing:
        raise _LoadError(
            f"the fitted {name} in {member} lacks the fitted attribute"
            f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}."
        )
    state = {}
    for key, value in fitted.items():
        if not _ATTRIBUTE.match(key) or key in known:
            raise _LoadError(f"{key!r} is not a fitted attribute name.")
        state[key] = _decode_top(
            value, key, "fitted attribute", folder, reading, saved, read_params
        )
    for key, kind in saved.kinds.items():
        test, description = _KINDS[kind]
        if not test(state[key]):
            raise _LoadError(f"the fitted attribute {folder}{key} is not {description}.")
    return _Record(saved, read_params, state, folder, frozen)


def _read_document(archive, member, what):
    """The JSON document ``member``, checked to be of sksiamese's format and version."""
    document = _read_json(archive, member)
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise _LoadError(
            f"{member} does not describe a sksiamese {what}; "
            "sksiamese.load reads files written by sksiamese.save."
        )
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise _LoadError(
            f"it uses format version {version!r} of the sksiamese format; this "
            f"sksiamese ({__version__}) reads version {FORMAT_VERSION}. Use the sksiamese "
            f"that wrote it (version {document.get('sksiamese_version')!r})."
        )
    return document


def _read_pipeline(reading):
    """The pipeline's record: its sksiamese estimators read, the names skops needs trusted."""
    archive = reading.archive
    document = _read_document(archive, PIPELINE_FILE, "pipeline")
    count = document.get("estimators")
    # Each estimator has a folder of one member or more.
    if type(count) is not int or not 0 <= count <= len(archive.namelist()):
        raise _LoadError(f"{PIPELINE_FILE} holds a malformed number of estimators.")
    if PIPELINE_TREE not in archive.namelist():
        raise _LoadError(f"it has no {PIPELINE_TREE!r}, the pipeline around the estimators.")
    records = [
        _read(reading, f"{PIPELINE_ESTIMATORS}{index}/", None, frozen=False)
        for index in range(count)
    ]
    tree = _read_member(archive, PIPELINE_TREE)
    try:
        names = untrusted_types(tree)
    except (ValueError, TypeError, KeyError, zipfile.BadZipFile) as error:
        # skops' reading of its own file: the errors of a damaged one.
        raise _LoadError(
            f"{PIPELINE_TREE!r} is not a file skops can read ({type(error).__name__}: {error})."
        ) from None
    reading.names.update(names)
    return _Pipeline(tree, records)


def _build_pipeline(pipeline, trusted):
    """Build the pipeline's estimators, then skops' tree around them."""
    built = {}
    estimators = [_build(record, built) for record in pipeline.records]
    placed = set()

    def estimator(index):
        if type(index) is not int or not 0 <= index < len(estimators):
            raise _LoadError(
                f"{PIPELINE_TREE!r} refers to estimator {index!r}; the file holds "
                f"{len(estimators)}."
            )
        placed.add(index)
        return estimators[index]

    obj = load_around(pipeline.tree, sorted(trusted), estimator)
    unplaced = sorted(set(range(len(estimators))) - placed)
    if unplaced:
        raise _LoadError(
            f"{PIPELINE_TREE!r} refers nowhere to the estimator in "
            f"{PIPELINE_ESTIMATORS}{unplaced[0]}/."
        )
    return obj


def _build(value, built):
    """``value`` with its records and deferred values built, each once.

    ``built`` maps each one already built (by id) to the result, so that a
    fitted attribute stored as "the same as a parameter" is the same object.
    """
    if isinstance(value, (_Record, _Deferred)):
        if id(value) not in built:
            if isinstance(value, _Record):
                built[id(value)] = _build_estimator(value, built)
            else:
                built[id(value)] = value.build()
        return built[id(value)]
    if type(value) is list:
        return [_build(item, built) for item in value]
    if type(value) is tuple:
        return tuple(_build(item, built) for item in value)
    if type(value) is dict:
        return {key: _build(item, built) for key, item in value.items()}
    return value


def _build_estimator(record, built):
    estimator = record.saved.cls(**_build(record.params, built))
    if record.state is not None:
        state = _build(record.state, built)
        models = [
            f"{record.folder}{key.rstrip('_')}.keras"
            for key, value in state.items()
            if isinstance(value, bytes)
        ]
        # The path pickle takes: __setstate__ rebuilds each Keras model from
        # its .keras bytes, in safe mode, and the runtime state beside it.
        try:
            estimator.__setstate__(state)
        except Exception as error:
            if not models:
                raise
            # Keras raises many kinds of error for an archive it cannot read.
            raise _model_error(", ".join(models), error) from error
    return FrozenEstimator(estimator) if record.frozen else estimator


def _model_error(member, error):
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = f"{type(error).__name__}: {message}"[:400]
    if "safe_mode" in str(error) or "unsafe" in str(error).lower():
        return _LoadError(
            f"the Keras model {member!r} holds Python code (e.g. a Lambda layer), which "
            "Keras' safe mode refuses to load; sksiamese.load never runs code from a "
            f"file. ({text})"
        )
    return _LoadError(f"the Keras model {member!r} could not be loaded ({text}).")


def _read_json(archive, member):
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise _LoadError(
            f"it has no {member!r}, so it was not written by sksiamese's save"
        ) from None
    if info.file_size > _MAX_JSON_BYTES:
        raise _LoadError(f"{member!r} is {info.file_size} bytes, too large to be one.")
    data = _read_member(archive, member)
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise _LoadError(f"{member!r} is not valid JSON ({error}).") from None


def _read_member(archive, member):
    try:
        return archive.read(member)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise _LoadError(f"the member {member!r} is damaged ({error}).") from None


def _decode_top(value, key, kind, folder, reading, saved, params):
    """Decode a parameter or fitted attribute: estimators and models may appear here."""
    if isinstance(value, dict) and value.get("type") == "keras_model":
        member = f"{folder}{key.rstrip('_')}.keras"
        if value.get("member") != member:
            raise _LoadError(f"{key!r} names the member {value.get('member')!r}.")
        if member not in reading.archive.namelist():
            raise _LoadError(f"the Keras model member {member!r} is missing.")
        if kind == "parameter":
            return _KerasParameter(reading.archive, member)
        return _KerasMember(reading.archive, member)
    if key in saved.estimators:
        return _decode_estimator(value, key, kind, folder, reading, saved, params)
    return _decode(value, f"{folder}{key}", reading)


def _decode_estimator(value, key, kind, folder, reading, saved, params):
    """The record, or None, of a parameter or fitted attribute that holds an estimator."""
    expected = saved.estimators[key]
    tag = value.get("type") if isinstance(value, dict) else None
    if value is None and kind == "parameter":
        return None
    if tag == "same_as_parameter":
        name = value.get("name")
        if not isinstance(name, str) or name not in saved.estimators or params[name] is None:
            raise _LoadError(f"{key!r} refers to a parameter that holds no estimator.")
        return params[name]
    if tag in ("estimator", "frozen_estimator"):
        inner = f"{folder}{key}/"
        if value.get("folder") != inner:
            raise _LoadError(f"{key!r} names the folder {value.get('folder')!r}.")
        return _read(reading, inner, expected, frozen=tag == "frozen_estimator")
    raise _LoadError(f"the {kind} {folder}{key} is not a {expected.__name__}, frozen or not.")


def _decode(value, where, reading):
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is list:
        return [_decode(item, where, reading) for item in value]
    if type(value) is not dict:
        raise _LoadError(f"{where} holds an unexpected value.")
    kind = value.get("type")
    if kind == "tuple":
        return tuple(_decode(item, where, reading) for item in _list(value, "items", where))
    if kind == "dict":
        items = value.get("items")
        if not isinstance(items, dict):
            raise _LoadError(f"{where} holds a malformed dict.")
        return {key: _decode(item, where, reading) for key, item in items.items()}
    if kind == "ndarray":
        return _decode_array(value, where)
    if kind == "numpy_scalar":
        dtype = _dtype(value.get("dtype"), where, allow_object=False)
        try:
            return dtype.type(value.get("value"))
        except (TypeError, ValueError, OverflowError):
            raise _LoadError(f"{where} holds a malformed number.") from None
    if kind == "path":
        if not isinstance(value.get("value"), str):
            raise _LoadError(f"{where} holds a malformed path.")
        return pathlib.Path(value["value"])
    if kind == "function":
        module, qualname = _split_reference(value.get("reference"), where)
        return reading.named(
            f"{module}.{qualname}", lambda: _import_function(module, qualname, where)
        )
    if kind == "keras_optimizer":
        return _decode_optimizer(value, where, reading)
    if kind == "sigmoid_calibration":
        calibrator = _SigmoidCalibration()
        calibrator.a_ = _number(_decode(value.get("a"), where, reading), where)
        calibrator.b_ = _number(_decode(value.get("b"), where, reading), where)
        return calibrator
    raise _LoadError(f"{where} holds a value of unknown type {kind!r}.")


def _list(value, key, where):
    items = value.get(key)
    if type(items) is not list:
        raise _LoadError(f"{where} is malformed.")
    return items


def _number(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise _LoadError(f"{where} holds a malformed calibration.")
    return value


def _dtype(text, where, allow_object):
    if allow_object and text == "object":
        return np.dtype(object)
    if not isinstance(text, str) or not re.fullmatch(r"[<>|=]?[biufU][0-9]{0,3}", text):
        raise _LoadError(f"{where} holds an unsupported dtype {text!r}.")
    try:
        return np.dtype(text)
    except TypeError:
        raise _LoadError(f"{where} holds an unsupported dtype {text!r}.") from None


def _decode_array(value, where):
    dtype = _dtype(value.get("dtype"), where, allow_object=True)
    data, shape = _list(value, "data", where), _list(value, "shape", where)
    if not all(type(size) is int and size >= 0 for size in shape) or math.prod(shape) != len(data):
        raise _LoadError(f"{where} holds an array whose shape does not match its data.")
    if not all(type(item) in (str, int, float, bool) for item in data):
        raise _LoadError(f"{where} holds an array of unexpected values.")
    try:
        if dtype.kind == "O":
            array = np.empty(len(data), dtype=object)
            array[:] = data
        else:
            array = np.array(data, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        raise _LoadError(f"{where} holds an array of unexpected values.") from None
    return array.reshape(shape)


def _split_reference(reference, where):
    """``(module, qualname)`` of a ``"module:qualname"`` reference, checked by its form only."""
    if not isinstance(reference, str) or reference.count(":") != 1:
        raise _LoadError(f"{where} holds a malformed reference {reference!r}.")
    module, qualname = reference.split(":")
    if not (_DOTTED.match(module) and _DOTTED.match(qualname)):
        raise _LoadError(f"{where} holds a malformed reference {reference!r}.")
    return module, qualname


def _decode_optimizer(value, where, reading):
    config = value.get("config")
    if not isinstance(config, dict):
        raise _LoadError(f"{where} holds a malformed optimizer.")
    if "class" in value:
        module, qualname = _split_reference(value["class"], where)
        return reading.named(
            f"{module}.{qualname}",
            lambda: _custom_optimizer(module, qualname, config, where),
        )
    class_name = config.get("class_name")
    found = getattr(keras.optimizers, class_name, None) if isinstance(class_name, str) else None
    if (
        config.get("module") != "keras.optimizers"
        or not inspect.isclass(found)
        or not issubclass(found, keras.optimizers.Optimizer)
    ):
        raise _LoadError(
            f"{where} holds the optimizer {class_name!r}, which is not one of Keras' own "
            "and names no class of its own."
        )
    return _Deferred(lambda: _keras_optimizer(keras.optimizers.deserialize, config, where))


def _keras_optimizer(from_config, config, where):
    try:
        return from_config(config)
    except Exception as error:  # Keras raises many kinds for a config it cannot use
        raise _LoadError(
            f"{where} holds an optimizer Keras cannot build ({type(error).__name__}: {error})."
        ) from error


def _custom_optimizer(module, qualname, config, where):
    """The trusted optimizer class ``module.qualname``, built from its Keras config."""
    cls, reason = _import(module, qualname)
    if reason is not None:
        raise _LoadError(f"{where} names the optimizer class {module}.{qualname}; {reason}.")
    if not (
        inspect.isclass(cls)
        and issubclass(cls, keras.optimizers.Optimizer)
        and (cls.__module__, cls.__qualname__) == (module, qualname)
    ):
        raise _LoadError(
            f"{where} refers to {module}.{qualname}, which is not a Keras optimizer class "
            f"defined in {module!r}; only such classes are loaded."
        )
    if not isinstance(config.get("config"), dict):
        raise _LoadError(f"{where} holds a malformed optimizer.")
    return _keras_optimizer(cls.from_config, config["config"], where)


def _import(module_name, qualname):
    """The trusted object ``module_name.qualname``, or None and why it cannot be imported."""
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # a missing module, or its own code failing
        return None, f"importing {module_name!r} raised {type(error).__name__}: {error}"
    try:
        return functools.reduce(getattr, qualname.split("."), module), None
    except AttributeError:
        return None, f"{module_name!r} has no {qualname!r}"


def _import_function(module, qualname, where):
    """The trusted function ``module:qualname``, or a stand-in with a warning."""
    reference = f"{module}:{qualname}"
    function, reason = _import(module, qualname)
    if reason is not None:
        warnings.warn(
            f"The estimator's network function {reference!r} cannot be imported ({reason}). "
            "The loaded estimator embeds rows as saved, but refitting it needs the "
            "function: make it importable and load again, or set_params(network=...).",
            UserWarning,
            stacklevel=2,
        )
        return _UnresolvedFunction(reference, reason)
    if not (
        inspect.isfunction(function)
        and (function.__module__, function.__qualname__) == (module, qualname)
    ):
        raise _LoadError(
            f"{where} refers to {reference!r}, which is not a function defined in "
            f"{module!r}; only such functions are loaded."
        )
    return function
