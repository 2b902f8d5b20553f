"""The figures the README and the documentation quote, read from a benchmark run.

Each figure has a name, the path of keys to its value in the JSON that
``run.py`` writes, and the way it is quoted. The documentation takes every
figure as a reStructuredText substitution (``|fewshot_siamese_20_within|``,
set up in ``docs/conf.py``); a measured median also gives ``|name_range|``,
its range over the repeats. The README is static, so its benchmark table is
written from the same figures:

    python benchmarks/figures.py --readme    # rewrite README.md's table and demo output from the reference run
    python benchmarks/figures.py --check     # list figures the reference run lacks
    python benchmarks/figures.py --plot recall.png   # the guide's recall-against-speed plot

The docs build also draws its plots from the reference run
(``recall_speed_plot``), into ``docs/generated/figures/``.

The reference run is ``reference/cpu-2core.json`` together with the
sections measured again in runs of their own beside it (each section from
the latest run that measured it; see ``results``). Regenerating them and
rebuilding the docs therefore updates every figure they quote, and ``tests/test_figures.py`` fails, naming
the stale rows, while the README's table differs from the reference run.
Numbers that are settings of a run (rows, epochs, batch sizes) are written
in the text; numbers that are measured come from here.
"""

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "reference" / "cpu-2core.json"
README = HERE.parent / "README.md"
BEGIN, END = "<!-- figures: begin -->", "<!-- figures: end -->"
DEMO_BEGIN, DEMO_END = "<!-- demo output: begin -->", "<!-- demo output: end -->"


def _ms(value):
    """Milliseconds as the mining tables quote them: 3 significant digits or whole ms."""
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def _fixed(spec):
    return lambda value: format(value, spec)


def _times(value):
    return f"{value:.1f}x"


# name: (path of keys in the results, how the value is written)
FIGURES = {}


def _add(name, path, how):
    FIGURES[name] = (tuple(path), how if callable(how) else _fixed(how))


_TRAIN_BN = ("train", "custom conv+BN network, 128-d, batch-hard")
_TRAIN_CNN = ("train", "default cnn, 32-d, semi-hard")
for _prefix, _setup in (("train_bn", _TRAIN_BN), ("train_cnn", _TRAIN_CNN)):
    _add(f"{_prefix}_fit", [*_setup, "fit images/s"], ",.0f")
    _add(f"{_prefix}_loop", [*_setup, "loop images/s"], ",.0f")
    _add(f"{_prefix}_fit_over_loop", [*_setup, "fit over loop"], ".2f")
_add("train_cnn_fit_augmented", [*_TRAIN_CNN, "fit with augmentation images/s"], ",.0f")

# Whole fits against a whole hand-written loop, and whole fits of a frozen backbone.
_WHOLE = ("wholefit", "against a hand-written loop")
for _prefix, _setup in (("bn", _TRAIN_BN[1]), ("cnn", _TRAIN_CNN[1])):
    for _epochs in (4, 40):
        _row = [*_WHOLE, f"{_setup}, {_epochs} epochs"]
        _add(f"wholefit_{_prefix}_{_epochs}_fit", [*_row, "fit s"], ".1f")
        _add(f"wholefit_{_prefix}_{_epochs}_loop", [*_row, "loop s"], ".1f")
        _add(f"wholefit_{_prefix}_{_epochs}_speed", [*_row, "fit speed over loop"], ".2f")
_FROZEN = ("wholefit", "frozen backbone")
for _short, _kind in (
    ("frozen", "frozen"),
    ("no_fast_path", "frozen, through every layer each batch"),
    ("trainable", "trainable"),
):
    _add(f"wholefit_frozen_{_short}_fit", [*_FROZEN, f"{_kind}: fit s"], ".1f")
_add("wholefit_frozen_speedup", [*_FROZEN, "frozen speed-up over trainable"], _times)
_add("wholefit_frozen_over_no_fast_path", [*_FROZEN, "frozen speed-up over no fast path"], _times)

for _short, _name in (
    ("transform", "transform"),
    ("predict", "encoder_.predict"),
    ("predict_on_batch", "encoder_.predict_on_batch"),
    ("call", "encoder_(x) called directly"),
):
    _add(f"infer_1row_{_short}", ["infer", "one row, ms", _name], ".1f")
for _short, _name in (
    ("transform", "transform"),
    ("predict", "encoder_.predict"),
    ("predict_1024", "encoder_.predict(batch_size=1024)"),
):
    _add(f"infer_10k_{_short}", ["infer", "10,000 rows, rows/s", _name], ",.0f")
for _dtype in ("float32", "float64"):
    _memory = ["infer", f"one transform of 1,000,000 rows, {_dtype}"]
    _add(f"infer_memory_{_dtype}", [*_memory, "peak growth MB"], ",.0f")
    _add(f"infer_output_{_dtype}", [*_memory, "output MB"], ",.0f")

for _short, _name in (("raw", "raw pixels"), ("pca", "PCA (32)"), ("siamese", "SiameseEmbedder")):
    for _way in (20, 5):
        for _protocol, _label in (("within", "within alphabet"), ("across", "across alphabets")):
            _add(
                f"fewshot_{_short}_{_way}_{_protocol}",
                ["fewshot", f"{_name}, {_way}-way 1-shot, {_label}"],
                ".2f",
            )
# The defaults section: each candidate's 20-way accuracy and fit CPU seconds on
# each alphabet split it ran on.
DEFAULTS_SPLITS = {"demo": "demo", "no_korean": "no-Korean", "no_latin": "no-Latin"}
DEFAULTS_CANDIDATES = {
    "before": "before",
    "cosine": "cosine decay",
    "k2": "samples_per_class=2",
    "hard": "mining=hard",
    "c64": "n_components=64",
    "rotated": "rotated classes",
    "rotated_hard": "rotated classes + mining=hard",
    "rotated_c64": "rotated classes + n_components=64",
    "rotated_lr": "rotated classes + learning_rate=3e-3",
    "rotated_lr_cosine": "rotated classes + learning_rate=3e-3 + cosine decay",
    "rotated_lr_no_augment": "rotated classes + learning_rate=3e-3 + augment=False",
    "mirrored_lr": "rotated + mirrored classes + learning_rate=3e-3",
    "mirrored_lr_wider": (
        "rotated + mirrored classes + learning_rate=3e-3 + filters=(48, 96, 192)"
    ),
    "mirrored_lr_k8": "rotated + mirrored classes + learning_rate=3e-3 + samples_per_class=8",
    "mirrored_lr_contrastive": "rotated + mirrored classes + learning_rate=3e-3 + loss=contrastive",
}
# Every candidate ran on the demo split; those that became defaults, the
# defaults before, augment=False and mirrored classes on the two others
# (RUNS in sections/defaults.py).
_CONFIRMED = ("before", "rotated", "rotated_lr", "rotated_lr_no_augment", "mirrored_lr")
for _split_short, _split in DEFAULTS_SPLITS.items():
    for _short, _name in DEFAULTS_CANDIDATES.items():
        if _split_short != "demo" and _short not in _CONFIRMED:
            continue
        _run = ["defaults", _split, _name]
        _prefix = f"defaults_{_split_short}_{_short}"
        _add(f"{_prefix}_1shot", [*_run, "20-way 1-shot"], ".3f")
        _add(f"{_prefix}_5shot", [*_run, "20-way 5-shot"], ".3f")
        _add(f"{_prefix}_cpu", [*_run, "fit CPU seconds"], ".0f")
# The two candidates that also ran with seeds 0, 1 and 2 on every split.
for _split_short, _split in DEFAULTS_SPLITS.items():
    for _short in ("rotated_lr", "mirrored_lr"):
        _run = ["defaults", _split, f"{DEFAULTS_CANDIDATES[_short]}, seeds"]
        _prefix = f"defaults_{_split_short}_{_short}_seeds"
        for _shot in (1, 5):
            for _statistic in ("mean", "min", "max"):
                _add(
                    f"{_prefix}_{_shot}shot_{_statistic}",
                    [*_run, f"20-way {_shot}-shot, {_statistic}"],
                    ".3f",
                )
for _short, _name in (
    ("no_augmentation", "augment=False"),
    ("hard", "mining='hard'"),
    ("all", "mining='all'"),
    ("64_components", "n_components=64"),
):
    for _way in (20, 5):
        _add(
            f"fewshot_{_short}_{_way}_within",
            [
                "fewshot",
                "variants of the default cnn",
                _name,
                f"{_way}-way 1-shot, within alphabet",
            ],
            ".2f",
        )

for _size in (10_000, 20_000, 40_000):
    _run = ["scaling", f"siamese n={_size}"]
    _add(f"scaling_{_size // 1000}k_epoch", [*_run, "seconds per epoch"], ".2f")
    _add(f"scaling_{_size // 1000}k_peak", [*_run, "process peak resident MB"], ",.0f")
_add("scaling_10k_fit", ["scaling", "siamese n=10000", "fit seconds"], ".1f")
_add("scaling_10k_accuracy", ["scaling", "siamese n=10000", "1-NN accuracy, held-out rows"], ".3f")
_add("scaling_raw_accuracy", ["scaling", "siamese n=10000", "raw-feature 1-NN accuracy"], ".3f")
_add("scaling_nca_fit", ["scaling", "nca n=10000", "fit seconds"], ".0f")
_add("scaling_nca_iterations", ["scaling", "nca n=10000", "iterations"], "d")
_add("scaling_nca_accuracy", ["scaling", "nca n=10000", "1-NN accuracy, held-out rows"], ".3f")
_add("scaling_nca_peak", ["scaling", "nca n=10000", "process peak resident MB"], ",.0f")

for _task, _key in (("omniglot", "Omniglot 3 -> 2 alphabets"), ("digits", "digits 0-6 -> 7-9")):
    for _short, _name in (
        ("raw", "raw pixels"),
        ("pair", "pair model (contrastive, fit on pairs)"),
        ("triplet", "triplet embedder (fit on classes)"),
    ):
        for _measure, _label in (("auc", "ROC AUC"), ("eer", "EER"), ("tar", "TAR@FAR=1%")):
            _add(f"verify_{_task}_{_short}_{_measure}", ["verify", _key, _name, _label], ".3f")

for _short, _run in (
    ("memmap", "memmap, batch_size=128, mining=semi-hard"),
    ("memory", "memory, batch_size=128, mining=semi-hard"),
    ("memmap_1024", "memmap, batch_size=1024, mining=semi-hard"),
    ("memmap_1024_hard", "memmap, batch_size=1024, mining=hard"),
):
    _add(f"outofcore_{_short}_epoch", ["outofcore", _run, "fit seconds per epoch"], ".0f")
    for _kind, _label in (("", "total"), ("_anonymous", "anonymous"), ("_file", "file pages")):
        _add(
            f"outofcore_{_short}_growth{_kind}",
            ["outofcore", _run, "fit peak growth MB", _label],
            ".0f",
        )
    _add(f"outofcore_{_short}_transform", ["outofcore", _run, "transform seconds"], ".1f")
    _add(
        f"outofcore_{_short}_transform_growth",
        ["outofcore", _run, "transform peak growth MB"],
        ".0f",
    )
_add("outofcore_file", ["outofcore", "file", "MB"], ",.0f")
_add(
    "outofcore_output",
    ["outofcore", "memmap, batch_size=128, mining=semi-hard", "transform output MB"],
    ".0f",
)

for _short, _run in (
    ("none_128", "none, float32, batch_size=128"),
    ("none_64", "none, float32, batch_size=64"),
    ("mirrored_128", "mirrored-cpu, float32, batch_size=128"),
    ("bfloat16_128", "none, mixed_bfloat16, batch_size=128"),
):
    _add(f"distribute_{_short}", ["distribute", _run, "train images/s"], ",.0f")
    _add(f"distribute_{_short}_loss", ["distribute", _run, "final loss"], ".4f")
for _short, _name in (
    ("mirrored_over_64", "mirrored over none at the per-replica batch (64)"),
    ("mirrored_over_128", "mirrored over none at the global batch (128)"),
    ("bfloat16_over_float32", "mixed_bfloat16 over float32"),
):
    _add(f"distribute_{_short}", ["distribute", "train speed ratios", _name], ".2f")

_MINING_SIZES = (128, 512, 1024, 4096, 8192)
for _per_class in (4, 64):
    for _size in _MINING_SIZES:
        for _mining in ("hard", "semi-hard", "all"):
            _short = f"mining_{_per_class}_{_size}_{_mining.replace('-', '')}"
            _row = ["mining", f"{_per_class} rows per class, B={_size}, {_mining}"]
            _add(_short, [*_row, "sksiamese", "median ms"], _ms)
            _add(f"{_short}_memory", [*_row, "sksiamese", "peak growth MB"], ",.0f")
            if _mining != "hard":
                _add(f"{_short}_over_hard", [*_row, "over hard"], _times)
            if _per_class == 4 and _mining != "hard":
                # A measurement, or the reason it was not run.
                _add(f"{_short}_definition", [*_row, "definition"], _ms)

for _size in (64, 128, 256, 512):
    for _way in (20, 5):
        _add(
            f"batchsize_{_size}_{_way}",
            ["batchsize", f"batch_size={_size}", f"{_way}-way 1-shot"],
            ".3f",
        )

# The gallery section: its 1,000,000 x 64 gallery's rows at the top level, the
# 256-d one's under GALLERY_WIDE, the removal rows under "removal".
# The levers section: each lever's 20-way accuracy over every split and seed
# (mean, lowest, highest, gain of the mean over the defaults'), its mean per
# split, and its CPU seconds.
LEVERS = {
    "defaults": "defaults",
    "early_stopping": "early stopping on held-out classes, up to 100 epochs",
    "wider": "wider cnn (48, 96, 192 filters)",
    "deeper": "deeper cnn (2 convolutions per block)",
    "shifts": "test-time shifts",
    "px35": "35 px images",
    "ensemble": "ensemble of two encoders",
}
LEVERS_SPLITS = {
    "aramaic_greek": "Early_Aramaic + Greek",
    "korean_sanskrit": "Korean + Sanskrit",
    "balinese_tagalog": "Balinese + Tagalog",
}
for _short, _name in LEVERS.items():
    _row = ["levers", "summary", _name]
    for _task_short, _task in (("1shot", "20-way 1-shot"), ("5shot", "20-way 5-shot")):
        _name_task = f"levers_{_short}_{_task_short}"
        _add(_name_task, [*_row, f"{_task}, mean"], ".3f")
        _add(f"{_name_task}_min", [*_row, f"{_task}, min"], ".3f")
        _add(f"{_name_task}_max", [*_row, f"{_task}, max"], ".3f")
        _add(f"{_name_task}_gain", [*_row, f"{_task}, gain over defaults"], "+.3f")
        for _split_short, _split in LEVERS_SPLITS.items():
            _add(
                f"{_name_task}_{_split_short}",
                [*_row, f"{_task}, mean by split", _split],
                ".3f",
            )
    _add(f"levers_{_short}_fit_cpu", [*_row, "fit CPU seconds, mean"], ",.0f")
    _add(f"levers_{_short}_embed_cpu", [*_row, "embed CPU seconds, mean"], ".1f")
_add(
    "levers_early_stopping_epochs",
    ["levers", "summary", LEVERS["early_stopping"], "epochs run, mean"],
    ".0f",
)

# The shifts section: test_time_shifts as the estimator gives them, on the
# levers section's fits.
SHIFTS_WAYS = {
    "plain": "plain",
    "blank": "blank paper at the edge (levers)",
    "tts1": "test_time_shifts=1",
    "tts2": "test_time_shifts=2",
}
for _short, _name in SHIFTS_WAYS.items():
    _row = ["shifts", "summary", _name]
    for _task_short, _task in (("1shot", "20-way 1-shot"), ("5shot", "20-way 5-shot")):
        for _stat, _key in (("", "mean"), ("_min", "min"), ("_max", "max")):
            _add(f"shifts_{_short}_{_task_short}{_stat}", [*_row, f"{_task}, {_key}"], ".3f")
        _add(f"shifts_{_short}_{_task_short}_gain", [*_row, f"{_task}, gain over plain"], "+.3f")
    _add(f"shifts_{_short}_embed_cpu", [*_row, "embed CPU seconds, mean"], ".2f")

GALLERY_WIDE = "256-d, 2 rows per identity"
GALLERY_DEFAULT = "hnsw, defaults (ef_search for target_recall)"
GALLERY_EF_SWEEP = (16, 24, 32, 48, 64, 96, 128, 256)
GALLERY_METHODS = {
    "sklearn": "sklearn NearestNeighbors(algorithm='brute')",
    "exact": "exact",
    "memmap": "exact, memory-mapped .npy",
    "default": GALLERY_DEFAULT,
    **{f"hnsw{_ef}": f"hnsw, ef_search={_ef}" for _ef in GALLERY_EF_SWEEP},
}
for _prefix, _gallery in (("gallery", ()), ("gallery256", (GALLERY_WIDE,))):
    for _short, _name in GALLERY_METHODS.items():
        _row = ["gallery", *_gallery, _name]
        _add(f"{_prefix}_{_short}_qps", [*_row, "queries/s"], ",.0f")
        _add(f"{_prefix}_{_short}_qps_range", [*_row, "queries/s range"], str)
        _add(f"{_prefix}_{_short}_x", [*_row, "x sklearn"], _times)
        _add(f"{_prefix}_{_short}_recall", [*_row, "recall@10"], ".3f")
        _add(f"{_prefix}_{_short}_recall2", [*_row, "recall@10"], ".2f")
        _add(f"{_prefix}_{_short}_build", [*_row, "build s"], ".1f")
        _add(f"{_prefix}_{_short}_build_memory", [*_row, "build peak growth MB"], ",.0f")
        _add(f"{_prefix}_{_short}_search_memory", [*_row, "search peak growth MB"], ",.0f")
        if _short != "sklearn":
            _add(f"{_prefix}_{_short}_partial_fit", [*_row, "partial_fit 10,000 rows s"], ".2f")
    _row = ["gallery", *_gallery, GALLERY_DEFAULT]
    _add(f"{_prefix}_default_ef", [*_row, "ef_search_"], "d")
    _add(f"{_prefix}_default_fit_recall", [*_row, "recall_ (measured at fit)"], ".3f")
    _add(f"{_prefix}_default_calibration", [*_row, "calibration s"], ".1f")
    _add(f"{_prefix}_default_calibration_share", [*_row, "calibration share of build"], ".0%")
# remove(): (short name, step) of REMOVAL_STEPS in sections/gallery.py.
GALLERY_REMOVAL_STEPS = {
    "one": "1 identity",
    "1pc": "1% of identities",
    "10pc": "10% of identities",
    "15pc": "to 15% removed",
    "rebuild": "past 20% removed (hnsw rebuilds)",
}
for _short, _name in (
    ("exact", "exact"),
    ("memmap", "exact, memory-mapped .npy"),
    ("hnsw", "hnsw, defaults"),
):
    _row = ["gallery", "removal", _name]
    for _step, _step_name in GALLERY_REMOVAL_STEPS.items():
        _add(f"removal_{_short}_{_step}", [*_row, f"{_step_name} s"], ".3f")
    _add(f"removal_{_short}_fit", [*_row, "fit s"], ".1f")
    _add(f"removal_{_short}_answered", [*_row, "removed identities answered"], "d")
for _step in ("15pc", "rebuild"):
    _row = ["gallery", "removal", "hnsw, defaults", f"search, {GALLERY_REMOVAL_STEPS[_step]}"]
    _add(f"removal_hnsw_{_step}_recall", [*_row, "recall@10"], ".3f")
    _add(f"removal_hnsw_{_step}_qps", [*_row, "queries/s"], ",.0f")


# The far section: FAR reached on strangers and genuine accept rate, per
# gallery (identities, enrolments each) and requested far.
FAR_GALLERIES = ((20, 1), (20, 10), (100, 1), (100, 10), (2_000, 1), (2_000, 10))
FAR_GALLERIES += ((100_000, 1), (100_000, 10))
FAR_TARGETS = {"001": 0.01, "005": 0.05, "01": 0.1}
for _n, _per in FAR_GALLERIES:
    _case = f"{_n:,} identities x {_per} enrolment{'s' if _per > 1 else ''}"
    for _short, _far in FAR_TARGETS.items():
        if _n * _per < 1 / _far:
            continue  # fewer rows than 1 / far: fit refuses to calibrate
        _row = ["far", _case, f"far={_far}"]
        _name = f"far_{_n}_{_per}_{_short}"
        _add(_name, [*_row, "FAR, mean of seeds"], ".4f")
        _add(f"{_name}_min", [*_row, "FAR, min"], ".4f")
        _add(f"{_name}_max", [*_row, "FAR, max"], ".4f")
        _add(f"{_name}_genuine", [*_row, "genuine accept rate, mean of seeds"], ".3f")
        _add(f"{_name}_warned", [*_row, "warned"], str)
for _short, _far in FAR_TARGETS.items():
    _add(
        f"far_standard_error_{_short}",
        ["far", "2,000 identities x 10 enrolments", f"far={_far}"]
        + ["binomial standard error at far, one seed"],
        ".4f",
    )


def _lookup(results, path):
    value = results
    for key in path:
        value = value[key]
    return value


def results(path=None):
    """The results of the run at ``path``; by default, of the reference runs together.

    A section measured again in a run of its own (``run.py --sections
    <name> --output reference/<name>-cpu-2core.json``) replaces what the
    full run measured: each section comes from the latest reference run at
    full size that measured it.
    """
    if path is not None:
        return json.loads(Path(path).read_text())
    runs = [json.loads(run.read_text()) for run in REFERENCE.parent.glob("*.json")]
    merged = {}
    for run in sorted(runs, key=lambda run: run["meta"]["date"]):
        if not run["meta"].get("quick"):
            merged.update({name: run[name] for name in run["meta"]["sections"] if name in run})
    return merged


def load(path=None):
    """``{name: text}`` of every figure found in the results at ``path`` (see ``results``).

    A measured median with its range, ``{"median", "min", "max"}``, gives
    ``name`` (the median) and ``name_range`` ("min-max"). A text where a
    number was expected (a reason a measurement was not run) is quoted as
    it is.
    """
    measured = results(path)
    values = {}
    for name, (keys, how) in FIGURES.items():
        try:
            value = _lookup(measured, keys)
        except (KeyError, TypeError):
            continue
        if isinstance(value, dict) and "median" in value:
            values[f"{name}_range"] = f"{how(value['min'])}-{how(value['max'])}"
            value = value["median"]
        elif isinstance(value, dict) and "median ms" in value:
            value = value["median ms"]
        values[name] = value if isinstance(value, str) else how(value)
    return values


def missing(values):
    """Names of the figures that ``values`` (from ``load``) lacks."""
    return sorted(name for name in FIGURES if name not in values)


NOT_MEASURED = "(not in the reference run)"


def quoted(values):
    """``values`` with every figure it lacks, and its range, quoted as not measured.

    The reference runs together hold every figure (a test checks it); a run
    of some sections, such as a quick run, may lack some, and the pages say
    so where they quote them.
    """
    names = [*FIGURES, *(f"{name}_range" for name in FIGURES)]
    return {**dict.fromkeys(names, NOT_MEASURED), **values}


def rst_substitutions(values):
    """reStructuredText substitution definitions of every figure, for ``rst_epilog``."""
    return "\n".join(f".. |{name}| replace:: {text}" for name, text in sorted(values.items()))


def recall_speed_plot(path, results_path=None):
    """Plot hnsw's recall@10 against its speed over brute force, from the run at ``results_path`` (see ``results``).

    One curve per gallery of the ``gallery`` section, a point per
    ``ef_search`` of its sweep, and a star where the defaults (``ef_search_``
    calibrated for ``target_recall``) landed. Rows the run lacks are left
    out, as the pages quote figures it lacks as not measured; with none at
    all the plot says so. Written as a PNG to ``path``; returns the points
    drawn, ``{gallery: {"ef_search": [(ef, recall, speed-up)], "defaults":
    (ef_search_, recall, speed-up)}}``.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    gallery = results(results_path).get("gallery", {})
    figure = Figure(figsize=(6.4, 4.2), layout="constrained")
    axes = figure.subplots()
    drawn = {}
    for rows, marker in ((gallery, "o"), (gallery.get(GALLERY_WIDE, {}), "s")):
        curve = [
            (ef, rows[name]["recall@10"], rows[name]["x sklearn"])
            for ef in GALLERY_EF_SWEEP
            if (name := f"hnsw, ef_search={ef}") in rows
        ]
        if not curve:
            continue
        label = rows["data"].split(" float32")[0]
        drawn[label] = {"ef_search": curve}
        _, recall, speed = zip(*curve)
        (line,) = axes.plot(recall, speed, marker=marker, label=f"{label}, ef_search fixed")
        for ef, *point in curve:
            axes.annotate(str(ef), point, textcoords="offset points", xytext=(4, 4), fontsize=8)
        if GALLERY_DEFAULT in rows:
            default = rows[GALLERY_DEFAULT]
            drawn[label]["defaults"] = point = (
                default["ef_search_"],
                default["recall@10"],
                default["x sklearn"],
            )
            axes.plot(
                *point[1:],
                marker="*",
                markersize=14,
                linestyle="none",
                color=line.get_color(),
                label=f"{label}, defaults (ef_search_={point[0]})",
            )
    if drawn:
        axes.axvline(
            0.95, color="grey", linestyle="--", linewidth=1, label="target_recall=0.95 (default)"
        )
        axes.set_yscale("log")
        for axis in (axes.yaxis.set_major_formatter, axes.yaxis.set_minor_formatter):
            axis(FuncFormatter(lambda value, _: f"{value:g}x"))
        axes.set_xlabel("recall@10 against exact search")
        axes.set_ylabel("queries/s over scikit-learn brute force")
        axes.legend(fontsize=8)
    else:
        axes.text(0.5, 0.5, NOT_MEASURED, ha="center", va="center")
        axes.set_axis_off()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return drawn


# The README's benchmark table: (measure, sksiamese, reference), with {figure} fields.
README_ROWS = (
    (
        "training, default cnn, 28x28, 32 classes x 4, no augmentation",
        "{train_cnn_fit} images/s",
        "hand-written `tf.function` loop: {train_cnn_loop}",
    ),
    (
        "training, conv network with batch normalisation, 128-d, batch-hard",
        "{train_bn_fit} images/s",
        "hand-written loop: {train_bn_loop}; `fit` over loop {train_bn_fit_over_loop} "
        "(range {train_bn_fit_over_loop_range})",
    ),
    (
        "semi-hard mining, loss and gradient, batch of 1,024 (8,192) rows",
        "{mining_4_1024_semihard} ms ({mining_4_8192_semihard} ms)",
        "its O(B^3) definition: {mining_4_1024_semihard_definition} ms (out of memory)",
    ),
    (
        "one-row `transform`",
        "{infer_1row_transform} ms",
        "`encoder_.predict`: {infer_1row_predict} ms; `predict_on_batch`: "
        "{infer_1row_predict_on_batch} ms; `encoder_(x)`: {infer_1row_call} ms",
    ),
    (
        "10,000 rows",
        "{infer_10k_transform} rows/s",
        "`encoder_.predict`: {infer_10k_predict}; with `batch_size=1024`: {infer_10k_predict_1024}",
    ),
    (
        "peak memory of one `transform` of 1,000,000 rows, float32 (float64)",
        "{infer_memory_float32} MB ({infer_memory_float64} MB)",
        "its output: {infer_output_float32} MB ({infer_output_float64} MB)",
    ),
    (
        "Omniglot 20-way 1-shot, unseen alphabets, 40 epochs",
        "{fewshot_siamese_20_within}",
        "raw pixels {fewshot_raw_20_within}, PCA {fewshot_pca_20_within}",
    ),
    (
        "whole fit, 10,000 rows of 50 classes (1-NN accuracy on held-out rows; raw features "
        "{scaling_raw_accuracy})",
        "{scaling_10k_fit} s, 4 epochs ({scaling_10k_accuracy})",
        "`NeighborhoodComponentsAnalysis`: {scaling_nca_fit} s, {scaling_nca_iterations} "
        "iterations ({scaling_nca_accuracy})",
    ),
    (
        "verification ROC AUC (EER), Omniglot pairs of unseen alphabets, 40 epochs",
        "pair model {verify_omniglot_pair_auc} ({verify_omniglot_pair_eer}), triplet embedder "
        "{verify_omniglot_triplet_auc} ({verify_omniglot_triplet_eer})",
        "raw pixels {verify_omniglot_raw_auc} ({verify_omniglot_raw_eer})",
    ),
    (
        "verification ROC AUC (EER), digits: pairs of 7-9 after training on 0-6",
        "pair model {verify_digits_pair_auc} ({verify_digits_pair_eer}), triplet embedder "
        "{verify_digits_triplet_auc} ({verify_digits_triplet_eer})",
        "raw pixels {verify_digits_raw_auc} ({verify_digits_raw_eer})",
    ),
    (
        'epoch on a 1,000,000 x 32 float32 file read with `mmap_mode="r"`',
        "{outofcore_memmap_epoch} s, memory +{outofcore_memmap_growth} MB",
        "loaded into memory: {outofcore_memory_epoch} s, +{outofcore_memory_growth} MB "
        "beside the array",
    ),
    (
        "training, default cnn, `MirroredStrategy` over 2 logical CPUs, batch of 128",
        "{distribute_mirrored_128} images/s",
        "no strategy, batches of 64 as each replica: {distribute_none_64}; of 128: "
        "{distribute_none_128}",
    ),
    (
        "exact search, 1,000,000 x 64 gallery, 2 cores",
        "{gallery_exact_qps} queries/s; HNSW, defaults: {gallery_default_qps} (recall@10 "
        "{gallery_default_recall2})",
        "scikit-learn brute-force `NearestNeighbors`: {gallery_sklearn_qps}",
    ),
)


def readme_table(values):
    """The README's benchmark table, between its markers, from figures ``values``."""
    lines = [BEGIN, "| measure | sksiamese | reference |", "| --- | --- | --- |"]
    values = quoted(values)
    lines += [
        "| " + " | ".join(cell.format_map(values) for cell in row) + " |" for row in README_ROWS
    ]
    return "\n".join([*lines, END])


def readme_section(text, begin=BEGIN, end=END):
    """The part of README ``text`` between the markers ``begin`` and ``end``, both included."""
    start, stop = text.index(begin), text.index(end) + len(end)
    return text[start:stop]


def readme_demo(path=None):
    """The README's block of what the demo printed, between its markers, from the run at ``path``."""
    lines = results(path)["fewshot"]["demo output"]
    return "\n".join([DEMO_BEGIN, "```text", *lines, "```", DEMO_END])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--results", type=Path, default=None, help="a run's JSON (default: the reference runs)"
    )
    parser.add_argument(
        "--readme", action="store_true", help="rewrite README.md's table and the demo's output"
    )
    parser.add_argument("--check", action="store_true", help="list figures the results lack")
    parser.add_argument(
        "--plot", type=Path, default=None, help="write the recall-against-speed plot to this PNG"
    )
    args = parser.parse_args(argv)
    if args.plot:
        recall_speed_plot(args.plot, args.results)
        print(f"wrote {args.plot}")
        return 0
    values = load(args.results)
    if args.check:
        absent = missing(values)
        print("\n".join(absent) or "every figure is present")
        return 1 if absent else 0
    if args.readme:
        text = README.read_text()
        text = text.replace(readme_section(text), readme_table(values))
        demo = readme_section(text, DEMO_BEGIN, DEMO_END)
        README.write_text(text.replace(demo, readme_demo(args.results)))
        print(f"wrote the table and the demo's output of {README}")
        return 0
    print(readme_table(values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
