"""What importing sksiamese loads: NumPy-only modules without TensorFlow, and the
public names of the package on first use."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sksiamese

# The folder holding the sksiamese under test, for fresh interpreters.
SOURCE = str(Path(sksiamese.__file__).parents[1])


def run_fresh(code):
    """Run ``code`` in a new interpreter; return what it prints, as JSON."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": SOURCE, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    "statement",
    [
        "import sksiamese",
        "from sksiamese import GalleryClassifier",
        "from sksiamese import load, save, get_untrusted_types",
        "import sksiamese.metrics",
        "import sksiamese.datasets",
        "import sksiamese.plotting",
    ],
)
def test_modules_that_need_no_tensorflow_import_without_it(statement):
    loaded = run_fresh(
        f"import json, sys\n{statement}\n"
        "print(json.dumps([sys.modules['sksiamese'].__file__] + sorted("
        "name for name in ('tensorflow', 'keras') if name in sys.modules)))"
    )
    assert loaded == [sksiamese.__file__]


def test_the_save_format_imports_no_estimator():
    loaded = run_fresh(
        "import json, sys\nimport sksiamese._io\n"
        "print(json.dumps(sorted(name for name in sys.modules if name in "
        "('sksiamese._embedder', 'sksiamese._verifier', 'sksiamese._gallery'))))"
    )
    assert loaded == []


def test_a_gallery_saves_and_loads_without_tensorflow(tmp_path):
    loaded = run_fresh(
        "import json, sys\nimport numpy as np\nimport sksiamese\n"
        "rows, labels = np.eye(4, dtype=np.float32), np.arange(4)\n"
        "gallery = sksiamese.GalleryClassifier().fit(rows, labels)\n"
        f"path = gallery.save({str(tmp_path / 'g.sksiamese')!r})\n"
        "answers = sksiamese.load(path).predict(rows).tolist()\n"
        "print(json.dumps([answers] + sorted("
        "name for name in ('tensorflow', 'keras') if name in sys.modules)))"
    )
    assert loaded == [[0, 1, 2, 3]]


def test_load_knows_every_estimator_however_it_is_imported(tmp_path):
    # A verifier file holds two classes; load, imported alone, still knows both.
    path = sksiamese.SiameseVerifier(sksiamese.SiameseEmbedder()).save(tmp_path / "v.sksiamese")
    loaded = run_fresh(
        "import json\nfrom sksiamese import load\n"
        f"verifier = load({str(path)!r})\n"
        "print(json.dumps([type(verifier).__name__, type(verifier.embedder).__name__]))"
    )
    assert loaded == ["SiameseVerifier", "SiameseEmbedder"]


def test_public_names_resolve_on_first_use():
    for name in sksiamese.__all__:
        assert getattr(sksiamese, name) is not None
        assert name in dir(sksiamese)
    assert sksiamese.metrics.precision_at_1.__module__ == "sksiamese.metrics"
    assert "metrics" in dir(sksiamese)
    with pytest.raises(AttributeError, match="module 'sksiamese' has no attribute 'Siamese'"):
        _ = sksiamese.Siamese
