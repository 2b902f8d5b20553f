"""Bad input gets a clear scikit-learn style error before any training."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from sksiamese import SiameseEmbedder

X = np.random.default_rng(0).normal(size=(40, 6))
y = np.arange(40) % 4


def never_trains(monkeypatch):
    """Fail loudly if fit reached the training loop."""

    def forbidden(*args, **kwargs):
        raise AssertionError("training started on invalid input")

    monkeypatch.setattr("sksiamese._embedder.train", forbidden)


def with_value(array, row, col, value):
    array = array.copy()
    array[row, col] = value
    return array


@pytest.mark.parametrize(
    "X_bad, y_bad, error, match",
    [
        (with_value(X, 3, 2, np.nan), y, ValueError, "NaN"),
        (with_value(X, 3, 2, np.inf), y, ValueError, "infinity"),
        (X, np.zeros(40), ValueError, "one class"),
        (X, np.linspace(0, 1, 40), ValueError, "continuous"),
        (X, None, ValueError, "requires y"),
        (np.empty((0, 6)), np.empty(0), ValueError, "0 sample"),
        (X[:, 0], y, ValueError, "Expected 2D array"),
        (X, y[:30], ValueError, "inconsistent numbers of samples"),
        (np.array([["a", "b"]] * 40), y, ValueError, "string"),
        (X[:1], y[:1], ValueError, "1 sample"),
        (X, np.c_[y, y], ValueError, "y should be a 1d array"),
    ],
    ids=["nan", "inf", "one-class", "continuous-y", "y-none", "empty", "1d-X",
         "length-mismatch", "text", "one-sample", "2d-y"],
)
def test_bad_training_input(monkeypatch, X_bad, y_bad, error, match):
    never_trains(monkeypatch)
    with pytest.raises(error, match=match):
        SiameseEmbedder().fit(X_bad, y_bad)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components": 0}, "n_components"),
        ({"margin": -1.0}, "margin"),
        ({"mining": "easy"}, "mining"),
        ({"distance": "manhattan"}, "distance"),
        ({"network": "transformer"}, "network"),
        ({"optimizer": "adagrad"}, "optimizer"),
        ({"batch_size": 1}, "batch_size"),
        ({"samples_per_class": 1}, "samples_per_class"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"loss": "hinge"}, "loss"),
        ({"callbacks": "EarlyStopping"}, "callbacks"),
    ],
)
def test_invalid_parameters(monkeypatch, params, match):
    never_trains(monkeypatch)
    with pytest.raises(InvalidParameterError, match=match):
        SiameseEmbedder(**params).fit(X, y)


@pytest.mark.parametrize(
    "params, X_bad, match",
    [
        ({"input_shape": (4, 4)}, X, "input_shape=\\(4, 4\\) holds 16 values per row but X has 6 features"),
        ({"input_shape": (0, 6)}, X, "positive ints"),
        ({"input_shape": (2.5, 2)}, X, "positive ints"),
        ({"network": "cnn"}, X, "needs input_shape"),
        ({"network": "cnn", "input_shape": (6,)}, X, "height, width, channels"),
        ({"input_shape": (3, 2)}, X.reshape(40, 2, 3), "rows of shape \\(2, 3\\)"),
    ],
)
def test_bad_shapes(monkeypatch, params, X_bad, match):
    never_trains(monkeypatch)
    with pytest.raises(ValueError, match=match):
        SiameseEmbedder(**params).fit(X_bad, y)


def test_custom_network_must_return_a_model_of_the_right_size():
    with pytest.raises(TypeError, match="must return a keras.Model"):
        SiameseEmbedder(network=lambda shape, n: "not a model").fit(X, y)

    def wrong_size(input_shape, n_components):
        import keras

        inputs = keras.Input(input_shape)
        return keras.Model(inputs, keras.layers.Dense(n_components + 1)(inputs))

    with pytest.raises(ValueError, match="expected \\(3,\\)"):
        SiameseEmbedder(network=wrong_size, n_components=3).fit(X, y)


def test_transform_before_fit():
    with pytest.raises(NotFittedError):
        SiameseEmbedder().transform(X)


@pytest.fixture(scope="module")
def fitted():
    return SiameseEmbedder(n_components=3, epochs=1, random_state=0).fit(X, y)


@pytest.mark.parametrize(
    "X_bad, match",
    [
        (X[:, :5], "X has 5 features, but SiameseEmbedder is expecting 6"),
        (with_value(X, 0, 0, np.nan), "NaN"),
        (X[0], "Expected 2D array"),
        (np.array([["a"] * 6]), "string"),
        (X.reshape(40, 3, 2), "rows of shape \\(3, 2\\)"),
    ],
)
def test_bad_transform_input_leaves_estimator_usable(fitted, X_bad, match):
    before = fitted.transform(X)
    with pytest.raises(ValueError, match=match):
        fitted.transform(X_bad)
    np.testing.assert_array_equal(fitted.transform(X), before)


def test_rejected_refit_keeps_the_fitted_model(fitted):
    before = fitted.transform(X)
    with pytest.raises(ValueError, match="one class"):
        fitted.fit(np.zeros((10, 9)), np.zeros(10))
    assert fitted.n_features_in_ == 6
    np.testing.assert_array_equal(fitted.transform(X), before)


def test_warm_start_rejects_rows_of_another_shape():
    embedder = SiameseEmbedder(n_components=3, epochs=1, warm_start=True, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="warm_start"):
        embedder.fit(X[:, :5], y)
    assert embedder.n_features_in_ == 6


def test_float32_and_integer_input_just_work():
    embedder = SiameseEmbedder(n_components=3, epochs=1, random_state=0)
    assert embedder.fit_transform(X.astype(np.float32), y).dtype == np.float32
    assert embedder.fit_transform((X * 10).astype(np.int64), y).dtype == np.float64


def test_score_checks_its_labels(fitted):
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fitted.score(X, y[:10])
    with pytest.raises(ValueError, match="at least 2 samples"):
        fitted.score(X[:1], y[:1])
