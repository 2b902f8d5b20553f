"""sksiamese: Siamese networks for scikit-learn, trained with Keras 3."""

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

# Each public name is imported on first use (PEP 562), from its own module
# only: SiameseEmbedder and SiameseVerifier import TensorFlow, while
# GalleryClassifier, the save format, sksiamese.metrics, .datasets and
# .plotting do not. The save format imports an estimator's module when a file
# holds one (sksiamese._io._registry).
_LAZY = {
    "GalleryClassifier": "._gallery",
    "SiameseEmbedder": "._embedder",
    "SiameseVerifier": "._verifier",
    "UntrustedTypesError": "._io",
    "get_untrusted_types": "._io",
    "load": "._io",
    "save": "._io",
}

# Public submodules, imported on first access as attributes (``sksiamese.metrics``)
# as scikit-learn does.
_SUBMODULES = ("datasets", "losses", "metrics", "networks", "plotting")

if TYPE_CHECKING:  # for type checkers and import-graph tools only
    from ._embedder import SiameseEmbedder
    from ._gallery import GalleryClassifier
    from ._io import UntrustedTypesError, get_untrusted_types, load, save
    from ._verifier import SiameseVerifier

__all__ = [
    "GalleryClassifier",
    "SiameseEmbedder",
    "SiameseVerifier",
    "UntrustedTypesError",
    "get_untrusted_types",
    "load",
    "save",
    "__version__",
]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted({*globals(), *__all__, *_SUBMODULES})
