"""Keras models as bytes in the native ``.keras`` format.

Estimators pickle their encoder this way: the format is Keras' own, portable
across versions, and loads in safe mode so a tampered file cannot run code
through ``Lambda`` layers.
"""

import os
import tempfile

import keras

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
