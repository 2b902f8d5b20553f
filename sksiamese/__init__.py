"""sksiamese: Siamese networks for scikit-learn, trained with Keras 3."""

from ._embedder import SiameseEmbedder
from ._gallery import GalleryClassifier
from ._persistence import load
from ._verifier import SiameseVerifier

__version__ = "0.1.0"

__all__ = ["GalleryClassifier", "SiameseEmbedder", "SiameseVerifier", "load", "__version__"]
