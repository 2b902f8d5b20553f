"""Training checkpoints: the estimator as fitted so far, saved as training goes.

One file per checkpoint folder, in sksiamese's save format: the estimator
with its parameters, the encoder and ``history_`` after the last complete
epoch, so that ``sksiamese.load`` reads it as a fitted estimator and a
``warm_start`` fit resumes from it. It is written beside its final name and
then renamed over it, so a crash or Ctrl-C never leaves a half-written
checkpoint: the folder always holds the last complete epoch.
"""

import contextlib
import json
import warnings
import zipfile
from pathlib import Path

from ._io import check_saveable, save
from ._io._load import read_fitted
from ._keras_io import model_from_bytes

CHECKPOINT_NAME = "sksiamese-checkpoint.zip"
# The layout of checkpoints written before they were estimator files.
_EARLIER_MODEL = "encoder.keras"
_EARLIER_STATE = "state.json"


class Checkpointer:
    """``checkpointer(model, history)`` saves the estimator as fitted so far to ``directory``.

    ``model`` is the model being trained: the encoder, or only its trainable
    head (see :mod:`sksiamese._frozen`); the whole ``encoder`` is saved either
    way, in the estimator that ``snapshot(encoder, history)`` returns.
    ``earlier_history`` is the history the encoder had before this fit
    (warm starts); the checkpoint holds it followed by the epochs of this fit.
    """

    def __init__(self, directory, encoder, snapshot, earlier_history):
        self.path = Path(directory) / CHECKPOINT_NAME
        self.encoder = encoder
        self.snapshot = snapshot
        self.earlier_history = earlier_history
        # Refused before training rather than after its first epoch.
        try:
            with _quiet():
                check_saveable(snapshot(None, None))
        except ValueError as error:
            raise ValueError(
                f"checkpoint_dir saves the estimator after every epoch, and it cannot be "
                f"saved: {error}"
            ) from None

    def __call__(self, model, history):
        combined = {
            key: list(self.earlier_history.get(key, [])) + list(values)
            for key, values in history.items()
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _quiet():
            save(self.snapshot(self.encoder, combined), self.path)


@contextlib.contextmanager
def _quiet():
    """Without save's warnings (callbacks and a RandomState are not saved): the
    user hears them from their own ``save``, not once per epoch."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def read_checkpoint(directory):
    """``(encoder, history)`` from ``directory``, or None if it holds no checkpoint.

    Reads only the encoder and the history: a warm start needs no trust in
    what else the file names. Raises a ValueError naming the file when the
    checkpoint cannot be read.
    """
    path = Path(directory) / CHECKPOINT_NAME
    if not path.exists():
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            earlier = _EARLIER_STATE in archive.namelist()
            if earlier:
                state = json.loads(archive.read(_EARLIER_STATE))
                encoder = model_from_bytes(archive.read(_EARLIER_MODEL))
        if not earlier:
            encoder, history = read_fitted(path, ("encoder_", "history_"))
            state = {"history": history}
        history = {str(key): [float(v) for v in values] for key, values in state["history"].items()}
    except Exception as error:
        raise ValueError(f"Cannot resume from the checkpoint {path}: {error}") from error
    return encoder, history
