"""sksiamese: Siamese networks for scikit-learn, trained with Keras 3."""

from ._embedder import SiameseEmbedder

__version__ = "0.1.0"

__all__ = ["SiameseEmbedder", "__version__"]
