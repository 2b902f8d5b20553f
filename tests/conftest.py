import importlib
import sys
import textwrap
import types
import uuid

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


@pytest.fixture
def side_effect_module(tmp_path, monkeypatch):
    """A module on sys.path whose import leaves a marker file: a network, an optimizer, a transformer.

    It is imported to save estimators that use it, then forgotten, as in a new
    interpreter: whether loading imports it again shows in ``sys.modules`` and
    in the marker.
    """
    name = f"sksiamese_side_effect_{uuid.uuid4().hex}"
    folder = tmp_path / "modules"
    folder.mkdir()
    marker = tmp_path / "imported.marker"
    (folder / f"{name}.py").write_text(
        textwrap.dedent(f"""
        import pathlib

        import keras
        from sklearn.base import BaseEstimator, TransformerMixin

        pathlib.Path({str(marker)!r}).write_text("imported")


        def network(input_shape, n_components):
            inputs = keras.Input(shape=input_shape)
            return keras.Model(inputs, keras.layers.Dense(n_components)(inputs))


        class Optimizer(keras.optimizers.SGD):
            pass


        class Halve(TransformerMixin, BaseEstimator):
            def fit(self, X, y=None):
                self.n_features_in_ = X.shape[1]
                return self

            def transform(self, X):
                return X / 2
    """)
    )
    monkeypatch.syspath_prepend(str(folder))
    importlib.invalidate_caches()
    module = importlib.import_module(name)
    yield types.SimpleNamespace(name=name, module=module, marker=marker)
    sys.modules.pop(name, None)
