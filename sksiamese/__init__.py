"""sksiamese: Siamese networks for scikit-learn, trained with Keras 3."""

from ._embedder import SiameseEmbedder
from ._persistence import load
from ._verifier import SiameseVerifier
from ._version import __version__

__all__ = ["SiameseEmbedder", "SiameseVerifier", "load", "__version__"]
