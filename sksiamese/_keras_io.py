"""Keras models and optimizers in files: ``.keras`` archives and the save format's codecs.

Estimators pickle their encoder as the bytes of a ``.keras`` archive: the
format is Keras' own, portable across versions, and loads in safe mode so a
tampered file cannot run code through ``Lambda`` layers. The save format
(:mod:`sksiamese._io`) stores each model as a ``.keras`` member, streamed to
and from a temporary file, and each optimizer as its Keras config; a custom
optimizer class is named by reference and imported only when trusted.
"""

import inspect
import os
import shutil
import tempfile

from ._encoder import all_layers
from ._io import register_codec
from ._io._codecs import import_object, reference, split_reference
from ._tensorflow import keras

_FILE_NAME = "model.keras"


def model_to_bytes(model):
    """The ``.keras`` archive of ``model`` as bytes."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, _FILE_NAME)
        model.save(path)
        with open(path, "rb") as file:
            return file.read()


def model_from_bytes(data):
    """The model stored by :func:`model_to_bytes`, loaded in safe mode."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, _FILE_NAME)
        with open(path, "wb") as file:
            file.write(data)
        return keras.saving.load_model(path, compile=False, safe_mode=True)


# The save format's codecs -----------------------------------------------------


def _encode_model(model, writer):
    _check_lambda_layers(model, writer)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, _FILE_NAME)
        model.save(path)
        with open(path, "rb") as file:
            member = writer.write_blob(lambda stream: shutil.copyfileobj(file, stream), ".keras")
    return {"member": member}


def _decode_model(fields, reader):
    member = reader.member(fields, ".keras")
    return reader.deferred(lambda: _load_model(reader, member))


def _load_model(reader, member):
    """The model of ``member``, copied to a temporary file and loaded in safe mode."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, _FILE_NAME)
        with reader.open_member(member) as stream, open(path, "wb") as file:
            shutil.copyfileobj(stream, file)
        try:
            return keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as error:  # Keras raises many kinds of error for an archive it cannot read
            raise _model_error(reader, member, error) from error


def _model_error(reader, member, error):
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = f"{type(error).__name__}: {message}"[:400]
    if "safe_mode" in str(error) or "unsafe" in str(error).lower():
        return reader.file_error(
            f"the Keras model {member!r} holds Python code (e.g. a Lambda layer), which "
            "Keras' safe mode refuses to load; sksiamese.load never runs code from a "
            f"file. ({text})"
        )
    return reader.file_error(f"the Keras model {member!r} could not be loaded ({text}).")


def _check_lambda_layers(model, writer):
    """Refuse models that Keras' safe mode would refuse to load."""
    for layer in all_layers(model):
        function = getattr(layer, "function", None)
        if isinstance(layer, keras.layers.Lambda) and (
            getattr(function, "__name__", "") == "<lambda>"
        ):
            raise writer.error(
                f"its layer {layer.name!r} is a Lambda layer with a Python lambda, which "
                "Keras' safe mode refuses to load. Write a layer class registered with "
                "keras.saving.register_keras_serializable instead."
            )


def _encode_optimizer(optimizer, writer):
    encoded = {"config": keras.optimizers.serialize(optimizer)}
    if getattr(keras.optimizers, type(optimizer).__name__, None) is not type(optimizer):
        # Not one of Keras' own: Keras' config does not say where the class
        # lives, so the file names it, and load imports it only if trusted.
        encoded["class"] = reference(type(optimizer), writer)
    return encoded


def _decode_optimizer(fields, reader):
    config = fields.get("config")
    if not isinstance(config, dict):
        raise reader.error("holds a malformed optimizer.")
    if "class" in fields:
        module, qualname = split_reference(fields["class"], reader)
        return reader.named(
            f"{module}.{qualname}", lambda: _custom_optimizer(module, qualname, config, reader)
        )
    class_name = config.get("class_name")
    found = getattr(keras.optimizers, class_name, None) if isinstance(class_name, str) else None
    if (
        config.get("module") != "keras.optimizers"
        or not inspect.isclass(found)
        or not issubclass(found, keras.optimizers.Optimizer)
    ):
        raise reader.error(
            f"holds the optimizer {class_name!r}, which is not one of Keras' own and names "
            "no class of its own."
        )
    return reader.deferred(lambda: _keras_optimizer(keras.optimizers.deserialize, config, reader))


def _keras_optimizer(from_config, config, reader):
    try:
        return from_config(config)
    except Exception as error:  # Keras raises many kinds for a config it cannot use
        raise reader.error(
            f"holds an optimizer Keras cannot build ({type(error).__name__}: {error})."
        ) from error


def _custom_optimizer(module, qualname, config, reader):
    """The trusted optimizer class ``module.qualname``, built from its Keras config."""
    cls, reason = import_object(module, qualname)
    if reason is not None:
        raise reader.error(f"names the optimizer class {module}.{qualname}; {reason}.")
    if not (
        inspect.isclass(cls)
        and issubclass(cls, keras.optimizers.Optimizer)
        and (cls.__module__, cls.__qualname__) == (module, qualname)
    ):
        raise reader.error(
            f"refers to {module}.{qualname}, which is not a Keras optimizer class defined in "
            f"{module!r}; only such classes are loaded."
        )
    if not isinstance(config.get("config"), dict):
        raise reader.error("holds a malformed optimizer.")
    return _keras_optimizer(cls.from_config, config["config"], reader)


register_codec(
    "keras_model",
    ("keras:Model",),
    _encode_model,
    _decode_model,
    subclasses=True,
    description="a Keras model",
)
register_codec(
    "keras_optimizer",
    ("keras:optimizers.Optimizer",),
    _encode_optimizer,
    _decode_optimizer,
    subclasses=True,
    description="a Keras optimizer",
)
