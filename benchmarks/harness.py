"""Measurement helpers every benchmark section shares.

Memory is measured one way throughout (``measure``): a thread samples the
resident memory of the process every 5 ms while the call runs, and the
figure is the peak growth over the call. Sections whose memory matters run
their calls in a fresh process (``run_child``), so that one call's growth is
not hidden under an earlier peak. Every speed, and every ratio of speeds, is
the median of at least three repeats with its range (``spread``).
"""

import datetime
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

# The benchmarks folder (on ``sys.path`` when ``run.py`` runs, so sections
# import ``harness``, ``data`` and ``sections.<name>``) and the repository.
BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent


def spread(values):
    """Median and range of repeated measurements."""
    values = [float(value) for value in values]
    return {"median": float(np.median(values)), "min": min(values), "max": max(values)}


def resident_mb():
    """This process's resident memory in MiB (Linux): total, anonymous, file pages, peak."""
    fields = {"VmRSS": "total", "RssAnon": "anonymous", "RssFile": "file pages", "VmHWM": "peak"}
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in fields:
                values[fields[key]] = int(rest.split()[0]) / 1024
    return values


def measure(call, *, interval=0.005):
    """``call()``'s result, its seconds and the peak growth of resident memory (MiB).

    A thread samples ``resident_mb`` every ``interval`` seconds while
    ``call`` runs; the growth is the peak over the call minus the memory
    before it, per kind (total, anonymous, file pages). The process's own
    peak (``ru_maxrss``) cannot serve: TensorFlow's start-up usually sets it,
    hiding any growth below it.
    """
    before = resident_mb()
    peak, done = dict(before), threading.Event()

    def watch():
        while not done.is_set():
            for key, value in resident_mb().items():
                peak[key] = max(peak[key], value)
            done.wait(interval)

    watcher = threading.Thread(target=watch)
    watcher.start()
    start = time.perf_counter()
    try:
        result = call()
    finally:
        seconds = time.perf_counter() - start
        done.set()
        watcher.join()
    for key, value in resident_mb().items():
        peak[key] = max(peak[key], value)
    growth = {key: peak[key] - before[key] for key in ("total", "anonymous", "file pages")}
    return result, seconds, growth


def timed_fit(fit):
    """Wall and CPU seconds of ``fit()``, as ``{"fit seconds", "fit CPU seconds"}``.

    CPU seconds too: on a shared host a fit's wall time can stretch while
    its CPU time stays put.
    """
    start, cpu = time.perf_counter(), time.process_time()
    fit()
    return {
        "fit seconds": time.perf_counter() - start,
        "fit CPU seconds": time.process_time() - cpu,
    }


def run_child(function, *args, python_path=None):
    """``function(*args)`` run in a fresh Python process; its JSON result.

    ``function`` is a module-level function of a section module: the child
    imports that module by name and calls it. A fresh process measures one
    call's memory and compilation alone, and lets a run configure
    TensorFlow's devices before TensorFlow starts. The arguments arrive as
    strings. ``python_path``, a folder holding another ``sksiamese``, goes
    first on ``sys.path``: the child imports that one.
    """
    first = [str(python_path)] if python_path is not None else []
    code = (
        f"import importlib, json, sys; sys.path[:0] = {[*first, str(BENCHMARKS)]!r}; "
        f"module = importlib.import_module({function.__module__!r}); "
        f"print(json.dumps(module.{function.__name__}(*sys.argv[1:])))"
    )
    process = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if process.returncode:
        raise RuntimeError(f"{function.__name__}{args} failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def epoch_timer():
    """A Keras callback whose ``times`` lists the seconds of every epoch."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    return EpochTimer()


def metadata(quick):
    """Commit, machine, library versions and date of this run."""
    import keras
    import sklearn
    import tensorflow as tf

    import sksiamese

    def git(*command):
        process = subprocess.run(
            ["git", *command], cwd=ROOT, capture_output=True, text=True, check=False
        )
        return process.stdout.strip() if process.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "quick": quick,
        "commit": git("rev-parse", "HEAD"),
        # Uncommitted changes to tracked files: the figures may not be the commit's.
        "dirty": None if status is None else bool(status),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "gpus": len(tf.config.list_physical_devices("GPU")),
        },
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "sksiamese": sksiamese.__version__,
        },
    }
