"""Mining cost per batch size: the library's mining against the definitions.

Milliseconds of one triplet loss and its gradient per batch size (128 to
8192 rows of 64-d unit vectors) and mining, in P x K batches of 4 rows per
class and in batches of 64 rows per class, against the O(B**3)
definitions (``tests/mining_reference.py``) where they fit in memory, and
the peak growth of resident memory.
"""

import importlib.util
import time

import numpy as np

from harness import ROOT, measure, run_child


def run(args, data, train):
    return bench_mining(quick=args.quick)


def mining_child(size, per_class, mining, how, repeats, reference):
    """Milliseconds of one loss and gradient step and its memory growth, in this process."""

    import tensorflow as tf

    size, per_class, repeats = int(size), int(per_class), int(repeats)
    if how == "definition":
        spec = importlib.util.spec_from_file_location("mining_reference", reference)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loss = module.triplet_loss
    else:
        from sksiamese.losses import triplet_loss as loss

    rng = np.random.default_rng(0)
    labels = tf.constant(rng.permutation(np.repeat(np.arange(size // per_class), per_class)))
    embeddings = tf.Variable(
        tf.math.l2_normalize(rng.normal(size=(size, 64)).astype(np.float32), axis=1)
    )

    @tf.function(jit_compile=False)
    def step():
        with tf.GradientTape() as tape:
            value = loss(labels, embeddings, margin=0.2, mining=mining)
        return value, tape.gradient(value, embeddings)

    def steps():
        step()[1].numpy()  # traces
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            step()[1].numpy()
            times.append(1000 * (time.perf_counter() - start))
        return times

    times, _, growth = measure(steps)
    return {
        "median ms": float(np.median(times)),
        "min ms": min(times),
        "max ms": max(times),
        "repeats": repeats,
        "peak growth MB": growth["total"],
    }


def bench_mining(*, quick):
    """Loss and gradient of one batch: the library's mining against the definitions.

    Each figure comes from a fresh process (so memory figures are the
    call's own): one traced call, then the median and range of the timed
    repeats. The definitions build ``(B, B, B)`` tensors: they are run up
    to the sizes where that fits in a few GB and takes seconds, and the
    table says what the larger ones would need.
    """
    reference = ROOT / "tests" / "mining_reference.py"
    sizes = (128, 512, 1024) if quick else (128, 512, 1024, 4096, 8192)
    # Cubic definitions: B**3 float32 entries, several tensors of them.
    definition_limits = {"semi-hard": 1024, "all": 512}
    results = {}

    def child(size, per_class, mining, how):
        repeats = 3 if size >= 4096 or how == "definition" and size >= 1024 else 5
        return run_child(mining_child, size, per_class, mining, how, repeats, reference)

    for per_class in (4, 64):
        layout = f"{per_class} rows per class"
        for size in sizes:
            for mining in ("hard", "semi-hard", "all"):
                row = {"sksiamese": child(size, per_class, mining, "library")}
                if mining == "hard":
                    row["definition"] = "same code (batch-hard was already O(B**2))"
                elif per_class == 4 and size <= definition_limits[mining]:
                    row["definition"] = child(size, per_class, mining, "definition")
                elif per_class == 4:
                    gib = size**3 * 4 / 2**30
                    row["definition"] = (
                        f"not run: one (B, B, B) float32 tensor alone is {gib:,.0f} GiB"
                    )
                results[f"{layout}, B={size}, {mining}"] = row
        for size in sizes:
            hard = results[f"{layout}, B={size}, hard"]["sksiamese"]["median ms"]
            for mining in ("semi-hard", "all"):
                ratio = results[f"{layout}, B={size}, {mining}"]["sksiamese"]["median ms"] / hard
                results[f"{layout}, B={size}, {mining}"]["over hard"] = ratio
    return results
