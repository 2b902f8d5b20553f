"""What sksiamese lets TensorFlow print: nothing, unless the user asks for its logs."""

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import sksiamese
from sksiamese import _tensorflow

# The folder holding the sksiamese under test, for fresh interpreters.
SOURCE = str(Path(sksiamese.__file__).parents[1])

# A line of TensorFlow's C++ logs: severity, date, time, thread, source.
LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\] ", re.MULTILINE)

USE = """
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sksiamese import SiameseEmbedder, SiameseVerifier
from sksiamese.datasets import make_pairs

X, y = load_digits(return_X_y=True)
embedder = SiameseEmbedder(n_components=4, epochs=1, random_state=0).fit(X[:300], y[:300])
embedder.transform(X)
pairs, same = make_pairs(X, y, n_pairs=200, random_state=0)
SiameseVerifier(FrozenEstimator(embedder)).fit(pairs, same)
print("done")
"""


def run_fresh(code, **settings):
    """Run ``code`` in a new interpreter with TensorFlow's log settings given; return it."""
    env = {
        name: value for name, value in os.environ.items() if name not in _tensorflow.LOG_SETTINGS
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PYTHONPATH": SOURCE, **settings},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_import_fit_and_float64_transform_print_nothing_from_tensorflow():
    # oneDNN, TensorFlow's CPU kernels on many x86 machines, warns about
    # every float64 graph it meets.
    result = run_fresh(USE, TF_ENABLE_ONEDNN_OPTS="1")
    assert result.stdout.splitlines()[-1] == "done"
    assert result.stderr == ""


def test_a_log_level_the_user_set_is_left_to_tensorflow():
    code = (
        "import os, sksiamese\nsksiamese.SiameseEmbedder\nprint(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    )
    result = run_fresh(code, TF_CPP_MIN_LOG_LEVEL="0")
    assert result.stdout.splitlines()[-1] == "0"
    if not LOG_LINE.search(result.stderr):
        # Nothing held back, or nothing to hold: TensorFlow alone logs nothing here either.
        alone = run_fresh("import tensorflow, keras", TF_CPP_MIN_LOG_LEVEL="0")
        assert not LOG_LINE.search(alone.stderr), alone.stderr


@pytest.mark.parametrize(
    "imported, settings, left_to_us",
    [
        (False, {}, True),
        (True, {}, False),
        (False, {"TF_CPP_MIN_LOG_LEVEL": "0"}, False),
        (False, {"TF_CPP_MIN_LOG_LEVEL": "3"}, False),
        (False, {"TF_CPP_VMODULE": "remapper=2"}, False),
    ],
)
def test_logs_are_held_back_only_when_the_user_left_them_alone(
    imported, settings, left_to_us, monkeypatch
):
    for name in _tensorflow.LOG_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    if not imported:
        monkeypatch.delitem(sys.modules, "tensorflow")
    assert _tensorflow.logging_left_to_us() is left_to_us


def test_what_a_failing_block_wrote_to_stderr_is_shown(capfd):
    with pytest.raises(RuntimeError, match="no start"):
        with _tensorflow.held_back_stderr():
            os.write(2, b"why it failed\n")
            raise RuntimeError("no start")
    assert capfd.readouterr().err == "why it failed\n"


def test_what_a_successful_block_wrote_to_stderr_is_dropped_but_warnings_are_shown(capfd):
    with pytest.warns(UserWarning, match="still shown"):
        with _tensorflow.held_back_stderr():
            os.write(2, b"start-up chatter\n")
            warnings.warn("still shown", UserWarning)
    assert capfd.readouterr().err == ""
