"""TensorFlow and Keras, imported for the whole package in one place.

Every module of sksiamese takes ``tf`` and ``keras`` from here, so that when
the package is what first imports TensorFlow, that import is a quiet one.
Starting TensorFlow writes log lines to standard error from C++: some before
its logging is set up, which ``TF_CPP_MIN_LOG_LEVEL`` cannot silence ("Could
not find cuda drivers on your machine"), and, on a machine without a GPU
driver, an error when it first looks for devices ("failed call to cuInit").
None of them is about anything the user did.

What is written to standard error while TensorFlow starts is held back, and
shown only if starting fails. Only when the user has left TensorFlow's logging
alone: TensorFlow not imported yet and none of ``LOG_SETTINGS`` set. A user
who imported TensorFlow first, or set one of them (``TF_CPP_MIN_LOG_LEVEL=0``
to see everything), gets TensorFlow's own behaviour, unchanged. Nothing is
set: no environment variable, no log level.
"""

import contextlib
import os
import sys
import tempfile
import warnings

#: Environment variables through which a user asks TensorFlow for its logs.
LOG_SETTINGS = ("TF_CPP_MIN_LOG_LEVEL", "TF_CPP_MAX_VLOG_LEVEL", "TF_CPP_VMODULE")


def logging_left_to_us():
    """Whether the user has left TensorFlow's start-up logging to sksiamese."""
    return "tensorflow" not in sys.modules and not any(name in os.environ for name in LOG_SETTINGS)


@contextlib.contextmanager
def held_back_stderr():
    """Hold back what is written to file descriptor 2; show it if the block raises.

    C++ writes its logs to the descriptor directly, past ``sys.stderr``, so
    the descriptor itself is pointed at a temporary file, and put back on
    exit. Python warnings raised meanwhile are not held back: they are
    recorded and shown on exit.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    failed = False
    with tempfile.TemporaryFile() as held, warnings.catch_warnings(record=True) as caught:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                held.seek(0)
                sys.stderr.write(held.read().decode(errors="replace"))
    for warning in caught:
        warnings.warn_explicit(
            warning.message,
            warning.category,
            warning.filename,
            warning.lineno,
            source=warning.source,
        )


_quiet = logging_left_to_us()
with held_back_stderr() if _quiet else contextlib.nullcontext():
    import keras
    import tensorflow as tf

    if _quiet:
        # TensorFlow looks for devices on first use, and logs a failed CUDA
        # initialisation then; looking now brings that inside the window.
        # Listing the physical devices allocates nothing: visible devices,
        # memory growth and thread counts can still be set afterwards.
        tf.config.list_physical_devices()

__all__ = ["keras", "tf"]
