"""Training under tf.distribute strategies.

Strategies over two logical CPU devices, or two worker processes, must be set
up before TensorFlow starts, so those cases run in fresh interpreters
(``distributed_worker.py``); a one-device MirroredStrategy runs in-process.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from sksiamese import SiameseEmbedder
from sksiamese._checkpoint import CHECKPOINT_NAME

pytestmark = pytest.mark.distributed

WORKER = Path(__file__).with_name("distributed_worker.py")


def start_worker(mode, output, **env):
    return subprocess.Popen(
        [sys.executable, str(WORKER), mode, str(output)],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process, output):
    log, _ = process.communicate(timeout=600)
    assert process.returncode == 0, log[-3000:]
    return json.loads(Path(output).read_text())


def test_mirrored_strategy_over_two_devices_trains_one_encoder(tmp_path):
    result = finish(start_worker("mirrored", tmp_path / "out.json"), tmp_path / "out.json")
    assert result["replicas"] == 2
    assert result["distributed_weights"]
    loss = result["loss"]
    assert len(loss) == 4 and loss[-1] < 0.5 * loss[0]
    assert result["score"] > 0.85
    assert result["restored_score"] == result["score"]


@pytest.mark.slow
def test_estimator_options_train_under_a_two_device_strategy(tmp_path):
    result = finish(start_worker("options", tmp_path / "out.json"), tmp_path / "out.json")
    for name, run in result.items():
        loss = run["history"]["loss"]
        assert len(loss) == 2 and np.isfinite(loss).all(), name
        assert run["score"] > 0.8, name
    # The held-out loss is computed after every epoch.
    for name in ("early_stopping", "fit_pairs"):
        val_loss = result[name]["history"]["val_loss"]
        assert len(val_loss) == 2 and np.isfinite(val_loss).all(), name


def test_replica_gradients_are_averaged_over_a_global_batch(tmp_path):
    result = finish(start_worker("averaging", tmp_path / "out.json"), tmp_path / "out.json")
    # batch_size=16 is global: two replicas of 8 rows, one step per epoch.
    assert (result["replicas"], result["steps"], result["batch_per_replica"]) == (2, 1, 8)
    assert result["error_vs_mean"] < 1e-6
    assert result["error_vs_sum"] > 1e-3


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for sock in sockets:
        sock.bind(("localhost", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.mark.slow
def test_multi_worker_strategy_trains_in_step_over_loopback(tmp_path):
    workers = [f"localhost:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(
            start_worker(
                "multiworker",
                tmp_path / f"worker{index}.json",
                TF_CONFIG=json.dumps(config),
                CHECKPOINT_DIR=str(tmp_path / f"checkpoints{index}"),
            )
        )
    results = [finish(p, tmp_path / f"worker{i}.json") for i, p in enumerate(processes)]
    assert [r["replicas"] for r in results] == [2, 2]
    chief, other = results
    # All-reduced gradients keep both workers' encoders identical.
    assert chief["loss"] == other["loss"]
    for a, b in zip(chief["weights"], other["weights"]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert len(chief["loss"]) == 4 and chief["loss"][-1] < 0.5 * chief["loss"][0]
    assert chief["score"] > 0.85
    # Two workers of one replica each draw the batches two local replicas
    # draw: the stream is indexed by step and replica, whatever the strategy.
    mirrored = finish(start_worker("mirrored", tmp_path / "m.json"), tmp_path / "m.json")
    assert mirrored["loss"] == chief["loss"]
    # Only the chief (worker 0) writes checkpoints.
    assert (tmp_path / "checkpoints0" / CHECKPOINT_NAME).exists()
    assert not (tmp_path / "checkpoints1").exists()


def test_one_device_strategy_fits_exactly_as_without_one(small_digits):
    X, y = small_digits
    params = dict(n_components=8, epochs=2, batch_size=32, random_state=0)
    plain = SiameseEmbedder(**params).fit(X, y)
    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        mirrored = SiameseEmbedder(**params).fit(X, y)
    assert plain.history_ == mirrored.history_
    np.testing.assert_array_equal(plain.transform(X), mirrored.transform(X))


def test_warm_start_moves_the_encoder_into_and_out_of_a_strategy(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(n_components=8, epochs=1, warm_start=True, random_state=0)
    embedder.fit(X, y)
    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        embedder.fit(X, y)
        assert isinstance(embedder.encoder_.weights[0].value, tf.distribute.DistributedValues)
    embedder.fit(X, y)
    assert not isinstance(embedder.encoder_.weights[0].value, tf.distribute.DistributedValues)
    assert embedder.n_iter_ == 3
