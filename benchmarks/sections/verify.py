"""Verification of pairs of classes never seen in training.

``SiameseVerifier`` on digits 0-6 -> 7-9 and Omniglot's three -> two
alphabets: ROC AUC, equal error rate, TAR at 1% FAR and accuracy at the
calibrated threshold, for raw-pixel distance, the contrastive pair model
trained on pairs, and a triplet embedder trained on classes.
"""

import time

import numpy as np

from data import omniglot_budget


def run(args, data, train):
    return bench_verify(data, train, quick=args.quick)


def verification_scores(verifier, pairs, same):
    from sklearn.metrics import roc_auc_score

    from sksiamese.metrics import equal_error_rate, tar_at_far

    scores = verifier.decision_function(pairs)
    return {
        "ROC AUC": roc_auc_score(same, scores),
        "EER": equal_error_rate(same, scores),
        "TAR@FAR=1%": tar_at_far(same, scores, far=0.01),
        "accuracy": verifier.score(pairs, same),
    }


def bench_verify_task(images, labels, seen, *, pair_model, class_model, n_pairs):
    """Train on pairs (or classes) of ``seen`` rows, verify pairs of the others."""
    from sklearn.frozen import FrozenEstimator
    from sklearn.preprocessing import FunctionTransformer

    from sksiamese import SiameseEmbedder, SiameseVerifier
    from sksiamese.datasets import make_pairs

    train_pairs, train_same = make_pairs(images[seen], labels[seen], n_pairs, random_state=0)
    test_pairs, test_same = make_pairs(images[~seen], labels[~seen], n_pairs // 2, random_state=1)
    flat = FunctionTransformer(lambda rows: rows.reshape(len(rows), -1)).fit(images[:1])
    start = time.perf_counter()
    trained_on_classes = SiameseEmbedder(**class_model).fit(images[seen], labels[seen])
    class_seconds = time.perf_counter() - start
    verifiers = {
        "raw pixels": (SiameseVerifier(FrozenEstimator(flat)), 0.0),
        "pair model (contrastive, fit on pairs)": (
            SiameseVerifier(SiameseEmbedder(loss="contrastive", **pair_model), random_state=0),
            None,
        ),
        "triplet embedder (fit on classes)": (
            SiameseVerifier(FrozenEstimator(trained_on_classes)),
            class_seconds,
        ),
    }
    results = {"train pairs": n_pairs, "test pairs": n_pairs // 2}
    for name, (verifier, seconds) in verifiers.items():
        start = time.perf_counter()
        verifier.fit(train_pairs, train_same)
        scores = verification_scores(verifier, test_pairs, test_same)
        scores["fit seconds"] = (time.perf_counter() - start) + (seconds or 0.0)
        results[name] = scores
    return results


def bench_verify(data, train, *, quick):
    from sklearn.datasets import load_digits

    digits = load_digits()
    results = {
        "digits 0-6 -> 7-9": bench_verify_task(
            digits.images[..., None].astype(np.float32) / 16.0,
            digits.target,
            digits.target < 7,
            pair_model={"epochs": 20},
            class_model={"epochs": 20, "random_state": 0},
            n_pairs=6000,
        )
    }
    cnn = {"network": "cnn", "input_shape": (28, 28, 1), "epochs": omniglot_budget(quick)[0]}
    results["Omniglot 3 -> 2 alphabets"] = bench_verify_task(
        data.images,
        data.target,
        train,
        pair_model=cnn,
        class_model={**cnn, "random_state": 0},
        n_pairs=6000,
    )
    return results
