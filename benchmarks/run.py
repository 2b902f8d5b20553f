"""sksiamese benchmark suite: speed, few-shot quality and scaling.

    python benchmarks/run.py                 # every section: rewrites reference/cpu-2core.json
    python benchmarks/run.py --quick         # smaller sizes: writes results/latest.json
    python benchmarks/run.py --sections fewshot --output my.json
    python benchmarks/run.py --estimate      # how long each section took in the reference run

One run measures every section on one commit and writes them all to one
JSON file, with the commit (and whether the tree had uncommitted changes),
the machine, the library versions, the date and the seconds each section
took. The sections, in the order they run and appear in the file, are the
modules of ``sections/`` listed in ``SECTIONS``; each module's docstring
says what it measures: train, wholefit, infer, fewshot, scaling, verify,
outofcore, distribute, mining, batchsize, gallery, far, defaults, levers, shifts,
transfer,
persistence.
``harness.py`` holds the measurement helpers they share, ``data.py`` the
data several of them use.
"""

import argparse
import json
import os
import time
from pathlib import Path

from data import omniglot_split
from harness import BENCHMARKS, ROOT, metadata
from sections import (
    batchsize,
    defaults,
    distribute,
    far,
    fewshot,
    gallery,
    infer,
    levers,
    mining,
    outofcore,
    persistence,
    scaling,
    shifts,
    train,
    transfer,
    verify,
    wholefit,
)

REFERENCE = BENCHMARKS / "reference" / "cpu-2core.json"
LATEST = BENCHMARKS / "results" / "latest.json"

# Section name -> module, in the order they run. A module's ``run(args, data,
# train)`` returns its results at the sizes of ``args.quick``; its
# ``OPTIONS``, if any, are command-line options it reads from ``args``.
SECTIONS = {
    "train": train,
    "wholefit": wholefit,
    "infer": infer,
    "fewshot": fewshot,
    "scaling": scaling,
    "verify": verify,
    "outofcore": outofcore,
    "distribute": distribute,
    "mining": mining,
    "batchsize": batchsize,
    "gallery": gallery,
    "far": far,
    "defaults": defaults,
    "levers": levers,
    "shifts": shifts,
    "transfer": transfer,
    "persistence": persistence,
}


def _flat_rows(prefix, value):
    """``(key path, value)`` for every leaf of nested result dicts."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flat_rows(f"{prefix} / {key}" if prefix else str(key), inner)
    else:
        yield prefix, f"{value:.4g}" if isinstance(value, float) else str(value)


def print_table(results):
    rows = [
        (section, key, value)
        for section, values in results.items()
        if isinstance(values, dict)
        for key, value in _flat_rows("", values)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for section, key, value in rows:
        print(f"{section:<{widths[0]}}  {key:<{widths[1]}}  {value}")


def reference_seconds(quick, folder=BENCHMARKS / "reference"):
    """Seconds each section took in the reference runs made at the same sizes.

    Every file of ``folder`` counts: a section measured in a run of its own
    (``persistence``) has its file beside the full run's.
    """
    seconds = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            meta = json.loads(path.read_text())["meta"]
        except (OSError, ValueError, KeyError):
            continue
        if meta.get("quick") == quick:
            seconds.update(meta.get("section seconds", {}))
    return seconds


def parse_args(argv):
    """The run's options; the section options are those the section modules declare."""
    names = ",".join(SECTIONS)
    parser = argparse.ArgumentParser(description="sksiamese benchmarks")
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument(
        "--omniglot",
        type=Path,
        default=None,
        help="Omniglot zip to read instead of the set bundled with sksiamese",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=(
            f"JSON file to write (default: {REFERENCE.relative_to(ROOT)} for a full run "
            f"of every section, {LATEST.relative_to(ROOT)} for --quick or a subset)"
        ),
    )
    parser.add_argument(
        "--sections", default=names, help=f"comma-separated subset of {names} (default: all)"
    )
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="print how long each section took in the reference run, and stop",
    )
    section_options = [
        parser.add_argument(flag, **spec).dest
        for module in SECTIONS.values()
        for flag, spec in getattr(module, "OPTIONS", {}).items()
    ]
    args = parser.parse_args(argv)
    unknown = sorted(set(args.sections.split(",")) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {names}")
    args.sections = [name for name in SECTIONS if name in args.sections.split(",")]
    if args.output is None:
        # Only a full run, every section at full size, replaces the reference.
        full = (
            args.sections == list(SECTIONS)
            and not (args.quick or args.omniglot)
            and all(getattr(args, dest) is None for dest in section_options)
        )
        args.output = REFERENCE if full else LATEST
    return args


def main(argv=None):
    args = parse_args(argv)
    print(f"results go to {args.output}")
    expected = reference_seconds(args.quick)
    for name in args.sections:
        seconds = expected.get(name)
        took = f"{seconds / 60:.1f} min in" if seconds else "not timed in"
        print(f"{name:<11} {took} the reference run")
    if args.estimate:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    results = {"meta": {**metadata(args.quick), "sections": args.sections, "section seconds": {}}}
    data, train_rows = omniglot_split(args.omniglot)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    for name in args.sections:
        start = time.perf_counter()
        results[name] = SECTIONS[name].run(args, data, train_rows)
        results["meta"]["section seconds"][name] = time.perf_counter() - start
        print(f"{name} done in {results['meta']['section seconds'][name]:.0f} s", flush=True)
        # Written after every section, so a run that fails later keeps the
        # sections it finished (``section seconds`` lists them).
        args.output.write_text(json.dumps(results, indent=2) + "\n")

    print_table(results)
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
