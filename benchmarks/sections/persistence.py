"""Persistence: ``save`` and ``sksiamese.load`` of galleries, now and in format version 1.

Exact galleries of 10,000, 100,000 and 1,000,000 x 64 float32 rows and an
hnsw gallery of 200,000: seconds (median and range of 3), file size, peak
growth of resident memory of each call in a fresh process against the
size of what the gallery holds (its rows or its HNSW graph, and its
identities), and whether the loaded gallery gives the same neighbours; in
the current format and, as "before", in format version 1, written by the
sksiamese of commit 18b6c35 taken from git.
"""

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from data import gallery_data
from harness import ROOT, measure, run_child, spread

# The last commit whose save wrote format version 1 (arrays as JSON lists).
FORMAT_1_COMMIT = "18b6c35"


def run(args, data, train):
    if args.quick:
        return bench_persistence([("exact", 10_000), ("exact", 100_000), ("hnsw", 20_000)])
    return bench_persistence(
        [("exact", 10_000), ("exact", 100_000), ("exact", 1_000_000), ("hnsw", 200_000)]
    )


def persistence_save_child(folder, n_rows, algorithm, path, repeats):
    """Fit a gallery on the first ``n_rows`` rows, save it ``repeats`` times; seconds and memory.

    Runs under whichever sksiamese ``sys.path`` finds first, so that the
    same code measures the format of another commit. The gallery's answers
    to the queries are saved beside the data, for the loading side.
    """
    import sksiamese

    folder, n_rows, repeats = Path(folder), int(n_rows), int(repeats)
    rows = np.ascontiguousarray(np.load(folder / "X.npy", mmap_mode="r")[:n_rows])
    labels = np.load(folder / "y.npy")[:n_rows]
    gallery = sksiamese.GalleryClassifier(algorithm=algorithm).fit(rows, labels)
    np.save(
        Path(path).with_suffix(".found.npy"),
        gallery.kneighbors(np.load(folder / "queries.npy"), 10)[1],
    )
    seconds, growth = [], []
    for _ in range(repeats):
        _, took, peak = measure(lambda: gallery.save(path))
        seconds.append(took)
        growth.append(peak["total"])
    # What the gallery holds in memory: its rows, or the HNSW graph over them
    # (measured by its serialisation), and its identities.
    if algorithm == "hnsw":
        import faiss

        held = faiss.serialize_index(gallery.index_.index).nbytes
    else:
        held = rows.nbytes
    held += gallery.enrolled_codes_.nbytes + gallery.classes_.nbytes
    return {
        "seconds": seconds,
        "peak growth MB": max(growth),
        "bytes": os.path.getsize(path),
        "held bytes": held,
    }


def persistence_load_child(folder, path, repeats):
    """Load ``path`` ``repeats`` times in this fresh process: seconds, memory, same answers."""
    import sksiamese

    queries = np.load(Path(folder) / "queries.npy")
    # A small file of the same kind loaded first: the modules a load imports
    # (the gallery's, faiss) are not counted as its memory or seconds.
    algorithm = json.loads(Path(folder, "algorithm.json").read_text())
    with tempfile.TemporaryDirectory() as scratch:
        small = sksiamese.GalleryClassifier(algorithm=algorithm).fit(queries[:20], np.arange(20))
        sksiamese.load(small.save(os.path.join(scratch, "small.sksiamese")))
    seconds, growth, outcome = [], [], None
    for _ in range(int(repeats)):
        try:
            loaded, took, peak = measure(lambda: sksiamese.load(path))
        except ValueError as error:
            return {"refused": str(error).split(": ", 1)[-1][:200]}
        seconds.append(took)
        growth.append(peak["total"])
        found = loaded.kneighbors(queries, 10)[1]
        expected = np.load(Path(path).with_suffix(".found.npy"))
        outcome = bool(np.array_equal(found, expected))
        del loaded
    return {"seconds": seconds, "peak growth MB": max(growth), "same neighbours": outcome}


def bench_persistence(cases, *, repeats=3):
    """Save and load galleries in the current format and in format version 1 ("before").

    ``cases`` lists ``(algorithm, n_rows)``. Each save and each load runs in
    a fresh process (``run_child``); version 1 runs the sksiamese of
    ``FORMAT_1_COMMIT``, extracted from git, first on ``sys.path``. Saving
    100,000 rows or more in version 1 writes hundreds of megabytes of JSON
    or more: it runs once.
    """
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        gallery_data(folder, max(n_rows for _, n_rows in cases))
        old = folder / "format-1"
        old.mkdir()
        archive = subprocess.run(
            ["git", "archive", FORMAT_1_COMMIT, "sksiamese"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        for version, source in (("format 2", None), ("format 1 (before)", old)):
            for algorithm, n_rows in cases:
                path = folder / f"{algorithm}-{n_rows}.sksiamese"
                (folder / "algorithm.json").write_text(json.dumps(algorithm))
                times = 1 if source is not None and n_rows >= 100_000 else repeats
                saved = run_child(
                    persistence_save_child,
                    folder,
                    n_rows,
                    algorithm,
                    path,
                    times,
                    python_path=source,
                )
                loaded = run_child(persistence_load_child, folder, path, times, python_path=source)
                held_mb = saved["held bytes"] / 2**20
                save_s = spread(saved["seconds"])
                row = {
                    "rows": n_rows,
                    "gallery MB": held_mb,
                    "file MB": saved["bytes"] / 2**20,
                    "save s": save_s["median"],
                    "save range s": f"{save_s['min']:.3f} - {save_s['max']:.3f}",
                    "save peak growth MB": saved["peak growth MB"],
                    "repeats": times,
                }
                if "refused" in loaded:
                    row["load"] = f"refused: {loaded['refused']}"
                else:
                    load_s = spread(loaded["seconds"])
                    row.update(
                        {
                            "load s": load_s["median"],
                            "load range s": f"{load_s['min']:.3f} - {load_s['max']:.3f}",
                            "load peak growth MB": loaded["peak growth MB"],
                            "load peak over gallery": loaded["peak growth MB"] / held_mb,
                            "same neighbours": loaded["same neighbours"],
                        }
                    )
                results[f"{version}, {algorithm}, {n_rows:,} x 64"] = row
                path.unlink()
    return results
