"""Loading files written by ``save``: read everything, trust by name, then build.

A file is read in full first, into records that import nothing but
sksiamese's own estimator modules: every function or class the file names
stays a :class:`Deferred`, and so does every array and model, whose member
is checked (name, size, header) but not yet read. Only when the caller
trusts all the names, as in ``skops.io.load``, are they imported and the
estimators built. Problems of the file become a ``ValueError`` naming it;
faults of the code are raised as they are.

Files of format version 1, which wrote arrays into the JSON, are read by the
same codecs. A pipeline's skops tree (:mod:`sksiamese._pipelines`) is read
by skops, which lists the types it would build without building or importing
any; those join the names to trust.
"""

import inspect
import os
import zipfile
from typing import NamedTuple

from sklearn.frozen import FrozenEstimator

from .._compat import validate_params
from .._pipelines import load_around, untrusted_types
from .._version import __version__
from . import _codecs  # noqa: F401  (registers the codecs of plain values)
from ._members import (
    ArrayHeader,
    FileError,
    check_archive,
    is_member_name,
    open_member,
    read_bytes,
    read_json,
)
from ._registry import class_names, codec_for_tag, saved_class
from ._save import (
    ATTRIBUTE,
    ESTIMATOR_FILE,
    FORMAT_NAME,
    PIPELINE_ESTIMATORS,
    PIPELINE_FILE,
    PIPELINE_TREE,
)

# The format versions this sksiamese reads: 1 wrote arrays as JSON lists.
_READ_VERSIONS = (1, 2)

# Names loaded without being trusted: the built-in networks. Keras' own
# optimizers are stored by their Keras config and named by none.
TRUSTED_BY_DEFAULT = frozenset({"sksiamese.networks.build_mlp", "sksiamese.networks.build_cnn"})


class UntrustedTypesError(TypeError):
    """The file names functions or classes that the caller has not trusted.

    Raised by :func:`sksiamese.load` before it imports anything the file
    names, as ``skops.io.load`` raises ``UntrustedTypesFoundException``.
    """


class Deferred:
    """A value built only after the trust check: building it may import code or read a member."""

    def __init__(self, build):
        self.build = build


class _Record(NamedTuple):
    """An estimator as read from the file, not built yet."""

    saved: object
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


class Reader:
    """Decodes one value of an estimator; what codecs use to read members and ask for trust."""

    def __init__(self, reading, folder, where, kind, version):
        self.reading = reading
        self.folder = folder
        self.where = where
        self.kind = kind  # "parameter" or "fitted attribute"
        self.version = version

    @property
    def archive(self):
        return self.reading.archive

    def at(self, key):
        """The reader of an item inside this value (errors name the value)."""
        return self

    def error(self, message):
        """An error about this value: ``message`` follows its name."""
        return FileError(f"{self.where} {message}")

    def file_error(self, message):
        """An error about the file, ``message`` as it is."""
        return FileError(message)

    def decode(self, value):
        if value is None or type(value) in (bool, int, float, str):
            return value
        if type(value) is list:
            return [self.decode(item) for item in value]
        if type(value) is not dict:
            raise self.error("holds an unexpected value.")
        codec = codec_for_tag(value.get("type"))
        if codec is None:
            raise self.error(f"holds a value of unknown type {value.get('type')!r}.")
        return codec.decode(value, self)

    def member(self, fields, suffix):
        """The name of the member ``fields`` refers to: in this estimator's folder, present."""
        name = fields.get("member")
        if (
            not is_member_name(name)
            or not name.startswith(self.folder)
            or "/" in name[len(self.folder) :]
            or not name.endswith(suffix)
        ):
            raise self.error(f"names the member {name!r}.")
        if name not in self.reading.archive.NameToInfo:
            raise self.error(f"refers to the member {name!r}, which is missing.")
        return name

    def array_header(self, name):
        return ArrayHeader(self.archive, name)

    def read_array(self, header):
        return header.read(self.archive)

    def open_member(self, name):
        """The member ``name`` opened for streaming; reading errors name it."""
        return open_member(self.archive, name)

    def deferred(self, build):
        """A value built after the trust check, by ``build()``."""
        return Deferred(build)

    def build(self, value):
        """``value`` itself, or built if it is deferred: for codecs whose value holds others."""
        return value.build() if isinstance(value, Deferred) else value

    def named(self, name, build):
        """A deferred value that imports ``name``, which the caller must trust."""
        self.reading.names.add(name)
        return Deferred(build)


@validate_params(
    {"path": [str, os.PathLike], "trusted": [list, tuple, None]},
    prefer_skip_nested_validation=True,
)
def load(path, trusted=None):
    """Load an estimator or a pipeline saved with ``save``, without pickle.

    Reads the zip file written by :func:`sksiamese.save` or an estimator's
    ``save`` method: parameters and small values from JSON, arrays from
    ``.npy`` members (never unpickled), and Keras models from their
    ``.keras`` archives in Keras' safe mode. Only sksiamese's estimator
    classes and plain data are built. As in ``skops.io.load``, a function or
    class the file names (a custom ``network``, a custom optimizer) is
    imported only when listed in ``trusted``; the built-in networks and
    Keras' own optimizers need no trust. The scikit-learn part of a pipeline
    is loaded by ``skops.io`` under the same rule: types skops does not
    trust by default (a custom transformer class) must be listed in
    ``trusted``. The whole file is checked before anything is imported, and
    only the modules of the estimators it holds are imported: loading a
    :class:`GalleryClassifier` needs no TensorFlow.

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
        If the file is not one written by ``save``, is damaged or forged
        (a member name with ``..``, an array of objects, sizes that do not
        add up), was written by a newer format version, or holds a Keras
        model that safe mode refuses.
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
    nothing else. Files of format version 1 (sksiamese before arrays were
    stored as ``.npy`` members) load as well.

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
        untrusted = sorted(reading.names - TRUSTED_BY_DEFAULT - trusted)
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
        except FileError as error:
            raise ValueError(f"Cannot load {path!r}: {error}") from error.__cause__


@validate_params({"path": [str, os.PathLike]}, prefer_skip_nested_validation=True)
def get_untrusted_types(path):
    """The functions and classes a saved file names that :func:`load` does not trust by default.

    Like ``skops.io.get_untrusted_types``: reads the whole file, imports
    nothing it names, and returns the names to review before passing them
    to ``load(path, trusted=...)``.

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
    return sorted(reading.names - TRUSTED_BY_DEFAULT)


def read_fitted(path, names):
    """The fitted attributes ``names`` of the estimator saved in ``path``, and nothing else.

    Builds only those attributes: neither the estimator nor its parameters,
    so nothing the file names is imported and no trust is needed (a model
    still loads in Keras' safe mode). For resuming training from a
    checkpoint, which needs only the encoder and its history.
    """
    path = os.fspath(path)
    with _open(path) as archive:
        record = _read_file(_Reading(archive), path)
        if not isinstance(record, _Record) or record.state is None:
            raise ValueError(f"Cannot load {path!r}: it holds no fitted estimator.")
        missing = [name for name in names if name not in record.state]
        if missing:
            raise ValueError(f"Cannot load {path!r}: it has no {', '.join(missing)}.")
        try:
            return tuple(_build(record.state[name], {}) for name in names)
        except FileError as error:
            raise ValueError(f"Cannot load {path!r}: {error}") from error.__cause__


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
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise ValueError(
            f"Cannot load {path!r}: it is not a readable zip archive ({error}); "
            "sksiamese.load reads files written by the estimators' save method."
        ) from None
    try:
        check_archive(archive, os.path.getsize(path))
    except FileError as error:
        archive.close()
        raise ValueError(f"Cannot load {path!r}: {error}") from None
    return archive


def _read_file(reading, path):
    """The record of the file's estimator or pipeline; file problems become a ValueError."""
    names = reading.archive.NameToInfo
    try:
        if PIPELINE_FILE in names and ESTIMATOR_FILE not in names:
            return _read_pipeline(reading)
        return _read(reading, "", None, frozen=False)
    except FileError as error:
        raise ValueError(f"Cannot load {path!r}: {error}") from None
    except RecursionError:
        # Only a file can nest values this deeply: the JSON parser accepted it,
        # the decoder, a few frames deeper, did not.
        raise ValueError(f"Cannot load {path!r}: its values are nested too deeply.") from None


def _read_document(archive, member, what):
    """The JSON document ``member`` and its version, checked to be of sksiamese's format."""
    document = read_json(archive, member)
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise FileError(
            f"{member} does not describe a sksiamese {what}; "
            "sksiamese.load reads files written by sksiamese.save."
        )
    version = document.get("format_version")
    if version not in _READ_VERSIONS or type(version) is not int:
        raise FileError(
            f"it uses format version {version!r} of the sksiamese format; this sksiamese "
            f"({__version__}) reads versions {' and '.join(map(str, _READ_VERSIONS))}. "
            f"Load it with the sksiamese that wrote it (version "
            f"{document.get('sksiamese_version')!r}) or a newer one: pip install --upgrade "
            "sksiamese."
        )
    return document, version


def _read(reading, folder, expected, frozen):
    """The record of the estimator in ``folder``; of class ``expected`` if given."""
    member = folder + ESTIMATOR_FILE
    document, version = _read_document(reading.archive, member, "estimator")
    name = document.get("class")
    saved = saved_class(name)
    if saved is None:
        raise FileError(
            f"it holds an estimator of class {name!r}; only {class_names()} can be loaded."
        )
    if expected is not None and saved.cls is not expected:
        raise FileError(f"{folder!r} holds a {name}, where a {expected.__name__} belongs.")
    params, fitted = document.get("params"), document.get("fitted")
    if not isinstance(params, dict) or not (fitted is None or isinstance(fitted, dict)):
        raise FileError(f"{member} lacks its params or fitted sections.")

    known = saved.cls().get_params(deep=False)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise FileError(
            f"the {name} has parameters {', '.join(map(repr, unknown))}, unknown to this "
            f"sksiamese ({__version__}); it was written by sksiamese "
            f"{document.get('sksiamese_version')!r}."
        )

    def decode(key, value, kind, parameters):
        reader = Reader(reading, folder, f"{folder}{key}", kind, version)
        if key in saved.estimators:
            return _decode_estimator(value, key, reader, saved, parameters)
        return reader.decode(value)

    read_params = {key: decode(key, value, "parameter", {}) for key, value in params.items()}
    if fitted is None:
        return _Record(saved, read_params, None, folder, frozen)

    missing = [key for key in saved.required if key not in fitted]
    if missing:
        raise FileError(
            f"the fitted {name} in {member} lacks the fitted attribute"
            f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}."
        )
    state = {}
    for key, value in fitted.items():
        if not ATTRIBUTE.match(key) or key in known:
            raise FileError(f"{key!r} is not a fitted attribute name.")
        _check_kind(saved, key, value, folder)
        state[key] = decode(key, value, "fitted attribute", read_params)
    for key in saved.kinds:
        if saved.kinds[key] == "shape" and not _is_shape(state.get(key)):
            raise FileError(f"the fitted attribute {folder}{key} is not a tuple of ints.")
    return _Record(saved, read_params, state, folder, frozen)


def _check_kind(saved, key, value, folder):
    """Refuse a fitted attribute stored with another codec than the one its class declares."""
    kind = saved.kinds.get(key)
    if kind is None or kind == "shape":
        return
    if not (isinstance(value, dict) and value.get("type") == kind):
        codec = codec_for_tag(kind)
        description = codec.description if codec is not None else kind
        raise FileError(f"the fitted attribute {folder}{key} is not {description}.")


def _is_shape(value):
    return isinstance(value, tuple) and len(value) > 0 and all(type(size) is int for size in value)


def _decode_estimator(value, key, reader, saved, params):
    """The record, or None, of a parameter or fitted attribute that holds an estimator."""
    expected = saved.estimators[key]
    tag = value.get("type") if isinstance(value, dict) else None
    if value is None and reader.kind == "parameter":
        return None
    if tag == "same_as_parameter":
        name = value.get("name")
        if not isinstance(name, str) or name not in saved.estimators or params.get(name) is None:
            raise FileError(f"{key!r} refers to a parameter that holds no estimator.")
        return params[name]
    if tag in ("estimator", "frozen_estimator"):
        inner = f"{reader.folder}{key}/"
        if value.get("folder") != inner:
            raise FileError(f"{key!r} names the folder {value.get('folder')!r}.")
        return _read(reader.reading, inner, expected, frozen=tag == "frozen_estimator")
    raise FileError(
        f"the {reader.kind} {reader.where} is not a {expected.__name__}, frozen or not."
    )


def _read_pipeline(reading):
    """The pipeline's record: its sksiamese estimators read, the names skops needs trusted."""
    archive = reading.archive
    document, _ = _read_document(archive, PIPELINE_FILE, "pipeline")
    count = document.get("estimators")
    # Each estimator has a folder of one member or more.
    if type(count) is not int or not 0 <= count <= len(archive.namelist()):
        raise FileError(f"{PIPELINE_FILE} holds a malformed number of estimators.")
    if PIPELINE_TREE not in archive.NameToInfo:
        raise FileError(f"it has no {PIPELINE_TREE!r}, the pipeline around the estimators.")
    records = [
        _read(reading, f"{PIPELINE_ESTIMATORS}{index}/", None, frozen=False)
        for index in range(count)
    ]
    tree = read_bytes(archive, PIPELINE_TREE)
    try:
        names = untrusted_types(tree)
    except (ValueError, TypeError, KeyError, zipfile.BadZipFile) as error:
        # skops' reading of its own file: the errors of a damaged one.
        raise FileError(
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
            raise FileError(
                f"{PIPELINE_TREE!r} refers to estimator {index!r}; the file holds "
                f"{len(estimators)}."
            )
        placed.add(index)
        return estimators[index]

    obj = load_around(pipeline.tree, sorted(trusted), estimator)
    unplaced = sorted(set(range(len(estimators))) - placed)
    if unplaced:
        raise FileError(
            f"{PIPELINE_TREE!r} refers nowhere to the estimator in "
            f"{PIPELINE_ESTIMATORS}{unplaced[0]}/."
        )
    return obj


def _build(value, built):
    """``value`` with its records and deferred values built, each once.

    ``built`` maps each one already built (by id) to the result, so that a
    fitted attribute stored as "the same as a parameter" is the same object.
    """
    if isinstance(value, (_Record, Deferred)):
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
        # The path pickle takes: __setstate__ sets the fitted attributes and
        # rebuilds the runtime state beside them.
        estimator.__setstate__(_build(record.state, built))
    return FrozenEstimator(estimator) if record.frozen else estimator
