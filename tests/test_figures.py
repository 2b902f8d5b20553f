"""The figures the README and the docs quote come from the reference benchmark run.

``benchmarks/figures.py`` names each quoted figure and its place in
``benchmarks/reference/cpu-2core.json``. The docs quote figures only as
substitutions (``|name|``) that the docs build fills from that file; the
README's benchmark table is written from it by ``python
benchmarks/figures.py --readme``. The conventions checked here: every figure
named resolves in the reference run, every substitution the docs use is a
named figure, the README's table is the one the reference run gives, and
neither the README's prose nor the docs type a measured quantity (a number
with a unit of time, speed or memory) by hand. No test here trains anything.
"""

import importlib
import importlib.util
import json
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def figures():
    spec = importlib.util.spec_from_file_location("figures", ROOT / "benchmarks" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference(figures):
    return figures.load()


# A measured quantity typed by hand: a number followed by a unit of time,
# speed or memory ("42 s", "1.2 ms", "2,644 images/s", "755 MB").
HAND_TYPED = re.compile(
    r"(?<![\w.|-])\d[\d,]*(\.\d+)?\s?(ms|s|seconds|minutes|images/s|rows/s|queries/s|[KMG]i?B)\b"
)


# Settings of the library that the docs state in a unit of memory: the
# phrase, and the constant it states.
SETTINGS = {
    "Training sets of up to 64 MB": ("sksiamese._sampling", "_TENSOR_ROWS_LIMIT", 64 * 2**20),
    "chunks of about 8 MB": ("sksiamese._rows", "_CHUNK_BYTES", 8 * 2**20),
    "JSON document of at most 64 MiB": ("sksiamese._io._members", "MAX_JSON_BYTES", 64 * 2**20),
}


@pytest.mark.parametrize("phrase", SETTINGS)
def test_settings_the_docs_state_are_the_code_s(phrase):
    module, name, value = SETTINGS[phrase]
    assert getattr(importlib.import_module(module), name) == value
    assert any(phrase in path.read_text() for path in doc_sources())


def prose(text, fence="```"):
    """``text`` without its fenced code blocks (Markdown) or literal blocks."""
    return re.sub(rf"{fence}.*?{fence}", "", text, flags=re.S)


def test_every_figure_the_readme_quotes_is_a_named_figure(figures, reference):
    quoted = {
        field
        for row in figures.README_ROWS
        for cell in row
        for _, field, _, _ in string.Formatter().parse(cell)
        if field
    }
    assert sorted(quoted - set(figures.quoted(reference))) == []


def test_the_reference_runs_have_every_figure(figures, reference):
    # Each section comes from the latest full-size reference run that
    # measured it; together they must hold every figure the pages quote, so
    # that a figure added with a new section cannot land unmeasured.
    assert figures.missing(reference) == []


def test_readme_table_is_the_reference_run(figures, reference):
    readme = (ROOT / "README.md").read_text()
    written = figures.readme_section(readme).splitlines()
    expected = figures.readme_table(reference).splitlines()
    stale = [
        f"README: {old}\nreference: {new}" for old, new in zip(written, expected) if old != new
    ]
    assert len(written) == len(expected) and not stale, (
        "README.md's benchmark table differs from benchmarks/reference/cpu-2core.json; "
        "run `python benchmarks/figures.py --readme`:\n" + "\n".join(stale)
    )


def test_readme_demo_output_is_the_reference_run(figures):
    readme = (ROOT / "README.md").read_text()
    written = figures.readme_section(readme, figures.DEMO_BEGIN, figures.DEMO_END)
    assert written == figures.readme_demo(), (
        "README.md's demo output differs from the one the reference run recorded; "
        "run `python benchmarks/figures.py --readme`"
    )


def hand_typed(text):
    """The measured quantities typed by hand in ``text``."""
    return [match.group(0) for match in HAND_TYPED.finditer(text)]


def test_readme_prose_quotes_no_measurement_by_hand(figures):
    readme = (ROOT / "README.md").read_text()
    assert hand_typed(prose(readme.replace(figures.readme_section(readme), ""))) == []


def test_benchmarks_readme_quotes_no_measurement_by_hand():
    # It explains how the figures are made; the figures live in the JSON.
    assert hand_typed(prose((ROOT / "benchmarks" / "README.md").read_text())) == []


def doc_text(path):
    """The prose of a docs source: no code blocks, and only the comments of a script."""
    lines = path.read_text().splitlines()
    if path.suffix == ".py":
        return "\n".join(line[2:] for line in lines if line.startswith("# "))
    kept, code_indent = [], None
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if code_indent is not None and (not line.strip() or indent > code_indent):
            continue
        code_indent = None
        stripped = line.strip()
        if stripped.startswith((".. code-block::", ".. math::")) or (
            stripped.endswith("::") and not stripped.startswith(".. ")
        ):
            code_indent = indent
        kept.append(line)
    return "\n".join(kept)


# What the documentation build writes (ignored by git): pages generated from
# the sources below, which quote what the examples printed when they ran.
BUILD_OUTPUTS = (
    "_build",
    "auto_examples",
    "generated",
    "modules/generated",
    "sg_execution_times.rst",
)


def doc_sources():
    docs = ROOT / "docs"
    pages = [
        path
        for path in docs.rglob("*.rst")
        if not path.relative_to(docs).as_posix().startswith(BUILD_OUTPUTS)
    ]
    return sorted(pages) + sorted((docs / "examples").glob("*.py"))


@pytest.mark.parametrize("path", doc_sources(), ids=lambda path: path.name)
def test_docs_quote_figures_only_from_the_reference_run(path, figures, reference):
    text = path.read_text()
    used = set(re.findall(r"\|([a-z0-9_]+)\|", text))
    assert used <= set(figures.quoted(reference)), sorted(used - set(figures.quoted(reference)))
    # Code may set sizes and durations; the text may not type measurements.
    text_only = re.sub(r"``.*?``", "", doc_text(path))
    for phrase in SETTINGS:
        text_only = text_only.replace(phrase, "")
    assert hand_typed(text_only) == []


def test_rst_substitutions_define_every_figure(figures, reference):
    lines = figures.rst_substitutions(figures.quoted(reference)).splitlines()
    assert len(lines) == len(figures.quoted(reference))
    assert all(re.fullmatch(r"\.\. \|[a-z0-9_]+\| replace:: \S.*", line) for line in lines)


def test_medians_come_with_their_range_and_reasons_as_text(figures, tmp_path):
    results = {
        "train": {
            "default cnn, 32-d, semi-hard": {
                "fit images/s": {"median": 2000.4, "min": 1950.0, "max": 2100.6},
            }
        },
        "mining": {
            "4 rows per class, B=4096, semi-hard": {
                "sksiamese": {"median ms": 532.4, "min ms": 500.0, "max ms": 600.0},
                "definition": "not run: one (B, B, B) float32 tensor alone is 256 GiB",
            }
        },
    }
    (tmp_path / "run.json").write_text(json.dumps(results))
    values = figures.load(tmp_path / "run.json")
    assert values["train_cnn_fit"] == "2,000"
    assert values["train_cnn_fit_range"] == "1,950-2,101"
    assert values["mining_4_4096_semihard"] == "532"
    assert values["mining_4_4096_semihard_definition"].startswith("not run: one (B, B, B)")
    assert "train_bn_fit" not in values and "train_bn_fit" in figures.missing(values)


def test_readme_is_collected_by_the_test_command():
    # `python -m pytest` with no arguments collects setup.cfg's testpaths;
    # the README must be among them for its code blocks to run.
    collected = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:randomly",
            "--ignore=tests",
            "--ignore=sksiamese",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    assert "README.md::README.md" in collected.splitlines()


def test_recall_speed_plot_draws_each_gallery_s_rows(figures, tmp_path):
    def row(recall, speed, **more):
        return {"recall@10": recall, "x sklearn": speed, **more}

    results = {
        "gallery": {
            "data": "1,000,000 x 64 float32 unit vectors",
            "hnsw, ef_search=16": row(0.88, 88.0),
            "hnsw, ef_search=64": row(0.96, 35.8),
            figures.GALLERY_DEFAULT: row(0.955, 40.1, ef_search_=48),
            figures.GALLERY_WIDE: {
                "data": "250,000 x 256 float32 unit vectors",
                "hnsw, ef_search=32": row(0.93, 20.5),
            },
        }
    }
    (tmp_path / "run.json").write_text(json.dumps(results))
    drawn = figures.recall_speed_plot(tmp_path / "plot.png", tmp_path / "run.json")
    assert drawn == {
        "1,000,000 x 64": {
            "ef_search": [(16, 0.88, 88.0), (64, 0.96, 35.8)],
            "defaults": (48, 0.955, 40.1),
        },
        "250,000 x 256": {"ef_search": [(32, 0.93, 20.5)]},
    }
    assert (tmp_path / "plot.png").read_bytes().startswith(b"\x89PNG")
    # A run without the section still gives the page its image, saying so.
    (tmp_path / "run.json").write_text(json.dumps({"train": {}}))
    assert figures.recall_speed_plot(tmp_path / "none.png", tmp_path / "run.json") == {}
    assert (tmp_path / "none.png").read_bytes().startswith(b"\x89PNG")
