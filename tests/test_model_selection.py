"""SiameseEmbedder inside scikit-learn's model selection tools."""

import pytest
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from sksiamese import SiameseEmbedder


@pytest.mark.slow
def test_grid_search_over_margin_and_size_in_a_knn_pipeline(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
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
