"""Test-time shifts as ``SiameseEmbedder(test_time_shifts=...)`` gives them.

The levers section measured test-time shifts with blank paper coming in at
the edge of a shifted image; the estimator repeats the edge pixels instead,
as its training augmentation does. On the fits of the levers section (same
splits, seeds and call), each fitted embedder here embeds the test
alphabets four ways: plainly, as the levers section did, and with
``test_time_shifts`` 1 and 2; 20-way 1- and 5-shot accuracy and the CPU
seconds of embedding, per split and seed, and their means.
"""

import numpy as np

from harness import timed_fit
from sections.levers import (
    BASE,
    SEEDS,
    SHIFTS,
    SPLITS,
    TASKS,
    both_sets,
    embed_seconds,
    scores,
    shifted,
    unit,
)

WAYS = ("plain", "blank paper at the edge (levers)", "test_time_shifts=1", "test_time_shifts=2")


def bench_split(sets, alphabets, seed, episodes, epochs):
    from sksiamese import SiameseEmbedder

    images, target, alphabet = sets
    test = np.isin(alphabet, alphabets)
    embedder = SiameseEmbedder(**{**BASE, "epochs": epochs, "random_state": seed})
    fitted = timed_fit(lambda: embedder.fit(images[~test], target[~test]))

    def with_shifts(count):
        return lambda: embedder.set_params(test_time_shifts=count).transform(images[test])

    ways = {
        "plain": with_shifts(0),
        "blank paper at the edge (levers)": lambda: unit(
            sum(
                embedder.set_params(test_time_shifts=0).transform(shifted(images[test], *shift))
                for shift in SHIFTS
            )
        ),
        "test_time_shifts=1": with_shifts(1),
        "test_time_shifts=2": with_shifts(2),
    }
    rows = {"fit CPU seconds": fitted["fit CPU seconds"]}
    for name, embed in ways.items():
        embedded, seconds = embed_seconds(embed)
        rows[name] = {
            "embed CPU seconds": seconds,
            **scores(embedded, target[test], alphabet[test], episodes),
        }
    return rows


def run(args, data, train):
    epochs, episodes = (10, 200) if args.quick else (BASE["epochs"], 1000)
    sets = both_sets()
    by_split = {split: {} for split in SPLITS}
    for seed in SEEDS:
        for split, alphabets in SPLITS.items():
            rows = bench_split(sets, alphabets, seed, episodes, epochs)
            print(split, seed, rows, flush=True)
            by_split[split][f"seed {seed}"] = rows
    summary = {}
    for name in WAYS:
        runs = [rows[name] for by_seed in by_split.values() for rows in by_seed.values()]
        entry = {}
        for key in (*TASKS, "embed CPU seconds"):
            values = [row[key] for row in runs]
            entry[f"{key}, mean"] = float(np.mean(values))
            entry[f"{key}, min"], entry[f"{key}, max"] = min(values), max(values)
        summary[name] = entry
    for entry in summary.values():
        for task in TASKS:
            entry[f"{task}, gain over plain"] = (
                entry[f"{task}, mean"] - summary["plain"][f"{task}, mean"]
            )
    return {
        "epochs": epochs,
        "episodes": episodes,
        "seeds": list(SEEDS),
        "summary": summary,
        "by split": by_split,
    }
