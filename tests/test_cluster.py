"""GridSearchCV spread over a Dask cluster through joblib's Dask backend."""

import joblib
import numpy as np
import pytest
from dask.distributed import Client, LocalCluster, get_task_stream
from sklearn.model_selection import GridSearchCV

from sksiamese import SiameseEmbedder

pytestmark = pytest.mark.distributed


@pytest.mark.slow
def test_grid_search_runs_on_the_workers_of_a_local_dask_cluster(digits):
    X, y = digits
    X, y = X[:600], y[:600]
    grid = {"margin": [0.2, 0.5], "n_components": [4, 8]}
    embedder = SiameseEmbedder(epochs=2, random_state=0)
    here = GridSearchCV(embedder, grid, cv=2).fit(X, y)

    search = GridSearchCV(embedder, grid, cv=2, n_jobs=-1)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
        get_task_stream(client) as tasks,
        joblib.parallel_backend("dask"),
    ):
        search.fit(X, y)
        workers = set(client.scheduler_info()["workers"])
    assert len(workers) == 2
    # Both worker processes trained candidates.
    assert {task["worker"] for task in tasks.data} == workers
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], here.cv_results_["mean_test_score"], atol=1e-12
    )
    assert search.best_params_ == here.best_params_
    # The refit best estimator is an ordinary fitted embedder.
    assert search.transform(X[:5]).shape == (5, search.best_params_["n_components"])
