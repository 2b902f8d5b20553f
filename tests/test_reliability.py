"""Nothing lost, nothing silent: divergence, interrupts, checkpoints, threads, memory."""

import copy
import importlib
import os
import pickle
import threading
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

import keras
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import sksiamese
from sksiamese import SiameseEmbedder
from sksiamese._checkpoint import CHECKPOINT_NAME, read_checkpoint
from sksiamese.networks import build_mlp


class PoisonWeights(keras.callbacks.Callback):
    """Sets every weight to NaN when epoch ``at`` begins; records earlier weights."""

    def __init__(self, at):
        super().__init__()
        self.at = at
        self.weights_at_epoch_end = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights_at_epoch_end.append(self.model.encoder.get_weights())

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            encoder = self.model.encoder
            encoder.set_weights([np.full_like(w, np.nan) for w in encoder.get_weights()])


class Interrupt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt, as Ctrl-C does, after batch ``batch`` of epoch ``epoch``."""

    def __init__(self, epoch, batch=0):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            raise KeyboardInterrupt


# Divergence ------------------------------------------------------------------


class RecordStart(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = self.model.encoder.get_weights()


def test_a_huge_learning_rate_is_stopped_and_warned_about(digits):
    X, y = digits
    start = RecordStart()
    embedder = SiameseEmbedder(
        normalize=False, learning_rate=1e8, epochs=4, callbacks=[start], random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="diverged.*epoch 1.*its start.*learning_rate"):
        embedder.fit(X, y)
    assert embedder.n_iter_ == 0 and embedder.history_ == {"loss": []}
    for kept, initial in zip(embedder.encoder_.get_weights(), start.weights):
        np.testing.assert_array_equal(kept, initial)
    assert np.all(np.isfinite(embedder.transform(X)))


def test_divergence_mid_training_restores_the_last_finite_epoch(small_digits):
    X, y = small_digits
    poison = PoisonWeights(at=2)
    embedder = SiameseEmbedder(n_components=8, epochs=5, callbacks=[poison], random_state=0)
    with pytest.warns(ConvergenceWarning, match="epoch 3.*weights of epoch 2"):
        embedder.fit(X, y)
    assert embedder.n_iter_ == 2 and len(embedder.history_["loss"]) == 2
    assert all(np.isfinite(embedder.history_["loss"]))
    for kept, saved in zip(embedder.encoder_.get_weights(), poison.weights_at_epoch_end[1]):
        np.testing.assert_array_equal(kept, saved)
    assert np.all(np.isfinite(embedder.transform(X)))


def test_a_collapsed_embedding_is_warned_about(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(n_components=8, epochs=2, learning_rate=1e6, random_state=0)
    with pytest.warns(ConvergenceWarning, match="embedding collapsed.*margin=0.5.*learning_rate"):
        embedder.fit(X, y)


def test_a_loss_that_never_moves_is_warned_about():
    # Four rows, two per class: every batch holds all of them, so with a
    # learning rate of zero each epoch's loss is the same.
    X = np.random.default_rng(0).normal(size=(4, 3))
    embedder = SiameseEmbedder(
        n_components=2,
        epochs=3,
        batch_size=4,
        samples_per_class=2,
        optimizer=keras.optimizers.SGD(learning_rate=0.0),
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match="loss never moved.*all 3 epochs"):
        embedder.fit(X, [0, 0, 1, 1])


def test_a_fit_that_learns_is_not_warned_about(small_digits):
    X, y = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        SiameseEmbedder(n_components=8, epochs=2, random_state=0).fit(X, y)


def test_transform_refuses_to_return_non_finite_embeddings(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(n_components=4, epochs=1, random_state=0).fit(X, y)
    embedder.encoder_.set_weights([w * 1e30 for w in embedder.encoder_.get_weights()])
    with pytest.raises(ValueError, match="NaN or infinite embeddings.*learning_rate"):
        embedder.transform(X.astype(np.float32))


# Interrupts -------------------------------------------------------------------


def test_ctrl_c_leaves_a_usable_estimator(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(
        n_components=8, epochs=5, callbacks=[Interrupt(epoch=2)], random_state=0
    )
    with pytest.warns(UserWarning, match="interrupted.*2 complete epochs"):
        with pytest.raises(KeyboardInterrupt):
            embedder.fit(X, y)
    assert embedder.n_iter_ == 2
    embedded = embedder.transform(X)
    assert embedded.shape == (len(X), 8) and np.all(np.isfinite(embedded))
    restored = pickle.loads(pickle.dumps(embedder))
    np.testing.assert_array_equal(restored.transform(X), embedded)
    embedder.set_params(callbacks=None, warm_start=True, epochs=1).fit(X, y)
    assert embedder.n_iter_ == 3


def test_ctrl_c_keeps_weights_reached_mid_epoch(small_digits):
    X, y = small_digits
    recorder = PoisonWeights(at=-1)  # records only
    embedder = SiameseEmbedder(
        n_components=8,
        epochs=5,
        batch_size=32,
        callbacks=[recorder, Interrupt(epoch=1, batch=3)],
        random_state=0,
    )
    with pytest.warns(UserWarning, match="interrupted"), pytest.raises(KeyboardInterrupt):
        embedder.fit(X, y)
    # Four batches of epoch 2 were applied after epoch 1's weights.
    after_epoch_1 = recorder.weights_at_epoch_end[0]
    assert any(
        not np.array_equal(now, then)
        for now, then in zip(embedder.encoder_.get_weights(), after_epoch_1)
    )


# Failed fits -----------------------------------------------------------------


class Fail(keras.callbacks.Callback):
    """Raises an error at the end of the first epoch, once the weights have moved."""

    def on_epoch_end(self, epoch, logs=None):
        raise RuntimeError("callback failed")


def fitted_state(embedder):
    """Copies of every fitted attribute, the encoder's weights and the optimizer's state."""
    state = {
        name: value if name == "encoder_" else copy.deepcopy(value)
        for name, value in vars(embedder).items()
        if name.endswith("_")
    }
    state["weights"] = embedder.encoder_.get_weights()
    state["_runner"] = embedder._runner
    if hasattr(embedder, "_optimizer"):
        state["_optimizer"] = [v.numpy() for v in embedder._optimizer.variables]
    return state


def assert_same_state(before, after):
    assert before.keys() == after.keys()
    for name in before:
        if name in ("weights", "_optimizer"):
            assert len(before[name]) == len(after[name])
            for old, new in zip(before[name], after[name]):
                np.testing.assert_array_equal(old, new)
        elif isinstance(before[name], np.ndarray):
            np.testing.assert_array_equal(before[name], after[name])
        elif name in ("encoder_", "_runner"):
            assert before[name] is after[name]
        else:
            assert before[name] == after[name], name


@pytest.mark.parametrize("refit", ["fit", "warm_start", "partial_fit", "fit_pairs"])
def test_a_failed_fit_leaves_every_fitted_attribute_as_it_was(small_digits, refit):
    X, y = small_digits
    embedder = SiameseEmbedder(n_components=8, epochs=1, loss="contrastive", random_state=0)
    if refit == "partial_fit":
        embedder.partial_fit(X, y)
    else:
        embedder.fit(X, y)
    before, embedded = fitted_state(embedder), embedder.transform(X)
    embedder.set_params(callbacks=[Fail()])
    with pytest.raises(RuntimeError, match="callback failed"):
        if refit == "fit":
            # New rows of another shape and new classes, which a success would record.
            embedder.fit(X[:, :32], y + 10)
        elif refit == "warm_start":
            embedder.set_params(warm_start=True).fit(X, y)
        elif refit == "partial_fit":
            embedder.partial_fit(X, y + 10)
        else:
            pairs = np.stack([X[:100], X[100:200]], axis=1)
            embedder.fit_pairs(pairs, y[:100] == y[100:200])
    assert_same_state(before, fitted_state(embedder))
    np.testing.assert_array_equal(embedder.transform(X), embedded)


# Checkpoints ------------------------------------------------------------------


def test_checkpoint_holds_the_last_epoch_and_resumes(small_digits, tmp_path):
    X, y = small_digits
    first = SiameseEmbedder(n_components=8, epochs=3, checkpoint_dir=tmp_path, random_state=0).fit(
        X, y
    )
    assert os.listdir(tmp_path) == [CHECKPOINT_NAME]
    encoder, history = read_checkpoint(tmp_path)
    assert history == first.history_
    np.testing.assert_array_equal(
        encoder.predict(X[:20].astype(np.float32), verbose=0),
        first.encoder_.predict(X[:20].astype(np.float32), verbose=0),
    )
    # A new estimator (as in a new process) resumes from the folder.
    resumed = SiameseEmbedder(
        n_components=8, epochs=2, checkpoint_dir=tmp_path, warm_start=True, random_state=0
    ).fit(X, y)
    assert resumed.n_iter_ == 5 and resumed.history_["loss"][:3] == first.history_["loss"]
    assert read_checkpoint(tmp_path)[1] == resumed.history_


def test_checkpoint_of_an_interrupted_fit_resumes(small_digits, tmp_path):
    X, y = small_digits
    interrupted = SiameseEmbedder(
        n_components=8,
        epochs=5,
        checkpoint_dir=tmp_path,
        callbacks=[Interrupt(epoch=2)],
        random_state=0,
    )
    with pytest.warns(UserWarning, match="interrupted"), pytest.raises(KeyboardInterrupt):
        interrupted.fit(X, y)
    assert len(read_checkpoint(tmp_path)[1]["loss"]) == 2
    resumed = SiameseEmbedder(
        n_components=8, epochs=1, checkpoint_dir=tmp_path, warm_start=True, random_state=0
    ).fit(X, y)
    assert resumed.n_iter_ == 3


def test_without_warm_start_a_fit_starts_anew_and_overwrites(small_digits, tmp_path):
    X, y = small_digits
    SiameseEmbedder(n_components=8, epochs=3, checkpoint_dir=tmp_path, random_state=0).fit(X, y)
    fresh = SiameseEmbedder(n_components=8, epochs=1, checkpoint_dir=tmp_path, random_state=0).fit(
        X, y
    )
    assert fresh.n_iter_ == 1 and len(read_checkpoint(tmp_path)[1]["loss"]) == 1


def test_an_interrupted_checkpoint_write_keeps_the_previous_one(small_digits, tmp_path):
    X, y = small_digits
    from sksiamese import _checkpoint

    real = _checkpoint.save
    calls = []

    def fail_on_second_save(estimator, path):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(estimator, path)

    embedder = SiameseEmbedder(n_components=8, epochs=4, checkpoint_dir=tmp_path, random_state=0)
    with mock.patch.object(_checkpoint, "save", fail_on_second_save):
        with pytest.warns(UserWarning, match="interrupted"), pytest.raises(KeyboardInterrupt):
            embedder.fit(X, y)
    assert os.listdir(tmp_path) == [CHECKPOINT_NAME]
    assert len(read_checkpoint(tmp_path)[1]["loss"]) == 1


def test_the_checkpoint_of_an_interrupted_fit_loads_as_a_fitted_estimator(small_digits, tmp_path):
    X, y = small_digits
    names = np.array(list("abcdefghij"))[y]
    params = dict(n_components=8, epochs=5, checkpoint_dir=tmp_path, random_state=0)
    interrupted = SiameseEmbedder(**params, callbacks=[Interrupt(epoch=2)])
    with pytest.warns(UserWarning, match="interrupted"), pytest.raises(KeyboardInterrupt):
        interrupted.fit(X, names)
    loaded = sksiamese.load(tmp_path / CHECKPOINT_NAME)
    # The estimator after its last complete epoch, as a fit of two epochs leaves it.
    assert type(loaded) is SiameseEmbedder and loaded.get_params()["epochs"] == 5
    assert loaded.callbacks is None and loaded.n_iter_ == interrupted.n_iter_ == 2
    assert loaded.history_ == interrupted.history_
    np.testing.assert_array_equal(loaded.classes_, interrupted.classes_)
    two_epochs = SiameseEmbedder(**{**params, "epochs": 2, "checkpoint_dir": None}).fit(X, names)
    np.testing.assert_allclose(loaded.transform(X), two_epochs.transform(X), atol=1e-6)
    # It can be trained on from there, as any loaded estimator.
    loaded.set_params(warm_start=True, epochs=1, checkpoint_dir=None).fit(X, names)
    assert loaded.n_iter_ == 3


def test_checkpoint_dir_refuses_before_training_what_it_could_not_save(small_digits, tmp_path):
    X, y = small_digits
    embedder = SiameseEmbedder(
        network=lambda input_shape, n_components: build_mlp(input_shape, n_components),
        checkpoint_dir=tmp_path,
    )
    with mock.patch("sksiamese._engine.train") as train:
        with pytest.raises(ValueError, match="checkpoint_dir saves the estimator.*lambda"):
            embedder.fit(X, y)
    train.assert_not_called()
    assert os.listdir(tmp_path) == []


def test_resuming_checks_the_row_shape_before_training(small_digits, tmp_path):
    X, y = small_digits
    SiameseEmbedder(n_components=8, epochs=1, checkpoint_dir=tmp_path, random_state=0).fit(X, y)
    resumed = SiameseEmbedder(checkpoint_dir=tmp_path, warm_start=True)
    with mock.patch("sksiamese._engine.train") as train:
        with pytest.raises(ValueError, match="checkpoint.*rows of shape \\(64,\\).*\\(32,\\)"):
            resumed.fit(X[:, :32], y)
    train.assert_not_called()


def test_a_corrupt_checkpoint_is_a_clear_error(small_digits, tmp_path):
    X, y = small_digits
    (tmp_path / CHECKPOINT_NAME).write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="Cannot resume from the checkpoint"):
        SiameseEmbedder(checkpoint_dir=tmp_path, warm_start=True).fit(X, y)
    with zipfile.ZipFile(tmp_path / CHECKPOINT_NAME, "w") as archive:
        archive.writestr("state.json", "{}")
    with pytest.raises(ValueError, match="Cannot resume from the checkpoint"):
        SiameseEmbedder(checkpoint_dir=tmp_path, warm_start=True).fit(X, y)


# Threads and memory ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_from_eight_threads_matches_one_call(fitted, digits, dtype):
    X = digits[0][:1500].astype(dtype)
    # A fresh runner, so the threads also race to compile it.
    fitted = pickle.loads(pickle.dumps(fitted))
    expected = fitted.transform(X)
    fitted = pickle.loads(pickle.dumps(fitted))
    start = threading.Barrier(8)

    def embed(_):
        start.wait()
        return fitted.transform(X)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(embed, range(8)))
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_transform_memory_stays_near_the_output_size(monkeypatch):
    # Measured as the benchmarks measure it, in a fresh process with resident
    # memory sampled while transform runs: the process's peak (ru_maxrss) is
    # set by TensorFlow's start-up and would hide any growth below it.
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    harness = importlib.import_module("harness")
    infer = importlib.import_module("sections.infer")
    result = harness.run_child(infer.transform_memory_child, 1_000_000, "float32")
    growth_mb, output_mb = result["peak growth MB"], result["output MB"]
    assert output_mb == pytest.approx(122.07, abs=0.01)
    # The output must be allocated and the sampler must see it; beyond it, at
    # most a few chunks of working memory.
    assert output_mb - 8 < growth_mb < output_mb + 64
