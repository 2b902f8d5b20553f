"""Data that several benchmark sections share: Omniglot's alphabets and galleries of vectors."""

import numpy as np

from harness import timed_fit

TRAIN_ALPHABETS = ("Balinese", "Korean", "Latin")
TEST_ALPHABETS = ("Early_Aramaic", "Greek")


def omniglot_split(path=None):
    """Omniglot's five background alphabets, bundled (or read from ``path``, a zip).

    Returns the data set and a mask of the rows of the training alphabets.
    """
    from sksiamese.datasets import load_omniglot, load_omniglot_zip

    data = load_omniglot() if path is None else load_omniglot_zip(path)
    data.images = data.images.reshape(len(data.images), 28, 28, 1)
    train = np.isin(data.alphabet, TRAIN_ALPHABETS)
    return data, train


def omniglot_budget(quick):
    """``(epochs, episodes)`` of the sections that train the cnn on Omniglot and score it."""
    return (10, 200) if quick else (40, 1000)


def unseen_alphabet_scores(embedder, data, test, *, tasks, episodes):
    """Fit ``embedder`` on the rows outside ``test``; its seconds and few-shot accuracy on ``test``.

    ``tasks`` maps each result's name to ``(n_way, n_shot)``; episodes are
    drawn within one alphabet (Lake's protocol).
    """
    from sksiamese.metrics import few_shot_accuracy

    row = timed_fit(lambda: embedder.fit(data.images[~test], data.target[~test]))
    embedded = embedder.transform(data.images[test])
    for name, (n_way, n_shot) in tasks.items():
        row[name] = few_shot_accuracy(
            embedded,
            data.target[test],
            n_way=n_way,
            n_shot=n_shot,
            n_episodes=episodes,
            groups=data.alphabet[test],
            random_state=0,
        )
    return row


def gallery_data(folder, n_rows, *, n_features=64, per_identity=5, n_queries=1000, n_added=30_000):
    """Clustered unit vectors, written to ``folder`` as .npy files.

    Identities of ``per_identity`` enrolments each lie around 1,000 cluster
    centres; the queries are new rows of enrolled identities, and
    ``n_added`` rows of new identities are kept for ``partial_fit``.
    """
    rng = np.random.default_rng(0)
    # Gaussian noise of spread s has a norm of about s * sqrt(n_features):
    # spreads scaled by sqrt(64 / n_features) keep the distances below, and
    # so how hard the search is, those of 64 features at any width.
    scale = np.sqrt(64 / n_features)

    def unit(rows):
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

    clusters = unit(rng.standard_normal((1000, n_features)))
    n_identities = n_rows // per_identity
    # The spreads put an identity's rows about 0.4 apart and identities of
    # one cluster about 1.0, out of at most 2 between unit vectors.
    centres = unit(
        clusters[rng.integers(0, 1000, n_identities + n_added)]
        + 0.09 * scale * rng.standard_normal((n_identities + n_added, n_features))
    )
    y = np.repeat(np.arange(n_identities), per_identity)
    X = np.lib.format.open_memmap(
        folder / "X.npy", mode="w+", dtype=np.float32, shape=(len(y), n_features)
    )
    for start in range(0, len(y), 100_000):
        part = y[start : start + 100_000]
        X[start : start + len(part)] = unit(
            centres[part] + 0.035 * scale * rng.standard_normal((len(part), n_features))
        )
    X.flush()
    del X
    np.save(folder / "y.npy", y)
    enrolled = rng.integers(0, n_identities, n_queries)
    np.save(
        folder / "queries.npy",
        unit(centres[enrolled] + 0.035 * scale * rng.standard_normal((n_queries, n_features))),
    )
    np.save(
        folder / "added.npy",
        unit(centres[n_identities:] + 0.035 * scale * rng.standard_normal((n_added, n_features))),
    )
    return n_identities
