"""The codecs of plain values: tuples, dicts, arrays, NumPy scalars, paths and functions.

Each is registered once in the codec table of :mod:`sksiamese._io._registry`
beside the codecs that estimator modules register for their own types (Keras
models and optimizers, calibrations, search indexes). JSON holds the small
values; an array is an ``.npy`` member the JSON refers to.

A function is stored as a reference ``"module:qualname"`` and loaded only
once the caller trusts that name (:meth:`~sksiamese._io._load.Reader.named`).
"""

import functools
import importlib
import inspect
import math
import pathlib
import re
import sys
import warnings

import numpy as np

from ._registry import register_codec

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_INLINE_ITEM = (str, int, float, bool)


# Tuples and dicts -------------------------------------------------------------


def _encode_tuple(value, writer):
    return {"items": [writer.at(str(index)).encode(item) for index, item in enumerate(value)]}


def _decode_tuple(fields, reader):
    items = fields.get("items")
    if type(items) is not list:
        raise reader.error("holds a malformed tuple.")
    return tuple(reader.at(str(index)).decode(item) for index, item in enumerate(items))


def _encode_dict(value, writer):
    if not all(isinstance(key, str) for key in value):
        raise writer.error("a dict whose keys are not all strings.")
    return {"items": {key: writer.at(key).encode(item) for key, item in value.items()}}


def _decode_dict(fields, reader):
    items = fields.get("items")
    if not isinstance(items, dict):
        raise reader.error("holds a malformed dict.")
    return {key: reader.at(key).decode(item) for key, item in items.items()}


# Arrays and scalars -----------------------------------------------------------


def _check_dtype(dtype, writer):
    if dtype.kind not in "biufUO" or dtype.fields is not None:
        raise writer.error(f"numpy dtype {dtype} is not supported.")


def _encode_array(array, writer):
    _check_dtype(array.dtype, writer)
    if array.dtype.kind != "O":
        return {"member": writer.write_array(np.asarray(array))}
    items = array.ravel().tolist()
    if all(type(item) is str for item in items):
        # Text labels kept as objects: stored as text, given back as objects.
        text = np.array(items, dtype=str).reshape(array.shape)
        return {"member": writer.write_array(text), "object": True}
    if not all(type(item) in _INLINE_ITEM for item in items):
        raise writer.error("an object array may hold only strings and numbers.")
    # Mixed strings and numbers: NumPy cannot store them without pickle.
    return {"dtype": "object", "shape": list(array.shape), "data": items}


def _decode_array(fields, reader):
    if "member" not in fields:
        return _decode_inline_array(fields, reader)
    header = reader.array_header(reader.member(fields, ".npy"))
    as_object = fields.get("object", False)
    if as_object not in (True, False) or (as_object and header.dtype.kind != "U"):
        raise reader.error("holds a malformed array.")
    return reader.deferred(lambda: _read_array(header, reader, as_object))


def _read_array(header, reader, as_object):
    array = reader.read_array(header)
    return array.astype(object) if as_object else array


def _decode_inline_array(fields, reader):
    """An array written into the JSON: every array of format version 1, mixed ones since."""
    dtype = _dtype(fields.get("dtype"), reader, allow_object=True)
    data, shape = fields.get("data"), fields.get("shape")
    if type(data) is not list or type(shape) is not list:
        raise reader.error("is malformed.")
    if not all(type(size) is int and size >= 0 for size in shape) or math.prod(shape) != len(data):
        raise reader.error("holds an array whose shape does not match its data.")
    if not all(type(item) in _INLINE_ITEM for item in data):
        raise reader.error("holds an array of unexpected values.")
    try:
        if dtype.kind == "O":
            array = np.empty(len(data), dtype=object)
            array[:] = data
        else:
            array = np.array(data, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        raise reader.error("holds an array of unexpected values.") from None
    return array.reshape(shape)


def _dtype(text, reader, allow_object):
    if allow_object and text == "object":
        return np.dtype(object)
    if not isinstance(text, str) or not re.fullmatch(r"[<>|=]?[biufU][0-9]{0,3}", text):
        raise reader.error(f"holds an unsupported dtype {text!r}.")
    try:
        return np.dtype(text)
    except TypeError:
        raise reader.error(f"holds an unsupported dtype {text!r}.") from None


def _encode_scalar(value, writer):
    if value.dtype.kind not in "biufU":
        raise writer.error(f"numpy dtype {value.dtype} is not supported.")
    return {"dtype": value.dtype.str, "value": value.item()}


def _decode_scalar(fields, reader):
    dtype = _dtype(fields.get("dtype"), reader, allow_object=False)
    try:
        return dtype.type(fields.get("value"))
    except (TypeError, ValueError, OverflowError):
        raise reader.error("holds a malformed number.") from None


# Paths ------------------------------------------------------------------------


def _encode_path(value, writer):
    return {"value": str(value)}


def _decode_path(fields, reader):
    if not isinstance(fields.get("value"), str):
        raise reader.error("holds a malformed path.")
    return pathlib.Path(fields["value"])


# Functions --------------------------------------------------------------------


class UnresolvedFunction:
    """Stands for a network function that could not be imported on loading.

    The loaded estimator embeds rows as usual; fitting it calls this, which
    says what is missing. Saving it again keeps the reference.
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
        return isinstance(other, UnresolvedFunction) and other.reference == self.reference

    def __hash__(self):
        return hash(self.reference)

    def __repr__(self):
        return f"<unresolved function {self.reference!r}>"


def reference(value, writer):
    """``"module:qualname"`` of a module-level function or class, checked to import back."""
    qualname, module = value.__qualname__, value.__module__
    if "<lambda>" in qualname or "<locals>" in qualname:
        kind = "a lambda" if "<lambda>" in qualname else "defined inside a function"
        raise writer.error(
            f"{qualname} is {kind}. The file stores functions and classes by reference "
            "(module and name), so define it at module level in an importable module."
        )
    try:
        found = functools.reduce(getattr, qualname.split("."), sys.modules[module])
    except (KeyError, AttributeError, TypeError):
        found = None
    if found is not value:
        raise writer.error(
            f"{module}.{qualname} does not lead back to {value!r}, so it could not be "
            "imported on loading."
        )
    return f"{module}:{qualname}"


def split_reference(text, reader):
    """``(module, qualname)`` of a ``"module:qualname"`` reference, checked by its form only."""
    if not isinstance(text, str) or text.count(":") != 1:
        raise reader.error(f"holds a malformed reference {text!r}.")
    module, qualname = text.split(":")
    if not (_DOTTED.match(module) and _DOTTED.match(qualname)):
        raise reader.error(f"holds a malformed reference {text!r}.")
    return module, qualname


def import_object(module_name, qualname):
    """The trusted object ``module_name.qualname``, or None and why it cannot be imported."""
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # a missing module, or its own code failing
        return None, f"importing {module_name!r} raised {type(error).__name__}: {error}"
    try:
        return functools.reduce(getattr, qualname.split("."), module), None
    except AttributeError:
        return None, f"{module_name!r} has no {qualname!r}"


def _encode_function(value, writer):
    if isinstance(value, UnresolvedFunction):
        return {"reference": value.reference}
    return {"reference": reference(value, writer)}


def _decode_function(fields, reader):
    module, qualname = split_reference(fields.get("reference"), reader)
    return reader.named(f"{module}.{qualname}", lambda: _import_function(module, qualname, reader))


def _import_function(module, qualname, reader):
    """The trusted function ``module:qualname``, or a stand-in with a warning."""
    text = f"{module}:{qualname}"
    function, reason = import_object(module, qualname)
    if reason is not None:
        warnings.warn(
            f"The estimator's network function {text!r} cannot be imported ({reason}). "
            "The loaded estimator embeds rows as saved, but refitting it needs the "
            "function: make it importable and load again, or set_params(network=...).",
            UserWarning,
            stacklevel=2,
        )
        return UnresolvedFunction(text, reason)
    if not (
        inspect.isfunction(function)
        and (function.__module__, function.__qualname__) == (module, qualname)
    ):
        raise reader.error(
            f"refers to {text!r}, which is not a function defined in {module!r}; only "
            "such functions are loaded."
        )
    return function


register_codec("tuple", ("builtins:tuple",), _encode_tuple, _decode_tuple)
register_codec("dict", ("builtins:dict",), _encode_dict, _decode_dict)
register_codec("ndarray", ("numpy:ndarray",), _encode_array, _decode_array, subclasses=True)
register_codec("numpy_scalar", ("numpy:generic",), _encode_scalar, _decode_scalar, subclasses=True)
register_codec("path", ("pathlib:PurePath",), _encode_path, _decode_path, subclasses=True)
register_codec(
    "function",
    ("types:FunctionType", f"{__name__}:UnresolvedFunction"),
    _encode_function,
    _decode_function,
)
