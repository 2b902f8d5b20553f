"""Gallery search: exact and HNSW against scikit-learn's brute force, and removal.

``GalleryClassifier`` on two galleries of clustered unit vectors, 1,000
queries each (new rows of enrolled identities, never enrolled rows
themselves): 1,000,000 x 64, 5 rows per identity (200,000 with --quick),
and 250,000 x 256, 2 rows per identity (50,000). On each, queries/s of
exact and hnsw search against scikit-learn's brute ``NearestNeighbors``,
recall@10, build time, peak memory and ``partial_fit`` of 10,000 rows;
hnsw with its defaults (``ef_search`` chosen at fit for ``target_recall``,
with the time that takes) and at fixed ``ef_search`` from 16 to 256, the
recall-against-speed curve. Then the cost of ``remove`` on a 100,000 x 64
gallery (20,000): one identity, 1% and 10% of them, and past the 20% of
removed rows at which an HNSW graph is built again, with the recall and
speed of hnsw before and after that rebuild and a count of removed
identities answered (which must be 0).
"""

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from data import gallery_data
from harness import measure, run_child, spread

# ef_search values of the recall-against-speed curve.
EF_SWEEP = (16, 24, 32, 48, 64, 96, 128, 256)
# The galleries: (results key, n_features, rows per identity, n_rows, n_rows --quick).
# The 1,000,000 x 64 one's rows are the section's top-level entries.
SHAPES = (
    (None, 64, 5, 1_000_000, 200_000),
    ("256-d, 2 rows per identity", 256, 2, 250_000, 50_000),
)
DEFAULT = "hnsw, defaults (ef_search for target_recall)"
METHOD_NAMES = {
    "sklearn": "sklearn NearestNeighbors(algorithm='brute')",
    "exact": "exact",
    "exact-memmap": "exact, memory-mapped .npy",
    "hnsw-default": DEFAULT,
}


def run(args, data, train):
    results = {}
    for key, n_features, per_identity, n_rows, n_quick in SHAPES:
        shape = bench_gallery(
            n_quick if args.quick else n_rows, n_features=n_features, per_identity=per_identity
        )
        if key is None:
            results.update(shape)
        else:
            results[key] = shape
    results["removal"] = bench_removal(20_000 if args.quick else 100_000)
    return results


def timed_calibration():
    """Seconds of each ``ef_search`` calibration the gallery runs from now on, in a list.

    Wraps the function ``GalleryClassifier`` calls to calibrate (in this
    child process only), so that its seconds are measured inside the fit
    that runs it rather than as the difference of two fits of the graph,
    whose build times vary more than calibration takes.
    """
    from sksiamese import _gallery

    calibrate, seconds = _gallery.calibrate_ef_search, []

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return calibrate(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - start)

    _gallery.calibrate_ef_search = timed
    return seconds


def gallery_child(folder, method, repeats, ef_values):
    """One search method in this (fresh) process: build, search, add.

    ``method`` is ``sklearn`` (brute-force ``NearestNeighbors``), ``exact``,
    ``exact-memmap`` (the gallery read from its .npy file in place),
    ``hnsw`` (built with ``target_recall=None``, searched at each of
    ``ef_values``) or ``hnsw-default`` (``algorithm="hnsw"`` and nothing
    else: ``ef_search_`` calibrated at fit). The neighbours found are saved
    beside the data for recall.
    """
    from sklearn.neighbors import NearestNeighbors

    from sksiamese import GalleryClassifier

    folder, repeats, ef_values = Path(folder), int(repeats), json.loads(ef_values)
    X = np.load(folder / "X.npy", mmap_mode="r" if method == "exact-memmap" else None)
    y, queries = np.load(folder / "y.npy"), np.load(folder / "queries.npy")
    calibrations = timed_calibration()
    if method == "sklearn":
        gallery = NearestNeighbors(n_neighbors=10, algorithm="brute")
    elif method == "hnsw":
        gallery = GalleryClassifier(algorithm="hnsw", target_recall=None)
    elif method == "hnsw-default":
        gallery = GalleryClassifier(algorithm="hnsw")
    else:
        gallery = GalleryClassifier(algorithm="exact")
    model, fit_s, fit_mb = measure(
        lambda: gallery.fit(X) if method == "sklearn" else gallery.fit(X, y)
    )
    result = {"fit s": fit_s, "fit peak growth MB": fit_mb["total"], "searches": {}}
    if method == "hnsw-default":
        result.update(
            {
                "ef_search_": int(model.ef_search_),
                "recall_": model.recall_,
                "n_samples_calibrated_": int(model.n_samples_calibrated_),
                "calibration s": list(calibrations),  # of the fit (partial_fit may add)
            }
        )
    for ef in ef_values if method == "hnsw" else [None]:
        if ef is not None:
            model.set_params(ef_search=ef)
        model.kneighbors(queries[:100], 10)  # warm-up
        rates, peaks = [], []
        for _ in range(repeats):
            (_, found), seconds, peak = measure(lambda: model.kneighbors(queries, 10))
            rates.append(len(queries) / seconds)
            peaks.append(peak["total"])
        np.save(folder / f"found-{method}-{ef}.npy", found)
        result["searches"][str(ef)] = {"rates": rates, "peak growth MB": max(peaks)}
    if method != "sklearn":
        added = np.load(folder / "added.npy")
        added_y = np.arange(len(added)) + y.max() + 1
        result["partial_fit s"] = [
            measure(lambda: model.partial_fit(part, part_y))[1]
            for part, part_y in zip(np.array_split(added, 3), np.array_split(added_y, 3))
        ]
    return result


def recall_at_10(found, truth):
    """Mean share of each query's 10 true neighbours among the 10 found."""
    return float(np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(found, truth)]))


def bench_gallery(n_rows, *, n_features=64, per_identity=5, repeats=3, ef_values=EF_SWEEP):
    """Queries/s, recall@10, build time and memory of ``GalleryClassifier`` searches.

    Each method runs in a fresh process on the same ``(n_rows, n_features)``
    float32 gallery of clustered unit vectors, ``per_identity`` rows per
    identity, and 1,000 queries, 10 neighbours each: scikit-learn's
    brute-force ``NearestNeighbors``, ``algorithm="exact"`` in memory and
    memory-mapped, ``algorithm="hnsw"`` with its defaults, and
    ``algorithm="hnsw"`` built with ``target_recall=None`` and searched at
    each of ``ef_values``. Speeds are the median and range of ``repeats``
    searches after a warm-up; recall@10 is measured against the exact
    search; ``partial_fit`` adds 10,000 rows of new identities three times.
    Memory is the peak growth of resident memory over each call
    (``measure``).

    The defaults' row adds what the fit chose and measured (``ef_search_``,
    ``recall_``, ``n_samples_calibrated_``) and the seconds of its
    calibration, timed inside that fit (``timed_calibration``), with their
    share of the fit's seconds. ``recall_`` is measured at fit on the last
    rows enrolled, held out of the graph until then (here whole identities:
    the rows are enrolled identity by identity); the row's ``recall@10`` on
    the 1,000 queries.
    """
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        n_identities = gallery_data(
            Path(folder), n_rows, n_features=n_features, per_identity=per_identity
        )
        results["data"] = (
            f"{n_rows:,} x {n_features} float32 unit vectors "
            f"({n_rows * n_features * 4 / 2**20:,.0f} MB), {n_identities:,} identities of "
            f"{per_identity} rows around 1,000 clusters; 1,000 queries (new rows of enrolled "
            "identities), k=10"
        )
        runs = {}
        for method in ("sklearn", "exact", "exact-memmap", "hnsw-default", "hnsw"):
            runs[method] = run_child(
                gallery_child, folder, method, repeats, json.dumps(list(ef_values))
            )
        truth = np.load(Path(folder) / "found-exact-None.npy")
        baseline = float(np.median(runs["sklearn"]["searches"]["None"]["rates"]))
        for method, run in runs.items():
            for ef, search in run["searches"].items():
                found = np.load(Path(folder) / f"found-{method}-{ef}.npy")
                rates = spread(search["rates"])
                name = METHOD_NAMES.get(method, f"hnsw, ef_search={ef}")
                row = {
                    "queries/s": rates["median"],
                    "queries/s range": f"{rates['min']:,.0f} - {rates['max']:,.0f}",
                    "x sklearn": rates["median"] / baseline,
                    "recall@10": recall_at_10(found, truth),
                    "build s": run["fit s"],
                    "build peak growth MB": run["fit peak growth MB"],
                    "search peak growth MB": search["peak growth MB"],
                }
                if method == "hnsw-default":
                    (calibration_s,) = run["calibration s"]  # one calibration per fit
                    row.update(
                        {
                            "ef_search_": run["ef_search_"],
                            "recall_ (measured at fit)": run["recall_"],
                            "n_samples_calibrated_": run["n_samples_calibrated_"],
                            "calibration s": calibration_s,
                            "calibration share of build": calibration_s / run["fit s"],
                        }
                    )
                if "partial_fit s" in run:
                    added = spread(run["partial_fit s"])
                    row["partial_fit 10,000 rows s"] = added["median"]
                    row["partial_fit range s"] = f"{added['min']:.3f} - {added['max']:.3f}"
                results[name] = row
    default = results[DEFAULT]
    results["targets"] = {
        "exact >= 1.0x sklearn": results["exact"]["x sklearn"] >= 1.0,
        "hnsw defaults >= 20x sklearn at recall@10 >= 0.95": default["x sklearn"] >= 20
        and default["recall@10"] >= 0.95,
    }
    return results


# Removal steps, each one remove() call, in order.
REMOVAL_STEPS = (
    "1 identity",
    "1% of identities",
    "10% of identities",
    "to 15% removed",
    "past 20% removed (hnsw rebuilds)",
)


def removal_stops(n_identities):
    """Identities removed once each of ``REMOVAL_STEPS`` is done, out of ``n_identities``.

    The last passes the 20% of removed nodes at which an HNSW graph is
    built again (every identity has as many rows).
    """
    one, tenth = 1 + n_identities // 100, 1 + n_identities // 100 + n_identities // 10
    return [1, one, tenth, round(0.15 * n_identities), round(0.21 * n_identities)]


def search_state(model, queries, truth, repeats):
    """Recall@10 against ``truth``, and queries/s over ``repeats`` searches after a warm-up."""
    model.kneighbors(queries[:100], 10)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        _, found = model.kneighbors(queries, 10)
        rates.append(len(queries) / (time.perf_counter() - start))
    return recall_at_10(found, truth), rates


def removal_child(folder, method, repeats):
    """``remove`` timed step by step in this (fresh) process, on ``repeats`` fresh galleries.

    ``method`` is ``exact``, ``exact-memmap`` or ``hnsw`` (the defaults,
    ``ef_search_`` calibrated). Every step is checked: no neighbour and no
    prediction of the 1,000 queries is a removed identity, and each
    neighbour lies at the distance reported from the row it names. For hnsw,
    recall@10 (against a brute-force scan of the rows kept) and queries/s
    at 15% removed and right after the rebuild.
    """
    from sksiamese import GalleryClassifier

    folder, repeats = Path(folder), int(repeats)
    X = np.load(folder / "X.npy", mmap_mode="r" if method == "exact-memmap" else None)
    y, queries = np.load(folder / "y.npy"), np.load(folder / "queries.npy")
    identities = np.unique(y)
    order = np.random.default_rng(1).permutation(identities)
    result = {"seconds": {name: [] for name in REMOVAL_STEPS}, "fit s": []}
    result.update({"removed identities answered": 0, "neighbours not at their distance": 0})
    searches = {}
    for _ in range(repeats):
        gallery = GalleryClassifier(algorithm="hnsw" if method == "hnsw" else "exact")
        model, fit_s, _ = measure(lambda: gallery.fit(X, y))
        result["fit s"].append(fit_s)
        removed = 0
        for name, stop in zip(REMOVAL_STEPS, removal_stops(len(identities))):
            _, seconds, _ = measure(lambda: model.remove(order[removed:stop]))
            result["seconds"][name].append(seconds)
            removed = stop
            kept = np.flatnonzero(~np.isin(y, order[:removed]))
            distances, found = model.kneighbors(queries, 10)
            answered = np.concatenate([y[kept[found]].ravel(), model.predict(queries)])
            result["removed identities answered"] += int(np.isin(answered, order[:removed]).sum())
            actual = np.linalg.norm(queries[:, None, :] - X[kept[found]], axis=2)
            result["neighbours not at their distance"] += int(
                (np.abs(actual - distances) > 1e-3).sum()
            )
            if method == "hnsw" and name in REMOVAL_STEPS[3:]:
                truth = brute_force_neighbours(X[kept], queries)
                state = searches.setdefault(name, {"recall@10": [], "rates": [], "ef_search_": []})
                recall, rates = search_state(model, queries, truth, 3)
                state["recall@10"].append(recall)
                state["rates"] += rates
                state["ef_search_"].append(int(model.ef_search_))
                state["graph nodes"] = int(model.index_.index.ntotal)
                state["rows kept"] = int(model.n_samples_fit_)
    result["searches"] = searches
    return result


def brute_force_neighbours(rows, queries, k=10):
    """Row numbers of each query's ``k`` nearest unit-vector ``rows``, by a full scan."""
    found = []
    for part in np.array_split(queries, max(1, len(queries) // 100)):
        scores = part @ np.asarray(rows).T
        found.append(np.argpartition(-scores, k, axis=1)[:, :k])
    return np.concatenate(found)


def bench_removal(n_rows, *, repeats=3):
    """Seconds of ``GalleryClassifier.remove`` and hnsw search before and after its rebuild.

    On a ``(n_rows, 64)`` gallery of 5 rows per identity (``gallery_data``),
    each method in a fresh process fits ``repeats`` fresh galleries and
    removes identities from each in the steps of ``REMOVAL_STEPS`` (one
    identity, 1% of them, 10% of them, up to 15% removed, then past 20%), in
    one fixed random order: seconds of each ``remove`` call (median and range
    over the repeats). An HNSW graph only marks removed rows until more
    than 20% of its nodes are removed; the call that passes it builds the
    graph again (``ef_search_`` stays as fit measured it). Recall@10
    and queries/s of hnsw (median and range of 3 searches per repeat) at
    15% removed, skipping marked rows, and right after the rebuild.
    """
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        n_identities = gallery_data(Path(folder), n_rows, n_added=0)
        results["data"] = (
            f"{n_rows:,} x 64 float32 unit vectors, {n_identities:,} identities of 5 rows; "
            "identities removed in one random order, each step one remove() call, "
            "1,000 queries (new rows of enrolled identities, removed ones included)"
        )
        for method, name in (
            ("exact", "exact"),
            ("exact-memmap", "exact, memory-mapped .npy"),
            ("hnsw", "hnsw, defaults"),
        ):
            run = run_child(removal_child, folder, method, repeats)
            row = {f"{step} s": spread(seconds) for step, seconds in run["seconds"].items()}
            row["fit s"] = spread(run["fit s"])
            row["removed identities answered"] = run["removed identities answered"]
            row["neighbours not at their distance"] = run["neighbours not at their distance"]
            for step, state in run["searches"].items():
                row[f"search, {step}"] = {
                    "recall@10": spread(state["recall@10"]),
                    "queries/s": spread(state["rates"]),
                    "ef_search_": state["ef_search_"],
                    "graph nodes": state["graph nodes"],
                    "rows kept": state["rows kept"],
                }
            results[name] = row
    return results
