import numpy as np
import pytest
from sklearn.datasets import load_digits

from sksiamese import SiameseEmbedder


@pytest.fixture(scope="session")
def digits():
    X, y = load_digits(return_X_y=True)
    return X, y


@pytest.fixture(scope="session")
def small_digits(digits):
    X, y = digits
    rng = np.random.default_rng(0)
    rows = rng.choice(len(X), 300, replace=False)
    return X[rows], y[rows]


@pytest.fixture(scope="session")
def fitted(small_digits):
    """A small embedder fitted once, shared by read-only tests."""
    X, y = small_digits
    return SiameseEmbedder(n_components=8, epochs=3, random_state=0).fit(X, y)
