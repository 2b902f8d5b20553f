"""Open-set galleries calibrated with ``far=``: the false accept rate reached on strangers.

Simulated embeddings (numpy, no training): identities are random unit
vectors in 32 dimensions and their rows noisy copies of them. Galleries of
20, 100, 2,000 and 100,000 identities (100,000 left out with --quick), 1
and 10 enrolments each, are fitted with ``GalleryClassifier(far=...)`` for
far 0.01, 0.05 and 0.1, the library's own calibration. The false accept
rate reached is measured on 10,000 identities never enrolled (one query
each), with its binomial standard error, and the genuine accept rate on
1,000 new rows of enrolled identities (accepted as their own identity);
each over 3 seeds (data and impostor draws), with the spread. A
calibration the library refuses (too few rows for ``far``) is recorded as
its message, one it warns about (too few impostors to support ``far``)
with the warning.
"""

import warnings

import numpy as np

N_FEATURES = 32
# Noise of each coordinate of an enrolled or query row around its identity.
SPREAD = 0.11
FARS = (0.01, 0.05, 0.1)
N_STRANGERS = 10_000
N_GENUINE = 1_000
SEEDS = (0, 1, 2)
CHECKED = 200  # queries whose predict() answers check the distances compared


def run(args, data, train):
    sizes = (20, 100, 2_000) if args.quick else (20, 100, 2_000, 100_000)
    results = {
        "data": (
            f"{N_FEATURES}-d unit vectors: identities random, rows their copies with noise "
            f"{SPREAD} per coordinate; {N_STRANGERS:,} never-enrolled identities, one query "
            f"each; {N_GENUINE:,} new rows of enrolled identities; seeds {list(SEEDS)}"
        )
    }
    for n_identities in sizes:
        for per_identity in (1, 10):
            name = f"{n_identities:,} identities x {per_identity} enrolment"
            results[name + ("s" if per_identity > 1 else "")] = bench_far(
                n_identities, per_identity
            )
    return results


def unit(rows):
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def open_set(n_identities, per_identity, seed):
    """Enrolled rows and labels, genuine queries and labels, and stranger queries."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((n_identities + N_STRANGERS, N_FEATURES)))

    def rows_of(identities):
        noise = SPREAD * rng.standard_normal((len(identities), N_FEATURES))
        return unit(centres[identities] + noise).astype(np.float32)

    y = np.repeat(np.arange(n_identities), per_identity)
    genuine_y = rng.integers(0, n_identities, N_GENUINE)
    strangers = rows_of(np.arange(n_identities, n_identities + N_STRANGERS))
    return rows_of(y), y, rows_of(genuine_y), genuine_y, strangers


def calibrated(X, y, far, seed):
    """``GalleryClassifier(far=far)`` fitted on ``X, y``, and the UserWarnings its fit gave."""
    from sksiamese import GalleryClassifier

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = GalleryClassifier(far=far, random_state=seed).fit(X, y)
    return model, [str(item.message) for item in caught if item.category is UserWarning]


def bench_far(n_identities, per_identity):
    """FAR reached on strangers and genuine accept rate, per requested ``far``, over seeds.

    The distances of the queries to their voted identity's nearest row come
    from one gallery without a threshold (``score_samples``); each
    calibrated gallery's ``threshold_`` then accepts those within it, as its
    ``predict`` does (checked on the first ``CHECKED`` queries of each kind).
    A genuine query counts as accepted when it is accepted as its own
    identity.
    """
    from sksiamese import GalleryClassifier

    rows = {f"far={far}": {"FAR": [], "genuine accept rate": []} for far in FARS}
    for seed in SEEDS:
        X, y, genuine, genuine_y, strangers = open_set(n_identities, per_identity, seed)
        closed = GalleryClassifier().fit(X, y)
        stranger_distances = -closed.score_samples(strangers)
        genuine_distances = -closed.score_samples(genuine)
        genuine_right = closed.predict(genuine) == genuine_y
        for far in FARS:
            row = rows[f"far={far}"]
            try:
                model, caught = calibrated(X, y, far, seed)
            except ValueError as error:
                row["not calibrated"] = str(error)
                continue
            if caught:
                row["warning"] = caught[0]
            stranger_accepted = stranger_distances <= model.threshold_
            genuine_accepted = (genuine_distances <= model.threshold_) & genuine_right
            queries = np.concatenate([strangers[:CHECKED], genuine[:CHECKED]])
            distances = np.concatenate([stranger_distances[:CHECKED], genuine_distances[:CHECKED]])
            answered = model.predict(queries) != model.unknown_label_
            if not np.array_equal(answered, distances <= model.threshold_):
                raise AssertionError("predict() accepts other queries than its threshold_")
            row["FAR"].append(float(stranger_accepted.mean()))
            row["genuine accept rate"].append(float(genuine_accepted.mean()))
    return {name: summary(row, float(name.removeprefix("far="))) for name, row in rows.items()}


def summary(row, far):
    """Mean and range over seeds; the binomial standard error of one seed's FAR.

    A calibration the library refused has its reason instead of the rates.
    """
    if not row["FAR"]:
        return {"FAR, mean of seeds": "refused", "not calibrated": row["not calibrated"]}
    rates, accepted = np.array(row["FAR"]), np.array(row["genuine accept rate"])
    result = {
        "FAR, mean of seeds": float(rates.mean()),
        "FAR, min": float(rates.min()),
        "FAR, max": float(rates.max()),
        "FAR per seed": row["FAR"],
        "binomial standard error at far, one seed": float(np.sqrt(far * (1 - far) / N_STRANGERS)),
        "FAR over far": float(rates.mean() / far),
        "genuine accept rate, mean of seeds": float(accepted.mean()),
        "genuine accept rate, min": float(accepted.min()),
        "genuine accept rate, max": float(accepted.max()),
        "warned": "yes" if "warning" in row else "no",
    }
    for key in ("warning", "not calibrated"):
        if key in row:
            result[key] = row[key]  # from some seeds only, where "FAR per seed" is shorter
    return result
