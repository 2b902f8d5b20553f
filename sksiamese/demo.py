"""Few-shot recognition of handwritten characters from alphabets never seen.

Run with ``python -m sksiamese.demo``. A :class:`~sksiamese.SiameseEmbedder`
with a small convolutional network learns a distance between the Omniglot
characters of six alphabets (both small sets bundled with the package, see
:func:`~sksiamese.datasets.load_omniglot`). The characters of the two other
alphabets, Early_Aramaic and Greek, never seen in training, are then
recognised from one or five examples each: every 20-way episode draws 20
characters of one alphabet (Lake et al.'s protocol), K labelled examples
and one query image of each, and labels each query with the character of
its nearest example. Raw pixels and PCA face the same episodes.

The results are printed on standard output; progress, a line per stage and
per training epoch with the seconds elapsed, on standard error.
"""

import argparse
import sys
import time

import numpy as np
from sklearn.decomposition import PCA

from . import SiameseEmbedder
from ._tensorflow import keras
from .datasets import load_omniglot
from .metrics import few_shot_accuracy

# Tested on these; trained on every other alphabet of both bundled sets.
NEW_ALPHABETS = ("Early_Aramaic", "Greek")
N_WAY = 20
SHOTS = (1, 5)


def run(*, epochs=40, n_episodes=1000, random_state=0, progress=None):
    """Train on six alphabets, evaluate few-shot on Early_Aramaic and Greek.

    Parameters
    ----------
    epochs : int, default=40
        Training epochs of the embedder.
    n_episodes : int, default=1000
        Episodes per number of examples; the same episodes for each
        representation.
    random_state : int, default=0
        Seeds the models and the episodes.
    progress : callable, default=None
        Called with a line of text as each stage starts and after each
        epoch of the embedder; None says nothing.

    Returns
    -------
    result : dict
        The alphabets and sizes of both parts, the embedder's epochs, the
        seconds each model took to fit (None for raw pixels) and
        ``accuracy[name][n_shot]``.
    """
    say = progress or (lambda line: None)
    say("Loading the Omniglot characters.")
    # "both" holds the Greek characters the two sets share once, under one
    # label and one alphabet name: none of them can slip into training.
    data = load_omniglot(subset="both")
    train = ~np.isin(data.alphabet, NEW_ALPHABETS)
    X_new, y_new, alphabet_new = data.data[~train], data.target[~train], data.alphabet[~train]
    embedder = SiameseEmbedder(
        network="cnn",
        input_shape=(28, 28, 1),
        epochs=epochs,
        callbacks=[_EpochLines(say, epochs)],
        random_state=random_state,
    )
    models = {
        "PCA (32 components)": PCA(32, random_state=random_state),
        "SiameseEmbedder": embedder,
    }
    fit_seconds = {"raw pixels": None}
    representations = {"raw pixels": X_new}
    for name, model in models.items():
        say(f"Fitting {name} on {int(train.sum())} images.")
        start = time.perf_counter()
        model.fit(data.data[train], data.target[train])
        fit_seconds[name] = time.perf_counter() - start
        representations[name] = model.transform(X_new)
    say(f"Scoring {n_episodes} episodes of {' and '.join(map(str, SHOTS))} examples per class.")
    accuracy = {
        name: {
            n_shot: few_shot_accuracy(
                Z,
                y_new,
                n_way=N_WAY,
                n_shot=n_shot,
                n_episodes=n_episodes,
                groups=alphabet_new,
                random_state=random_state,
            )
            for n_shot in SHOTS
        }
        for name, Z in representations.items()
    }
    return {
        "train_alphabets": sorted(set(data.alphabet[train])),
        "new_alphabets": sorted(set(alphabet_new)),
        "n_train_characters": len(np.unique(data.target[train])),
        "n_train_images": int(train.sum()),
        "n_new_characters": len(np.unique(y_new)),
        "epochs": embedder.n_iter_,
        "fit_seconds": fit_seconds,
        "accuracy": accuracy,
    }


class _EpochLines(keras.callbacks.Callback):
    """Says the loss and the number of each epoch of training as it ends."""

    def __init__(self, say, epochs):
        super().__init__()
        self.say = say
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss", float("nan"))
        self.say(f"SiameseEmbedder epoch {epoch + 1}/{self.epochs}: loss {loss:.4f}")


class _Progress:
    """Writes lines to standard error, each after the seconds elapsed since it was made."""

    def __init__(self):
        self.start = time.perf_counter()

    def __call__(self, line):
        print(f"[{time.perf_counter() - self.start:6.1f} s] {line}", file=sys.stderr, flush=True)


def positive_int(text):
    """Parse a command-line count, which must be at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m sksiamese.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=40, help="training epochs (default: 40)"
    )
    parser.add_argument(
        "--episodes",
        type=positive_int,
        default=1000,
        help="episodes per number of examples (default: 1000)",
    )
    args = parser.parse_args(argv)
    result = run(epochs=args.epochs, n_episodes=args.episodes, progress=_Progress())
    print(
        f"Trained on {len(result['train_alphabets'])} Omniglot alphabets "
        f"({', '.join(result['train_alphabets'])}): {result['n_train_characters']} characters, "
        f'{result["n_train_images"]} images; SiameseEmbedder(network="cnn"), '
        f"{result['epochs']} epochs."
    )
    print(
        f"Recognising the {result['n_new_characters']} characters of the alphabets never seen "
        f"({', '.join(result['new_alphabets'])}) from {' or '.join(map(str, SHOTS))} examples each:"
    )
    print(
        f"{N_WAY}-way episodes within one alphabet, mean accuracy over {args.episodes} "
        f"episodes (chance {1 / N_WAY:.2f})."
    )
    print(f"{'':22}  {'fit (s)':>7}" + "".join(f"  {f'{n_shot}-shot':>7}" for n_shot in SHOTS))
    for name, by_shots in result["accuracy"].items():
        seconds = result["fit_seconds"][name]
        seconds = "-" if seconds is None else f"{seconds:.1f}"
        print(
            f"{name:22}  {seconds:>7}" + "".join(f"  {by_shots[n_shot]:7.3f}" for n_shot in SHOTS)
        )


if __name__ == "__main__":
    main()
