"""Gallery search: exact and HNSW against scikit-learn's brute force.

``GalleryClassifier`` on 1,000,000 x 64 clustered unit vectors (200,000
with --quick), 1,000 queries: queries/s of exact and hnsw search against
scikit-learn's brute ``NearestNeighbors``, recall@10, build time, peak
memory and ``partial_fit`` of 10,000 rows.
"""

import json
import tempfile
from pathlib import Path

import numpy as np

from data import gallery_data
from harness import measure, run_child, spread


def run(args, data, train):
    return bench_gallery(200_000 if args.quick else 1_000_000)


def gallery_child(folder, method, repeats, ef_values):
    """One search method in this (fresh) process: build, search, add.

    ``method`` is ``sklearn`` (brute-force ``NearestNeighbors``), ``exact``,
    ``exact-memmap`` (the gallery read from its .npy file in place) or
    ``hnsw``. The neighbours found are saved beside the data for recall.
    """
    from sklearn.neighbors import NearestNeighbors

    from sksiamese import GalleryClassifier

    folder, repeats, ef_values = Path(folder), int(repeats), json.loads(ef_values)
    X = np.load(folder / "X.npy", mmap_mode="r" if method == "exact-memmap" else None)
    y, queries = np.load(folder / "y.npy"), np.load(folder / "queries.npy")
    if method == "sklearn":
        model, fit_s, fit_mb = measure(
            lambda: NearestNeighbors(n_neighbors=10, algorithm="brute").fit(X)
        )
    else:
        algorithm = "hnsw" if method == "hnsw" else "exact"
        model, fit_s, fit_mb = measure(lambda: GalleryClassifier(algorithm=algorithm).fit(X, y))
    result = {"fit s": fit_s, "fit peak growth MB": fit_mb["total"], "searches": {}}
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


def bench_gallery(n_rows, *, repeats=3, ef_values=(16, 32, 64, 128)):
    """Queries/s, recall@10, build time and memory of ``GalleryClassifier`` searches.

    Each method runs in a fresh process on the same ``(n_rows, 64)`` float32
    gallery of clustered unit vectors and 1,000 queries, 10 neighbours each:
    scikit-learn's brute-force ``NearestNeighbors``, ``algorithm="exact"``
    in memory and memory-mapped, and ``algorithm="hnsw"`` (default build
    parameters) at several ``ef_search``. Speeds are the median and range of
    ``repeats`` searches after a warm-up; recall@10 is measured against the
    exact search; ``partial_fit`` adds 10,000 rows of new identities three
    times. Memory is the peak growth of resident memory over each call
    (``measure``).
    """
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        n_identities = gallery_data(Path(folder), n_rows)
        results["data"] = (
            f"{n_rows:,} x 64 float32 unit vectors ({n_rows * 64 * 4 / 2**20:,.0f} MB), "
            f"{n_identities:,} identities of 5 rows around 1,000 clusters; 1,000 queries, k=10"
        )
        runs = {}
        for method in ("sklearn", "exact", "exact-memmap", "hnsw"):
            runs[method] = run_child(
                gallery_child, folder, method, repeats, json.dumps(list(ef_values))
            )
        truth = np.load(Path(folder) / "found-exact-None.npy")
        baseline = float(np.median(runs["sklearn"]["searches"]["None"]["rates"]))
        for method, run in runs.items():
            for ef, search in run["searches"].items():
                found = np.load(Path(folder) / f"found-{method}-{ef}.npy")
                rates = spread(search["rates"])
                name = {
                    "sklearn": "sklearn NearestNeighbors(algorithm='brute')",
                    "exact": "exact",
                    "exact-memmap": "exact, memory-mapped .npy",
                    "hnsw": f"hnsw, ef_search={ef}",
                }[method]
                row = {
                    "queries/s": rates["median"],
                    "queries/s range": f"{rates['min']:,.0f} - {rates['max']:,.0f}",
                    "x sklearn": rates["median"] / baseline,
                    "recall@10": float(
                        np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(found, truth)])
                    ),
                    "build s": run["fit s"],
                    "build peak growth MB": run["fit peak growth MB"],
                    "search peak growth MB": search["peak growth MB"],
                }
                if "partial_fit s" in run:
                    added = spread(run["partial_fit s"])
                    row["partial_fit 10,000 rows s"] = added["median"]
                    row["partial_fit range s"] = f"{added['min']:.3f} - {added['max']:.3f}"
                results[name] = row
    hnsw = [row for name, row in results.items() if name.startswith("hnsw")]
    reaching = [row for row in hnsw if row["recall@10"] >= 0.95]
    results["targets"] = {
        "exact >= 1.0x sklearn": results["exact"]["x sklearn"] >= 1.0,
        "hnsw >= 20x sklearn at recall@10 >= 0.95": bool(reaching)
        and max(row["x sklearn"] for row in reaching) >= 20,
    }
    return results
