"""Sphinx configuration of the sksiamese documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``;
add ``-D plot_gallery=0`` to skip running the gallery examples.
"""

import os
import sys
from pathlib import Path

# Quiet TensorFlow, and draw the gallery's figures off screen. Both must be set
# before sksiamese (hence TensorFlow) or matplotlib are imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

# Document the checkout next to this folder, installed or not.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "benchmarks"))

import figures  # noqa: E402
import sksiamese  # noqa: E402

# -- Project -------------------------------------------------------------------

project = "sksiamese"
author = "The sksiamese developers"
copyright = "The sksiamese developers"
version = sksiamese.__version__
release = sksiamese.__version__

# -- General -------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["templates"]
exclude_patterns = [
    "_build",
    "templates",
    "Thumbs.db",
    ".DS_Store",
    # sphinx-gallery's sources (it reads them itself) and the timings of the
    # last run, which change with every build.
    "examples",
    "sg_execution_times.rst",
]
root_doc = "index"
# `single backticks` render as code, as in scikit-learn's docstrings.
default_role = "literal"
# Every cross-reference must resolve. The docs build offline, without
# intersphinx, so references to other projects' objects (``See Also`` entries,
# :class:`sklearn.utils.Bunch`, ...) cannot: they render as code, unlinked.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(sklearn|numpy|scipy|matplotlib|keras|tensorflow|tf)(\..*)?"),
]

# Every measured figure the pages quote is a substitution (|name|) read from
# the reference benchmark run, so that rerunning the benchmark and rebuilding
# updates them all; benchmarks/figures.py names them. A page quoting a name
# that is no figure fails the build (an undefined substitution).
rst_epilog = figures.rst_substitutions(figures.quoted(figures.load()))
# Plots of measurements are drawn from the same run, into a folder git ignores.
figures.recall_speed_plot(ROOT / "docs" / "generated" / "figures" / "gallery_recall_speed.png")

# -- autodoc / autosummary / numpydoc ------------------------------------------

autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"
add_module_names = False

# The class template documents the public methods itself; numpydoc's own member
# tables would list them a second time.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# -- HTML ----------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sksiamese {version}"
html_short_title = "sksiamese"
html_static_path = []
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    # Everything the pages load is local: no icon links, no search of remote
    # version lists, no analytics.
    "icon_links": [],
    "navbar_start": ["navbar-logo"],
    "navbar_center": ["navbar-nav"],
    "navbar_end": ["theme-switcher"],
    "navbar_persistent": ["search-button"],
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
    "show_prev_next": False,
    "navigation_with_keys": False,
}
html_context = {"default_mode": "light"}
html_sidebars = {"index": [], "install": []}

# -- sphinx-gallery ------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("sksiamese",),
    "backreferences_dir": "modules/generated",
    "reference_url": {"sksiamese": None},
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "download_all_examples": True,
    "plot_gallery": "True",
}

# -- Checks --------------------------------------------------------------------

PUBLIC_MODULES = (
    "sksiamese",
    "sksiamese.losses",
    "sksiamese.networks",
    "sksiamese.metrics",
    "sksiamese.datasets",
    "sksiamese.plotting",
)


def check_api_reference(app):
    """Warn (an error under ``-W``) about public names missing from api.rst."""
    import importlib
    import re

    from sphinx.util import logging

    api = Path(app.srcdir, "api.rst").read_text(encoding="utf-8")
    listed = set()
    module = None
    for line in api.splitlines():
        current = re.match(r"\.\. currentmodule:: (\S+)", line)
        if current:
            module = current.group(1)
        entry = re.match(r"   ~?([A-Za-z_][\w.]*)$", line)
        if entry and module:
            listed.add(f"{module}.{entry.group(1)}")
    for name in PUBLIC_MODULES:
        public = set(importlib.import_module(name).__all__) - {"__version__"}
        for missing in sorted(f"{name}.{item}" for item in public):
            if missing not in listed:
                logging.getLogger(__name__).warning(
                    "%s is public (in __all__) but missing from api.rst", missing
                )


def setup(app):
    app.connect("builder-inited", check_api_reference)
