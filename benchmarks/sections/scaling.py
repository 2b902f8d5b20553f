"""Scaling: whole fits at n, 2n and 4n rows, next to scikit-learn's NCA.

Seconds, seconds per epoch, peak resident memory of a fresh process and
1-NN accuracy on held-out rows of a whole fit at n, 2n and 4n rows, next
to a whole fit of scikit-learn's NeighborhoodComponentsAnalysis at n.
"""

import numpy as np

from harness import epoch_timer, measure, resident_mb, run_child, spread


def run(args, data, train):
    return bench_scaling(2_000 if args.quick else 10_000)


def scaling_child(n_rows, method):
    """A whole fit of ``method`` on ``n_rows`` rows in this (fresh) process.

    50 overlapping Gaussian classes in 32 dimensions; 2,000 more rows of the
    same classes are held out and classified by 1-NN on the fitted
    embedding, and on the raw features for reference.
    ``siamese``: 4 epochs, the default mlp with 16 components. ``nca``:
    scikit-learn's ``NeighborhoodComponentsAnalysis``, 16 components, 20
    iterations at most. The peak is the process's whole resident peak.
    """
    from sklearn.neighbors import KNeighborsClassifier

    n_rows = int(n_rows)
    rng = np.random.default_rng(0)
    # Centres this close leave raw-feature 1-NN well short of perfect.
    centers = rng.normal(size=(50, 32)) * 0.7
    y = rng.integers(0, 50, n_rows + 2000)
    X = (centers[y] + rng.normal(size=(len(y), 32))).astype(np.float32)
    X_train, y_train, X_test, y_test = X[:n_rows], y[:n_rows], X[n_rows:], y[n_rows:]
    if method == "nca":
        from sklearn.neighbors import NeighborhoodComponentsAnalysis

        model = NeighborhoodComponentsAnalysis(n_components=16, max_iter=20, random_state=0)
        steps, unit = "iterations", None
    else:
        from sksiamese import SiameseEmbedder

        unit = epoch_timer()
        model = SiameseEmbedder(n_components=16, epochs=4, callbacks=[unit], random_state=0)
        steps = "epochs"
    _, seconds, _ = measure(lambda: model.fit(X_train, y_train))
    knn = KNeighborsClassifier(1).fit(model.transform(X_train), y_train)
    result = {
        "fit seconds": seconds,
        steps: int(model.n_iter_),
        "1-NN accuracy, held-out rows": knn.score(model.transform(X_test), y_test),
        "raw-feature 1-NN accuracy": KNeighborsClassifier(1)
        .fit(X_train, y_train)
        .score(X_test, y_test),
        "process peak resident MB": resident_mb()["peak"],
        "data MB": X_train.nbytes / 2**20,
    }
    if unit is not None:
        # The first epoch traces the step; the others are steady state.
        result["seconds per epoch"] = spread(unit.times[1:])
    return result


def bench_scaling(n):
    """Whole fits at ``n``, ``2n`` and ``4n`` rows, and NCA's at ``n``, each in a fresh process.

    Time and memory of a fit, with the 1-NN accuracy it reaches: the two
    methods do different work per step (an epoch of triplet batches against
    an iteration over all pairs), so they are compared on whole fits.
    """
    runs = [("siamese", n), ("siamese", 2 * n), ("siamese", 4 * n), ("nca", n)]
    return {f"{method} n={size}": run_child(scaling_child, size, method) for method, size in runs}
