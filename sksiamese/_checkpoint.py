"""Training checkpoints: the encoder and its history, saved as training goes.

One zip file per checkpoint folder holds the encoder in Keras' ``.keras``
format and the history as JSON. It is written beside its final name and then
renamed over it, so a crash or Ctrl-C never leaves a half-written checkpoint:
the folder always holds the last complete epoch.
"""

import json
import zipfile
from pathlib import Path

from ._io._atomic import replacing
from ._keras_io import model_from_bytes, model_to_bytes

CHECKPOINT_NAME = "sksiamese-checkpoint.zip"
_MODEL = "encoder.keras"
_STATE = "state.json"


class Checkpointer:
    """``checkpointer(model, history)`` saves ``encoder`` and the history to ``directory``.

    ``model`` is the model being trained: the encoder, or only its trainable
    head (see :mod:`sksiamese._frozen`); the whole encoder is saved either
    way. ``earlier_history`` is the history the encoder had before this fit
    (warm starts); the checkpoint holds it followed by the epochs of this fit.
    """

    def __init__(self, directory, encoder, earlier_history):
        self.path = Path(directory) / CHECKPOINT_NAME
        self.encoder = encoder
        self.earlier_history = earlier_history

    def __call__(self, model, history):
        combined = {
            key: list(self.earlier_history.get(key, [])) + list(values)
            for key, values in history.items()
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(self.path) as file, zipfile.ZipFile(file, "w") as archive:
            archive.writestr(_MODEL, model_to_bytes(self.encoder))
            archive.writestr(_STATE, json.dumps({"history": combined}))


def read_checkpoint(directory):
    """``(encoder, history)`` from ``directory``, or None if it holds no checkpoint.

    Raises a ValueError naming the file when the checkpoint cannot be read.
    """
    path = Path(directory) / CHECKPOINT_NAME
    if not path.exists():
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            state = json.loads(archive.read(_STATE))
            encoder = model_from_bytes(archive.read(_MODEL))
        history = {str(key): [float(v) for v in values] for key, values in state["history"].items()}
    except Exception as error:
        raise ValueError(f"Cannot resume from the checkpoint {path}: {error}") from error
    return encoder, history
