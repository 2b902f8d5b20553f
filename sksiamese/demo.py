"""Few-shot recognition of digits never seen in training.

Run with ``python -m sksiamese.demo``. A :class:`~sksiamese.SiameseEmbedder`
learns a distance on scikit-learn's bundled digits 0-6. Then, for the digits
7-9 it has never seen, random episodes give it one (or five) labelled examples
per digit, and ``Pipeline([SiameseEmbedder, KNeighborsClassifier(1)])``
labels every other 7, 8 and 9. Nearest neighbours on raw pixels face the same
episodes.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from . import SiameseEmbedder

SEEN_DIGITS = range(7)


def episode_accuracy(model, X, y, *, n_shots, n_episodes, random_state=0):
    """Mean accuracy of ``model`` fitted on ``n_shots`` rows per class.

    Each episode draws ``n_shots`` support rows of every class in ``y``,
    fits ``model`` on them and scores it on all the remaining rows.
    """
    rng = np.random.default_rng(random_state)
    accuracies = []
    for _ in range(n_episodes):
        support = np.concatenate(
            [rng.choice(np.flatnonzero(y == c), n_shots, replace=False) for c in np.unique(y)]
        )
        query = np.setdiff1d(np.arange(len(y)), support)
        model.fit(X[support], y[support])
        accuracies.append(model.score(X[query], y[query]))
    return float(np.mean(accuracies))


def run(*, epochs=20, n_episodes=100, random_state=0):
    """Train on digits 0-6, evaluate few-shot on 7-9, return the results."""
    X, y = load_digits(return_X_y=True)
    seen = np.isin(y, SEEN_DIGITS)
    embedder = SiameseEmbedder(epochs=epochs, random_state=random_state)
    start = time.perf_counter()
    embedder.fit(X[seen], y[seen])
    fit_seconds = time.perf_counter() - start

    unseen_X, unseen_y = X[~seen], y[~seen]
    models = {
        "raw pixels + 1-NN": KNeighborsClassifier(1),
        "SiameseEmbedder + 1-NN": Pipeline(
            [("emb", FrozenEstimator(embedder)), ("knn", KNeighborsClassifier(1))]
        ),
    }
    accuracies = {
        name: {
            n_shots: episode_accuracy(
                model, unseen_X, unseen_y, n_shots=n_shots, n_episodes=n_episodes
            )
            for n_shots in (1, 5)
        }
        for name, model in models.items()
    }
    return {
        "n_train": int(seen.sum()),
        "n_unseen": int((~seen).sum()),
        "fit_seconds": fit_seconds,
        "epochs": embedder.n_iter_,
        "final_loss": embedder.history_["loss"][-1],
        "accuracy": accuracies,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--episodes", type=int, default=100)
    args = parser.parse_args(argv)
    result = run(epochs=args.epochs, n_episodes=args.episodes)
    print(
        f"Trained on digits 0-6 ({result['n_train']} images) in "
        f"{result['fit_seconds']:.1f} s, {result['epochs']} epochs, "
        f"final triplet loss {result['final_loss']:.4f}."
    )
    print(
        f"Recognising the unseen digits 7-9 ({result['n_unseen']} images), "
        f"mean over {args.episodes} random episodes (3-way):"
    )
    print(f"{'':24}  {'1-shot':>7}  {'5-shot':>7}")
    for name, by_shots in result["accuracy"].items():
        print(f"{name:24}  {by_shots[1]:7.3f}  {by_shots[5]:7.3f}")


if __name__ == "__main__":
    main()
