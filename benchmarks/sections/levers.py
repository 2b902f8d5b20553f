"""Levers that trade fit time for few-shot accuracy on Omniglot's unseen alphabets.

Each lever changes one thing about ``SiameseEmbedder(network="cnn",
input_shape=(28, 28, 1), epochs=40, random_state=seed)`` trained on six of
the eight alphabets of both bundled sets (``load_omniglot(subset="both")``)
and is scored on the two others, for each split of ``SPLITS`` and each seed
of ``SEEDS``: 20-way 1-shot and 5-shot accuracy within one alphabet (Lake's
protocol), and the CPU seconds of the fit and of embedding the test
alphabets. The levers: more epochs with early stopping on held-out classes,
a wider and a deeper cnn, test-time shifts (an image's embedding is the mean of the
embeddings of it and its 1-pixel shifts), 35-pixel images (read from the
published zips, ``--omniglot-folder``), and an ensemble of two encoders
(their unit embeddings concatenated, so that distances average theirs).
Each split's mean and spread over seeds, and each lever's mean over splits
and seeds, go beside the defaults'.
"""

import time
from pathlib import Path

import numpy as np

from harness import ROOT, timed_fit

SPLITS = {
    "Early_Aramaic + Greek": ("Early_Aramaic", "Greek"),
    "Korean + Sanskrit": ("Korean", "Sanskrit"),
    "Balinese + Tagalog": ("Balinese", "Tagalog"),
}
SEEDS = (0, 1)
TASKS = {"20-way 1-shot": (20, 1), "20-way 5-shot": (20, 5)}
BASE = {"network": "cnn", "input_shape": (28, 28, 1), "epochs": 40}
# A builder is not network="cnn": the cnn's automatic settings are given.
CNN_SETTINGS = {"standardize": True, "augment": True, "learning_rate": 3e-3}
SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))
# The ensemble's second encoder is seeded apart from every seed of SEEDS.
SECOND_SEED = 1000
# Only the zips hold the images at more than 28 pixels.
ZIPS = ("images_background_small1.zip", "images_background_small2.zip")


def wider_cnn(input_shape, n_components):
    """The built-in cnn with 1.5 times the filters in each block: 48, 96, 192."""
    from sksiamese.networks import build_cnn

    return build_cnn(input_shape, n_components, filters=(48, 96, 192))


def deeper_cnn(input_shape, n_components):
    """The built-in cnn with two convolutions in each block instead of one."""
    from sksiamese.networks import build_cnn

    return build_cnn(input_shape, n_components, convs_per_block=2)


LEVERS = {
    "defaults": {},
    "early stopping on held-out classes, up to 100 epochs": {
        "epochs": 100,
        "early_stopping": True,
        "validation": "classes",
        "n_iter_no_change": 10,
    },
    "wider cnn (48, 96, 192 filters)": {"network": wider_cnn, **CNN_SETTINGS},
    "deeper cnn (2 convolutions per block)": {"network": deeper_cnn, **CNN_SETTINGS},
    "test-time shifts": {},
    "35 px images": {"input_shape": (35, 35, 1)},
    "ensemble of two encoders": {},
}

OPTIONS = {
    "--omniglot-folder": {
        "type": Path,
        "default": ROOT.parent / "shared" / "data" / "omniglot",
        "help": "folder of Omniglot's background small zips, for the levers' 35 px images",
    },
}


def both_sets(image_size=None, folder=None):
    """Both bundled sets at 28 pixels, or both zips of ``folder`` read at ``image_size``.

    Greek and Latin are in both zips, the same files: they are read from the
    first only.
    """
    from sksiamese.datasets import load_omniglot, load_omniglot_zip

    if image_size is None:
        data = load_omniglot(subset="both")
        return data.images[..., None], data.target, data.alphabet
    first, second = (load_omniglot_zip(folder / name, image_size=image_size) for name in ZIPS)
    new = ~np.isin(second.alphabet, first.alphabet)
    names = np.concatenate(
        [first.target_names[first.target], second.target_names[second.target][new]]
    )
    _, target = np.unique(names, return_inverse=True)
    images = np.concatenate([first.images, second.images[new]])
    return images, target, np.concatenate([first.alphabet, second.alphabet[new]])


def shifted(images, dy, dx):
    """``images`` moved ``dy`` pixels down and ``dx`` right, paper coming in at the edges."""
    moved = np.roll(images, (dy, dx), axis=(1, 2))
    if dy:
        moved[:, slice(0, dy) if dy > 0 else slice(dy, None)] = 0
    if dx:
        moved[:, :, slice(0, dx) if dx > 0 else slice(dx, None)] = 0
    return moved


def unit(rows):
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def scores(embedded, target, alphabet, episodes):
    from sksiamese.metrics import few_shot_accuracy

    return {
        name: few_shot_accuracy(
            embedded,
            target,
            n_way=n_way,
            n_shot=n_shot,
            n_episodes=episodes,
            groups=alphabet,
            random_state=0,
        )
        for name, (n_way, n_shot) in TASKS.items()
    }


def embed_seconds(embed):
    """``embed()`` and the CPU seconds it took."""
    cpu = time.process_time()
    embedded = embed()
    return embedded, time.process_time() - cpu


def bench_split(sets, alphabets, seed, episodes, epochs):
    """Every lever's row on one split and seed."""
    from sksiamese import SiameseEmbedder

    def fit(images, target, alphabet, **changes):
        train = ~np.isin(alphabet, alphabets)
        params = {**BASE, "epochs": epochs, "random_state": seed, **changes}
        if "early_stopping" in changes:
            params["epochs"] = int(epochs * changes["epochs"] / BASE["epochs"])
        embedder = SiameseEmbedder(**params)
        row = timed_fit(lambda: embedder.fit(images[train], target[train]))
        if "early_stopping" in changes:
            row["epochs run"] = len(embedder.history_["loss"])
        return embedder, row, ~train

    def score(row, embed, target, alphabet):
        embedded, row["embed CPU seconds"] = embed_seconds(embed)
        row.update(scores(embedded, target, alphabet, episodes))
        return row

    images, target, alphabet = sets[28]
    rows = {}
    defaults, row, test = fit(images, target, alphabet)
    rows["defaults"] = score(
        row, lambda: defaults.transform(images[test]), target[test], alphabet[test]
    )
    rows["test-time shifts"] = score(
        {key: rows["defaults"][key] for key in ("fit seconds", "fit CPU seconds")},
        lambda: unit(sum(defaults.transform(shifted(images[test], *shift)) for shift in SHIFTS)),
        target[test],
        alphabet[test],
    )
    second, row, test = fit(images, target, alphabet, random_state=SECOND_SEED + seed)
    for key in ("fit seconds", "fit CPU seconds"):
        row[key] += rows["defaults"][key]
    rows["ensemble of two encoders"] = score(
        row,
        lambda: np.hstack([defaults.transform(images[test]), second.transform(images[test])]),
        target[test],
        alphabet[test],
    )
    for name in (
        "early stopping on held-out classes, up to 100 epochs",
        "wider cnn (48, 96, 192 filters)",
        "deeper cnn (2 convolutions per block)",
    ):
        embedder, row, test = fit(images, target, alphabet, **LEVERS[name])
        rows[name] = score(
            row, lambda: embedder.transform(images[test]), target[test], alphabet[test]
        )
    if 35 in sets:
        images, target, alphabet = sets[35]
        embedder, row, test = fit(images, target, alphabet, **LEVERS["35 px images"])
        rows["35 px images"] = score(
            row, lambda: embedder.transform(images[test]), target[test], alphabet[test]
        )
    else:
        rows["35 px images"] = "not run: the Omniglot zips were not found (--omniglot-folder)"
    return rows


def summary(by_split, names):
    """Per lever: the mean, lowest and highest over every split and seed, and the mean per split."""
    keys = (*TASKS, "fit CPU seconds", "embed CPU seconds")
    table = {}
    for name in names:
        runs = {
            split: [rows[name] for rows in by_seed.values() if isinstance(rows.get(name), dict)]
            for split, by_seed in by_split.items()
        }
        if not any(runs.values()):
            continue
        entry = {}
        first = next(row for split_rows in runs.values() for row in split_rows)
        for key in (*keys, *(["epochs run"] if "epochs run" in first else [])):
            everything = [row[key] for split_rows in runs.values() for row in split_rows]
            entry[f"{key}, mean"] = float(np.mean(everything))
            entry[f"{key}, min"], entry[f"{key}, max"] = min(everything), max(everything)
            if key == "epochs run":
                continue
            entry[f"{key}, mean by split"] = {
                split: float(np.mean([row[key] for row in split_rows]))
                for split, split_rows in runs.items()
                if split_rows
            }
        entry["runs"] = sum(len(split_rows) for split_rows in runs.values())
        table[name] = entry
    defaults = table["defaults"]
    for entry in table.values():
        for task in TASKS:
            entry[f"{task}, gain over defaults"] = (
                entry[f"{task}, mean"] - defaults[f"{task}, mean"]
            )
    return table


def run(args, data, train):
    epochs, episodes = (10, 200) if args.quick else (BASE["epochs"], 1000)
    sets = {28: both_sets()}
    folder = args.omniglot_folder
    if all((folder / name).exists() for name in ZIPS):
        sets[35] = both_sets(35, folder)
    by_split = {split: {} for split in SPLITS}
    # Every split with the first seed before any with the second: a run cut
    # short still covers every split.
    for seed in SEEDS:
        for split, alphabets in SPLITS.items():
            rows = bench_split(sets, alphabets, seed, episodes, epochs)
            print(split, seed, rows, flush=True)
            by_split[split][f"seed {seed}"] = rows
    return {
        "data": "load_omniglot(subset='both'): 8 alphabets, 242 characters; train on six, test on two",
        "epochs": epochs,
        "episodes": episodes,
        "seeds": list(SEEDS),
        "summary": summary(by_split, LEVERS),
        "by split": by_split,
    }
