"""sksiamese: Siamese networks for scikit-learn, trained with Keras 3."""

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

# The public names below live in modules that import TensorFlow; they are
# imported on first use (PEP 562), so that sksiamese.metrics, .datasets and
# .plotting import without it. The modules are imported together: each
# estimator module registers its classes with the save format, which must
# know them all before load reads a file.
_LAZY = {
    "GalleryClassifier": "._gallery",
    "SiameseEmbedder": "._embedder",
    "SiameseVerifier": "._verifier",
    "UntrustedTypesError": "._loading",
    "get_untrusted_types": "._loading",
    "load": "._loading",
    "save": "._persistence",
}

# Public submodules, imported on first access as attributes (``sksiamese.metrics``)
# as scikit-learn does.
_SUBMODULES = ("datasets", "losses", "metrics", "networks", "plotting")

if TYPE_CHECKING:  # for type checkers and import-graph tools only
    from ._embedder import SiameseEmbedder
    from ._gallery import GalleryClassifier
    from ._loading import UntrustedTypesError, get_untrusted_types, load
    from ._persistence import save
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
    modules = {module: importlib.import_module(module, __name__) for module in _LAZY.values()}
    value = getattr(modules[_LAZY[name]], name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted({*globals(), *__all__, *_SUBMODULES})
