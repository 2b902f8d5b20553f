"""Few-shot quality on Omniglot's unseen alphabets.

Omniglot (bundled with sksiamese, or ``--omniglot`` zip): train on three
alphabets, 20-way and 5-way 1-shot episodes on the two others, within one
alphabet (Lake's protocol) and across both; raw pixels and PCA as
baselines; the default cnn against variants: without augmentation, other
minings, 64 components; and what ``python -m sksiamese.demo`` prints (the
README quotes it).
"""

import os
import subprocess
import sys

from data import omniglot_budget
from harness import timed_fit


def run(args, data, train):
    epochs, episodes = omniglot_budget(args.quick)
    results = bench_fewshot(data, train, epochs=epochs, episodes=episodes)
    results["demo output"] = demo_output(epochs=epochs, episodes=episodes)
    return results


# The default cnn against one change at a time, all trained alike.
VARIANTS = {
    "augment=False": {"augment": False},
    "mining='hard'": {"mining": "hard"},
    "mining='all'": {"mining": "all"},
    "n_components=64": {"n_components": 64},
}


def bench_fewshot(data, train, *, epochs, episodes):
    """1-shot accuracy on the unseen alphabets: raw pixels, PCA, the default cnn and variants.

    Every embedder trains ``epochs`` epochs on the three training alphabets
    with ``random_state=0``; ``fit seconds`` is one fit each, for scale.
    """
    from sklearn.decomposition import PCA

    from sksiamese import SiameseEmbedder
    from sksiamese.metrics import few_shot_accuracy

    test = ~train

    def fit(**params):
        embedder = SiameseEmbedder(
            network="cnn", input_shape=(28, 28, 1), epochs=epochs, random_state=0, **params
        )
        seconds = timed_fit(lambda: embedder.fit(data.images[train], data.target[train]))
        return embedder.transform(data.images[test]), seconds

    embedded, default_seconds = fit()
    flat = data.images.reshape(len(data.images), -1)
    candidates = {
        "raw pixels": flat[test],
        "PCA (32)": PCA(32, random_state=0).fit(flat[train]).transform(flat[test]),
        "SiameseEmbedder": embedded,
    }
    results = {
        "fit_seconds": default_seconds["fit seconds"],
        "fit_cpu_seconds": default_seconds["fit CPU seconds"],
        "epochs": epochs,
        "train_images": int(train.sum()),
    }
    # Lake's protocol draws each episode's characters from one alphabet; the
    # looser one mixes the two test alphabets, which is easier.
    protocols = {"within alphabet": data.alphabet[test], "across alphabets": None}

    def accuracy(rows, n_way, groups):
        return few_shot_accuracy(
            rows,
            data.target[test],
            n_way=n_way,
            n_shot=1,
            n_episodes=episodes,
            groups=groups,
            random_state=0,
        )

    for name, rows in candidates.items():
        for n_way in (20, 5):
            for protocol, groups in protocols.items():
                results[f"{name}, {n_way}-way 1-shot, {protocol}"] = accuracy(rows, n_way, groups)
    results["variants of the default cnn"] = {}
    for name, params in VARIANTS.items():
        rows, seconds = fit(**params)
        results["variants of the default cnn"][name] = {
            **seconds,
            **{
                f"{n_way}-way 1-shot, within alphabet": accuracy(rows, n_way, data.alphabet[test])
                for n_way in (20, 5)
            },
        }
    return results


def demo_output(*, epochs, episodes):
    """The lines ``python -m sksiamese.demo`` prints, run as a user runs it (a fresh process)."""
    completed = subprocess.run(
        [sys.executable, "-m", "sksiamese.demo", f"--epochs={epochs}", f"--episodes={episodes}"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return completed.stdout.splitlines()
