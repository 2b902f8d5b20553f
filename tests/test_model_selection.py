"""SiameseEmbedder inside scikit-learn's model selection tools."""

import io
import logging

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from sksiamese import SiameseEmbedder
from sksiamese._inference import EncoderRunner


@pytest.mark.slow
def test_grid_search_over_margin_and_size_in_a_knn_pipeline(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    pipeline = Pipeline(
        [("emb", SiameseEmbedder(random_state=0)), ("knn", KNeighborsClassifier(1))]
    )
    search = GridSearchCV(
        pipeline, {"emb__margin": [0.2, 0.5], "emb__n_components": [16, 32]}, cv=3, n_jobs=2
    ).fit(X_train, y_train)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["emb__margin"] in (0.2, 0.5)
    assert search.score(X_test, y_test) >= 0.97


def test_grid_search_scores_the_embedder_alone(small_digits):
    X, y = small_digits
    search = GridSearchCV(
        SiameseEmbedder(n_components=8, epochs=3, random_state=0), {"margin": [0.1, 1.0]}, cv=2
    ).fit(X, y)
    # The embedder's own score (precision at 1) ranks the candidates.
    assert 0.5 < search.best_score_ <= 1.0
    assert search.best_estimator_.score(X, y) > 0.5


@pytest.fixture
def tensorflow_log():
    """What TensorFlow's logger writes while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    tf.get_logger().addHandler(handler)
    yield stream
    tf.get_logger().removeHandler(handler)


@pytest.mark.slow
def test_cross_validation_logs_no_retracing_of_the_transform(small_digits, tensorflow_log):
    X, y = small_digits
    embedder = SiameseEmbedder(n_components=4, epochs=1, random_state=0)
    cross_val_score(embedder, X, y, cv=6)
    # Keras' own train function may warn (one per fit); the library's may not.
    retraced = [line for line in tensorflow_log.getvalue().splitlines() if "retracing" in line]
    assert not [line for line in retraced if "_Embed" in line or "EncoderRunner" in line]


def test_each_encoder_traces_its_transform_once(tensorflow_log):
    encoder = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    # As in a grid search: each fit makes a runner that embeds a few times.
    runners = [EncoderRunner(encoder, chunk_size=4) for _ in range(8)]
    for runner in runners:
        runner(np.ones((3, 3), np.float32))
    for runner in runners:
        for n_rows in (1, 3, 10):
            runner(np.ones((n_rows, 3), np.float32))
            runner(np.ones((n_rows, 3)))
        # float64 rows are cast to the encoder's float32: the same function.
        assert runner._compiled.experimental_get_tracing_count() == 1
    assert "retracing" not in tensorflow_log.getvalue()
