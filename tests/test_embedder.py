"""Behaviour of SiameseEmbedder: learning, reproducibility, persistence, Keras hooks."""

import pickle
import random

import joblib
import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from tensorflow.python.framework import config as tf_config

from sksiamese import SiameseEmbedder
from sksiamese.losses import triplet_loss
from sksiamese.metrics import mean_average_precision_at_r, precision_at_1


def dense_network(input_shape, n_components):
    """A custom network, defined at module level so it pickles."""
    inputs = keras.Input(input_shape)
    hidden = keras.layers.Dense(32, activation="relu")(inputs)
    hidden = keras.layers.Dropout(0.1)(hidden)
    return keras.Model(inputs, keras.layers.Dense(n_components)(hidden))


def semi_hard_triplet_loss(labels, embeddings):
    """A callable loss: the built-in default, spelt out."""
    return triplet_loss(labels, embeddings, margin=0.5, mining="semi-hard", distance="euclidean")


def test_a_callable_loss_trains_like_the_loss_it_computes(small_digits):
    X, y = small_digits
    params = dict(n_components=4, epochs=2, random_state=0)
    by_name = SiameseEmbedder(**params).fit(X, y)
    by_callable = SiameseEmbedder(loss=semi_hard_triplet_loss, **params).fit(X, y)
    # The callable decides its way of mining per batch and the named loss
    # when traced, so their graphs differ: equal up to float rounding.
    np.testing.assert_allclose(by_callable.history_["loss"], by_name.history_["loss"], rtol=1e-5)
    np.testing.assert_allclose(by_callable.transform(X), by_name.transform(X), atol=1e-5)
    pickle.loads(pickle.dumps(by_callable))


def test_fit_transform_shapes_and_unit_norm(fitted, small_digits):
    X, y = small_digits
    Z = fitted.transform(X)
    assert Z.shape == (len(X), 8) and Z.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, rtol=1e-6)
    assert fitted.n_features_in_ == 64
    assert fitted.input_shape_ == (64,)
    assert list(fitted.classes_) == list(range(10))
    assert fitted.n_iter_ == 3 and len(fitted.history_["loss"]) == 3
    assert fitted.encoder_.input_shape == (None, 64)
    assert fitted.encoder_.output_shape == (None, 8)


def test_transform_matches_the_keras_encoder(fitted, small_digits):
    X, _ = small_digits
    expected = fitted.encoder_.predict(X[:50].astype(np.float32), verbose=0)
    np.testing.assert_allclose(fitted.transform(X[:50]), expected, atol=1e-5)
    got32 = fitted.transform(X[:50].astype(np.float32))
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, expected, atol=1e-6)


def test_transform_does_not_depend_on_the_batch(fitted, small_digits):
    X, _ = small_digits
    whole = fitted.transform(X)
    one_by_one = np.vstack([fitted.transform(X[i : i + 1]) for i in range(20)])
    # The encoder computes in float32, whose kernels may round a row
    # differently in batches of other sizes.
    np.testing.assert_allclose(one_by_one, whole[:20], rtol=1e-5, atol=1e-6)


def test_float64_rows_are_embedded_as_their_float32_cast(fitted, small_digits):
    X, _ = small_digits
    embedded = fitted.transform(X)
    assert embedded.dtype == np.float64
    np.testing.assert_array_equal(embedded, fitted.transform(X.astype(np.float32)))


@pytest.mark.parametrize("mining", ["semi-hard", "hard", "all"])
@pytest.mark.parametrize("distance", ["euclidean", "sqeuclidean", "cosine"])
def test_training_separates_classes(digits, mining, distance):
    X, y = digits
    train, test = slice(0, 1000), slice(1000, None)
    embedder = SiameseEmbedder(
        n_components=16, epochs=4, mining=mining, distance=distance, random_state=0
    ).fit(X[train], y[train])
    losses = embedder.history_["loss"]
    assert losses[-1] < 0.7 * losses[0]
    # Against nearest neighbours on the raw pixels of the same held-out rows
    # (0.989): four epochs come within 0.04 of them (0.951 to 0.972 measured).
    baseline = precision_at_1(X[test], y[test])
    assert embedder.score(X[test], y[test]) > baseline - 0.05


def test_same_seed_gives_bit_identical_embeddings(small_digits):
    X, y = small_digits
    params = dict(n_components=4, epochs=2, random_state=3)
    first = SiameseEmbedder(**params).fit(X, y)
    second = SiameseEmbedder(**params).fit(X, y)
    assert np.array_equal(first.transform(X), second.transform(X))
    assert first.history_ == second.history_
    other = SiameseEmbedder(**{**params, "random_state": 4}).fit(X, y)
    assert not np.allclose(first.transform(X), other.transform(X))


def test_custom_network_with_dropout_is_reproducible(small_digits):
    X, y = small_digits
    params = dict(network=dense_network, n_components=4, epochs=2, random_state=0)
    first = SiameseEmbedder(**params).fit(X, y).transform(X)
    second = SiameseEmbedder(**params).fit(X, y).transform(X)
    assert np.array_equal(first, second)


def test_seeding_does_not_leak_into_global_state(small_digits):
    X, y = small_digits
    numpy_state = np.random.get_state()
    draws = []
    for _ in range(2):
        SiameseEmbedder(n_components=4, epochs=1, random_state=0).fit(X, y)
        # A fit that seeded a global generator would make these repeat.
        draws.append((random.random(), np.random.random(), float(tf.random.uniform([]))))
    assert draws[0][0] != draws[1][0]
    assert draws[0][2] != draws[1][2]
    np.random.set_state(numpy_state)
    np.random.random()
    SiameseEmbedder(n_components=4, epochs=1, random_state=0).fit(X, y)
    np.random.set_state(numpy_state)
    assert np.random.random() == draws[0][1]  # numpy's global generator was not touched
    assert not tf_config.is_op_determinism_enabled()
    # Later unseeded fits are not pinned to one result.
    first = SiameseEmbedder(n_components=4, epochs=1).fit(X, y).transform(X)
    second = SiameseEmbedder(n_components=4, epochs=1).fit(X, y).transform(X)
    assert not np.allclose(first, second)


@pytest.mark.parametrize("dump_load", ["pickle", "joblib", "clone_refit"])
def test_persistence_round_trip(fitted, small_digits, dump_load, tmp_path):
    X, y = small_digits
    if dump_load == "pickle":
        restored = pickle.loads(pickle.dumps(fitted))
    elif dump_load == "joblib":
        joblib.dump(fitted, tmp_path / "model.joblib")
        restored = joblib.load(tmp_path / "model.joblib")
    else:
        restored = clone(fitted)
        assert restored.get_params() == fitted.get_params()
        with pytest.raises(NotFittedError, match="not fitted"):
            restored.transform(X)
        restored.fit(X, y)
    assert np.array_equal(restored.transform(X), fitted.transform(X))
    assert restored.history_ == fitted.history_


def test_custom_network_pickles(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(network=dense_network, n_components=4, epochs=1, random_state=0)
    embedder.fit(X, y)
    restored = pickle.loads(pickle.dumps(embedder))
    assert np.array_equal(restored.transform(X), embedder.transform(X))


def test_cnn_takes_flat_and_image_shaped_rows(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(
        network="cnn", input_shape=(8, 8), n_components=4, epochs=1, random_state=0
    ).fit(X, y)
    assert embedder.input_shape_ == (8, 8, 1)
    assert embedder.encoder_.input_shape == (None, 8, 8, 1)
    flat = embedder.transform(X)
    np.testing.assert_array_equal(embedder.transform(X.reshape(-1, 8, 8, 1)), flat)
    np.testing.assert_array_equal(embedder.transform(X.reshape(-1, 8, 8)), flat)
    images = SiameseEmbedder(network="cnn", n_components=4, epochs=1, random_state=0)
    images.fit(X.reshape(-1, 8, 8, 1), y)
    assert images.n_features_in_ == 64
    np.testing.assert_array_equal(images.transform(X), images.transform(X.reshape(-1, 8, 8, 1)))


def test_mlp_reshapes_rows_to_input_shape(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(input_shape=(8, 8), n_components=4, epochs=1, random_state=0)
    embedder.fit(X, y)
    assert embedder.encoder_.input_shape == (None, 8, 8)


def test_warm_start_continues_and_grows_history(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(n_components=4, epochs=2, random_state=0, warm_start=True)
    embedder.fit(X, y)
    encoder, first_losses = embedder.encoder_, list(embedder.history_["loss"])
    embedder.fit(X, y)
    assert embedder.encoder_ is encoder
    assert embedder.n_iter_ == 4
    assert embedder.history_["loss"][:2] == first_losses
    embedder.set_params(warm_start=False).fit(X, y)
    assert embedder.encoder_ is not encoder and embedder.n_iter_ == 2


def test_early_stopping_monitors_validation_loss(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(
        n_components=4,
        epochs=60,
        early_stopping=True,
        n_iter_no_change=2,
        validation_fraction=0.2,
        random_state=0,
    ).fit(X, y)
    assert set(embedder.history_) == {"loss", "val_loss"}
    assert len(embedder.history_["val_loss"]) == embedder.n_iter_
    assert embedder.n_iter_ < 60


def recording_reader(monkeypatch):
    """Record the indices of every row that training reads; returns the list."""
    from sksiamese import _engine

    real, read = _engine.row_reader, []

    def reader(rows):
        read_rows = real(rows)

        def record(indices):
            read.append(indices.copy())
            return indices

        def wrapped(indices):
            seen = tf.numpy_function(record, [indices], indices.dtype)
            return read_rows(tf.ensure_shape(seen, indices.shape))

        return wrapped

    monkeypatch.setattr(_engine, "row_reader", reader)
    return read


def test_validation_on_classes_holds_them_out_and_logs_their_map_at_r(small_digits, monkeypatch):
    X, y = small_digits
    read = recording_reader(monkeypatch)
    embedder = SiameseEmbedder(
        n_components=8,
        epochs=4,
        early_stopping=True,
        validation="classes",
        validation_fraction=0.2,
        n_iter_no_change=10,
        random_state=0,
    ).fit(X, y)
    trained_on = np.unique(y[np.concatenate(read)])
    held_out = np.setdiff1d(y, trained_on)
    # 20% of the 10 classes, none of whose rows was ever in a batch.
    assert len(held_out) == 2 and len(trained_on) == 8
    assert set(embedder.history_) == {"loss", "val_map_at_r"}
    scores = embedder.history_["val_map_at_r"]
    assert len(scores) == embedder.n_iter_ == 4
    # The best epoch's weights are restored: its score is the held-out
    # classes' MAP@R now.
    rows = np.isin(y, held_out)
    embedded = embedder.transform(X[rows].astype(np.float32))
    assert mean_average_precision_at_r(embedded, y[rows]) == max(scores)


def test_validation_on_classes_holds_out_whole_groups(small_digits, monkeypatch):
    X, y = small_digits
    read = recording_reader(monkeypatch)
    SiameseEmbedder(
        n_components=4,
        epochs=1,
        early_stopping=True,
        validation="classes",
        validation_fraction=0.2,
        random_state=0,
    ).fit(X, y, groups=y // 2)
    held_out = np.setdiff1d(y, y[np.concatenate(read)])
    # One of the five groups, both of its classes.
    assert len(held_out) == 2 and held_out[0] // 2 == held_out[1] // 2


def test_early_stopping_on_classes_stops_on_the_score_and_keeps_the_best_epoch(
    small_digits, monkeypatch
):
    from sksiamese import _engine

    X, y = small_digits
    scripted = iter([0.5, 0.7, 0.6, 0.65, 0.9, 0.95])
    monkeypatch.setattr(_engine, "mean_average_precision_at_r", lambda *a, **k: next(scripted))
    weights = []
    recorder = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: weights.append(recorder.model.encoder.get_weights())
    )
    embedder = SiameseEmbedder(
        n_components=4,
        epochs=6,
        early_stopping=True,
        validation="classes",
        validation_fraction=0.2,
        n_iter_no_change=2,
        callbacks=[recorder],
        random_state=0,
    ).fit(X, y)
    # Two epochs without beating 0.7 stop training after the fourth.
    assert embedder.history_["val_map_at_r"] == [0.5, 0.7, 0.6, 0.65]
    assert embedder.n_iter_ == 4
    for now, best in zip(embedder.encoder_.get_weights(), weights[1]):
        np.testing.assert_array_equal(now, best)
    assert not all(
        np.array_equal(now, last) for now, last in zip(embedder.encoder_.get_weights(), weights[3])
    )


def test_keras_callbacks_see_every_epoch(small_digits):
    X, y = small_digits

    class Recorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs, self.batches = [], 0

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(logs["loss"])
            assert self.model.encoder.output_shape == (None, 4)

    recorder = Recorder()
    embedder = SiameseEmbedder(n_components=4, epochs=3, batch_size=32, callbacks=[recorder])
    embedder.fit(X, y)
    assert recorder.epochs == pytest.approx(embedder.history_["loss"])
    assert recorder.batches == 3 * int(np.ceil(len(X) / 32))


def test_estimator_with_callbacks_stays_clonable_and_picklable(small_digits):
    X, y = small_digits
    stopping = keras.callbacks.EarlyStopping(monitor="loss", patience=1)
    embedder = SiameseEmbedder(n_components=4, epochs=2, callbacks=[stopping], random_state=0)
    embedder.fit(X, y)
    assert stopping.model is None
    restored = pickle.loads(pickle.dumps(embedder))
    np.testing.assert_array_equal(restored.transform(X[:5]), embedder.transform(X[:5]))
    refit = clone(embedder).fit(X, y)
    np.testing.assert_array_equal(refit.transform(X[:5]), embedder.transform(X[:5]))


def test_callback_can_stop_training(small_digits):
    X, y = small_digits
    stop = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: setattr(stop.model, "stop_training", epoch >= 1)
    )
    embedder = SiameseEmbedder(n_components=4, epochs=10, callbacks=[stop]).fit(X, y)
    assert embedder.n_iter_ == 2


def test_verbose_shows_keras_progress(small_digits, capsys):
    X, y = small_digits
    SiameseEmbedder(n_components=4, epochs=2, verbose=2, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out
    SiameseEmbedder(n_components=4, epochs=1, verbose=0, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""


def test_optimizer_instance_is_copied_not_shared(small_digits):
    X, y = small_digits
    optimizer = keras.optimizers.SGD(learning_rate=0.05)
    embedder = SiameseEmbedder(n_components=4, epochs=1, optimizer=optimizer, random_state=0)
    embedder.fit(X, y)
    assert optimizer.iterations.numpy() == 0
    assert embedder.get_params()["optimizer"] is optimizer


def test_string_labels_dataframes_and_set_output(small_digits):
    pd = pytest.importorskip("pandas")
    X, y = small_digits
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(64)])
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )
    embedder = SiameseEmbedder(n_components=3, epochs=6, random_state=0).set_output(
        transform="pandas"
    )
    out = embedder.fit_transform(frame, names[y])
    assert list(embedder.feature_names_in_) == list(frame.columns)
    assert list(out.columns) == ["siameseembedder0", "siameseembedder1", "siameseembedder2"]
    assert set(embedder.classes_) == set(names)
    np.testing.assert_array_equal(embedder.get_feature_names_out(), out.columns)
    # Three components keep most of the raw pixels' neighbours after six
    # epochs (0.91 to 0.93 over seeds 0-2, against 0.96; at three epochs
    # 0.76 to 0.83, too close to the bound); chance is 0.1.
    assert embedder.score(frame, names[y]) > precision_at_1(X, y) - 0.2


def test_score_is_precision_at_one(fitted, small_digits):
    X, y = small_digits
    assert fitted.score(X, y) == precision_at_1(fitted.transform(X), y)
    assert fitted.score(X, y) > precision_at_1(X, y) - 0.02  # 0.967 against 0.960


def test_precision_at_one_leaves_each_row_out():
    # Without leaving rows out every row would be its own nearest neighbour.
    embeddings = np.array([[0.0], [0.5], [3.0], [3.5]])
    assert precision_at_1(embeddings, [0, 1, 0, 1]) == 0.0
    assert precision_at_1(embeddings, [0, 0, 1, 1]) == 1.0


def test_transform_from_threads_matches_one_call(fitted, small_digits):
    from concurrent.futures import ThreadPoolExecutor

    X, _ = small_digits
    expected = fitted.transform(X)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: fitted.transform(X), range(8)))
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_saved_encoder_is_a_plain_keras_model(fitted, small_digits, tmp_path):
    X, _ = small_digits
    path = tmp_path / "encoder.keras"
    fitted.encoder_.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        loaded.predict(X[:10], verbose=0), fitted.transform(X[:10].astype(np.float32)), atol=1e-6
    )


@pytest.mark.slow
def test_augmentation_trains_images_reproducibly(small_digits):
    X, y = small_digits
    params = dict(
        network="cnn", input_shape=(8, 8, 1), n_components=4, epochs=2, augment=True, random_state=0
    )
    first = SiameseEmbedder(**params).fit(X, y)
    second = SiameseEmbedder(**params).fit(X, y)
    plain = SiameseEmbedder(**{**params, "augment": False}).fit(X, y)
    assert np.array_equal(first.transform(X), second.transform(X))
    # Augmented batches differ from the plain ones, so training does too.
    assert first.history_["loss"] != plain.history_["loss"]
    with pytest.raises(ValueError, match="augment=True transforms images"):
        SiameseEmbedder(augment=True).fit(X, y)
    # The default augments the cnn only.
    default = SiameseEmbedder(**{**params, "augment": None}).fit(X, y)
    assert default.history_ == first.history_
    SiameseEmbedder(n_components=4, epochs=1).fit(X, y)


def test_rotated_classes_train_on_turned_copies_of_square_images(small_digits):
    X, y = small_digits
    params = dict(
        network="cnn",
        n_components=4,
        epochs=1,
        augment=False,
        mirrored_classes=False,
        random_state=0,
    )

    def history(**changes):
        return SiameseEmbedder(**{**params, **changes}).fit(X, y).history_

    turned = SiameseEmbedder(**params, input_shape=(8, 8), rotated_classes=True).fit(X, y)
    # The turned copies train as classes of their own; classes_ stays y's.
    np.testing.assert_array_equal(turned.classes_, np.arange(10))
    assert turned.history_ != history(input_shape=(8, 8), rotated_classes=False)
    # The default turns the cnn's square images, and only those.
    assert history(input_shape=(8, 8)) == turned.history_
    assert history(input_shape=(4, 16)) == history(input_shape=(4, 16), rotated_classes=False)
    with pytest.raises(ValueError, match="rotated_classes=True turns images by quarter turns"):
        SiameseEmbedder(**params, input_shape=(4, 16), rotated_classes=True).fit(X, y)


def test_mirrored_classes_train_on_mirrored_copies_of_images(small_digits):
    X, y = small_digits
    params = dict(n_components=4, epochs=1, augment=False, rotated_classes=False, random_state=0)

    def history(**changes):
        return SiameseEmbedder(**{**params, **changes}).fit(X, y).history_

    cnn = dict(network="cnn", input_shape=(4, 16))
    mirrored = SiameseEmbedder(**params, **cnn, mirrored_classes=True).fit(X, y)
    # The mirrored copies train as classes of their own; classes_ stays y's.
    np.testing.assert_array_equal(mirrored.classes_, np.arange(10))
    assert mirrored.history_ != history(**cnn, mirrored_classes=False)
    # The default mirrors the cnn's images, square or not, and no other network's.
    assert history(**cnn) == mirrored.history_
    mlp = dict(network="mlp", input_shape=(8, 8, 1))
    assert history(**mlp) == history(**mlp, mirrored_classes=False)
    assert history(**mlp) != history(**mlp, mirrored_classes=True)
    # With rotated classes, each turn is mirrored too: eight classes per class.
    both = dict(network="cnn", input_shape=(8, 8), rotated_classes=True)
    assert history(**both) != history(**both, mirrored_classes=False)
    with pytest.raises(ValueError, match="mirrored_classes=True mirrors images left to right"):
        SiameseEmbedder(**params, mirrored_classes=True).fit(X, y)


def shifted_by_padding(images, down, right):
    """``images`` moved by edge padding and cropping: another way than the library's."""
    margin = max(abs(down), abs(right))
    padded = np.pad(images, ((0, 0), (margin, margin), (margin, margin), (0, 0)), mode="edge")
    height, width = images.shape[1:3]
    top, left = margin - down, margin - right
    return padded[:, top : top + height, left : left + width]


def unit_rows(rows):
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize("test_time_shifts", [1, 2])
def test_test_time_shifts_embed_the_mean_of_shifted_images(small_digits, test_time_shifts):
    X, y = small_digits
    embedder = SiameseEmbedder(
        network="cnn", input_shape=(8, 8, 1), n_components=4, epochs=1, random_state=0
    ).fit(X, y)
    plain = embedder.transform(X)
    weights = [weight.copy() for weight in embedder.encoder_.get_weights()]
    images = X.reshape(-1, 8, 8, 1).astype(np.float32)
    offsets = [(0, 0)] + [
        offset
        for distance in range(1, test_time_shifts + 1)
        for offset in ((distance, 0), (-distance, 0), (0, distance), (0, -distance))
    ]
    expected = unit_rows(
        np.mean(
            [
                unit_rows(embedder.encoder_(shifted_by_padding(images, *offset)).numpy())
                for offset in offsets
            ],
            axis=0,
        )
    )
    # Set after fit, it takes effect at once: training is not involved.
    embedder.set_params(test_time_shifts=test_time_shifts)
    shifted = embedder.transform(X)
    np.testing.assert_allclose(shifted, expected, atol=1e-6)
    assert np.abs(shifted - plain).max() > 1e-3
    np.testing.assert_allclose(np.linalg.norm(shifted, axis=1), 1.0, atol=1e-6)
    # Chunked (and memory-mapped-like) inputs average alike.
    embedder._runner.chunk_size = 7
    np.testing.assert_allclose(embedder.transform(X), shifted, atol=1e-7)
    for weight, kept in zip(embedder.encoder_.get_weights(), weights):
        np.testing.assert_array_equal(weight, kept)
    np.testing.assert_array_equal(embedder.set_params(test_time_shifts=0).transform(X), plain)


def test_test_time_shifts_need_images_that_can_be_shifted(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="test_time_shifts=1 shifts images"):
        SiameseEmbedder(n_components=4, epochs=1, test_time_shifts=1).fit(X, y)
    with pytest.raises(ValueError, match="by their whole height or width"):
        SiameseEmbedder(network="cnn", input_shape=(8, 8, 1), epochs=1, test_time_shifts=8).fit(
            X, y
        )
    # Set on a fitted embedder of flat rows: refused at transform, the
    # embedder unharmed.
    embedder = SiameseEmbedder(n_components=4, epochs=1, random_state=0).fit(X, y)
    before = embedder.transform(X)
    embedder.set_params(test_time_shifts=1)
    with pytest.raises(ValueError, match="test_time_shifts=1 shifts images"):
        embedder.transform(X)
    np.testing.assert_array_equal(embedder.set_params(test_time_shifts=0).transform(X), before)


def test_auto_learning_rate_is_larger_for_the_cnn(small_digits):
    X, y = small_digits
    params = dict(n_components=4, epochs=1, random_state=0)

    def history(**changes):
        return SiameseEmbedder(**{**params, **changes}).fit(X, y).history_

    cnn = dict(network="cnn", input_shape=(8, 8), augment=False, rotated_classes=False)
    assert (
        history(**cnn) == history(**cnn, learning_rate=3e-3) != history(**cnn, learning_rate=1e-3)
    )
    assert history() == history(learning_rate=1e-3)


def test_few_shot_accuracy_against_a_hand_count():
    from sksiamese.metrics import few_shot_accuracy

    # Three classes on a line; class 2 sits between 0 and 1 with wide spread,
    # so 1-shot episodes sometimes fail and accuracy lies strictly inside (1/3, 1).
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 10)
    points = np.concatenate(
        [rng.normal(0, 0.1, 10), rng.normal(4, 0.1, 10), rng.normal(2, 1.5, 10)]
    )[:, None]
    accuracy = few_shot_accuracy(points, labels, n_way=3, n_episodes=300, random_state=0)
    assert 0.5 < accuracy < 0.99
    separated = np.repeat([0.0, 10.0, 20.0], 10)[:, None] + rng.normal(0, 0.1, (30, 1))
    assert few_shot_accuracy(separated, labels, n_way=3, n_episodes=20, random_state=0) == 1.0
    groups = np.repeat(["a", "a", "b"], 10)
    with pytest.raises(ValueError, match="No group has 3 classes"):
        few_shot_accuracy(points, labels, n_way=3, groups=groups)
    # Within-group episodes: only group "a" has 2 classes.
    assert (
        few_shot_accuracy(separated, labels, n_way=2, groups=groups, n_episodes=5, random_state=0)
        == 1.0
    )


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("container", [list, lambda labels: np.array(labels, dtype=object)])
def test_labels_mixing_strings_and_numbers_are_refused(method, container, fitted, small_digits):
    X, y = small_digits
    # NumPy would turn them all into strings, making 1 and "1" one class.
    mixed = container([f"c{label}" if label % 2 else int(label) for label in y])
    model = pickle.loads(pickle.dumps(fitted))
    weights = model.encoder_.get_weights()
    with pytest.raises(ValueError, match=r"Mix of label input types \(string and number\): "):
        getattr(model, method)(X, mixed)
    assert model.n_iter_ == fitted.n_iter_
    np.testing.assert_array_equal(model.classes_, fitted.classes_)
    for before, after in zip(weights, model.encoder_.get_weights()):
        np.testing.assert_array_equal(before, after)
