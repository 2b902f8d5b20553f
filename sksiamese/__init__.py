"""sksiamese: Siamese networks for scikit-learn, trained with Keras 3."""

from ._embedder import SiameseEmbedder
from ._persistence import UntrustedTypesError, get_untrusted_types, load
from ._verifier import SiameseVerifier
from ._version import __version__

__all__ = [
    "SiameseEmbedder",
    "SiameseVerifier",
    "UntrustedTypesError",
    "get_untrusted_types",
    "load",
    "__version__",
]
