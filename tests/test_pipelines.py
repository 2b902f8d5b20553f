"""sksiamese.save and load of pipelines: skops around sksiamese's own format."""

import io
import json
import os
import pathlib
import re
import sys
import zipfile

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from test_persistence import _flip_a_byte, _forget, _set, _untrusted_message, edit_json, rewrite

import sksiamese
from sksiamese import GalleryClassifier, SiameseEmbedder, UntrustedTypesError
from sksiamese._io import _save

pytest.importorskip("skops")

# What skops itself does not trust by default in a fitted KNeighborsClassifier:
# its KD-tree, whose node indices a crafted file could point out of bounds.
KNN_TYPES = [
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
]


def embedder(**params):
    return SiameseEmbedder(**{"n_components": 4, "epochs": 2, "random_state": 0, **params})


@pytest.fixture(scope="module")
def fitted_pipeline(small_digits):
    X, y = small_digits
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("embed", embedder()),
            ("knn", KNeighborsClassifier(1)),
        ]
    ).fit(X[:200], y[:200])


@pytest.fixture
def saved_pipeline(fitted_pipeline, tmp_path):
    return pathlib.Path(sksiamese.save(fitted_pipeline, tmp_path / "pipeline.sksiamese"))


def test_a_fitted_pipeline_round_trips_with_identical_predictions(
    fitted_pipeline, saved_pipeline, small_digits
):
    X, _ = small_digits
    with zipfile.ZipFile(saved_pipeline) as archive:
        assert sorted(archive.namelist()) == [
            "estimators/0/classes.npy",
            "estimators/0/encoder.keras",
            "estimators/0/estimator.json",
            "pipeline.json",
            "pipeline.skops",
        ]
        document = json.loads(archive.read("pipeline.json"))
    assert document["class"] == "sklearn.pipeline.Pipeline" and document["estimators"] == 1
    assert sksiamese.get_untrusted_types(saved_pipeline) == KNN_TYPES

    loaded = sksiamese.load(saved_pipeline, trusted=KNN_TYPES)
    assert type(loaded) is Pipeline and [name for name, _ in loaded.steps] == [
        "scale",
        "embed",
        "knn",
    ]
    assert type(loaded.named_steps["embed"]) is SiameseEmbedder
    assert (
        loaded.named_steps["embed"].get_params()
        == fitted_pipeline.named_steps["embed"].get_params()
    )
    np.testing.assert_array_equal(loaded.predict(X[200:]), fitted_pipeline.predict(X[200:]))
    np.testing.assert_array_equal(loaded[:-1].transform(X), fitted_pipeline[:-1].transform(X))
    # Saving replaced nothing in the caller's pipeline.
    assert type(fitted_pipeline.steps[1][1]) is SiameseEmbedder


def test_a_pipeline_with_a_gallery_round_trips(small_digits, tmp_path):
    X, y = small_digits
    pipeline = Pipeline(
        [
            ("embed", embedder()),
            ("gallery", GalleryClassifier(threshold=0.3, unknown_label=-1)),
        ]
    ).fit(X[:200], y[:200])
    path = sksiamese.save(pipeline, tmp_path / "gallery.sksiamese")
    assert sksiamese.get_untrusted_types(path) == []
    loaded = sksiamese.load(path)
    predicted = pipeline.predict(X[200:])
    assert (predicted == -1).any() and (predicted != -1).any()
    np.testing.assert_array_equal(loaded.predict(X[200:]), predicted)
    np.testing.assert_array_equal(loaded.score_samples(X[200:]), pipeline.score_samples(X[200:]))


def test_a_grid_search_keeps_its_unfitted_and_its_best_estimator(small_digits, tmp_path):
    X, y = small_digits
    search = GridSearchCV(
        make_pipeline(embedder(epochs=1), KNeighborsClassifier(1, algorithm="brute")),
        {"siameseembedder__margin": [0.5]},
        cv=2,
    ).fit(X[:200], y[:200])
    path = sksiamese.save(search, tmp_path / "search.sksiamese")
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("pipeline.json"))["estimators"] == 2
    loaded = sksiamese.load(path, trusted=sksiamese.get_untrusted_types(path))
    assert not hasattr(loaded.estimator[0], "encoder_")
    np.testing.assert_array_equal(loaded.predict(X[200:]), search.predict(X[200:]))


def test_one_estimator_held_twice_is_saved_once_and_loaded_as_one(small_digits, tmp_path):
    shared = embedder()
    pipeline = Pipeline([("a", shared), ("b", FunctionTransformer(kw_args={"same": [shared]}))])
    path = sksiamese.save(pipeline, tmp_path / "shared.sksiamese")
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("pipeline.json"))["estimators"] == 1
    loaded = sksiamese.load(path)
    assert loaded.steps[1][1].kw_args["same"][0] is loaded.steps[0][1]


def test_sksiamese_save_of_one_estimator_is_its_save_method(fitted, tmp_path):
    path = sksiamese.save(fitted, tmp_path / "embedder.sksiamese")
    with zipfile.ZipFile(path) as archive:
        assert "estimator.json" in archive.namelist() and "pipeline.json" not in archive.namelist()
    assert type(sksiamese.load(path)) is SiameseEmbedder


def test_an_untrusted_transformer_is_refused_and_its_module_never_imported(
    side_effect_module, tmp_path
):
    module = side_effect_module
    names = [f"{module.name}.Halve", f"{module.name}.network"]
    pipeline = Pipeline(
        [
            ("halve", module.module.Halve()),
            ("embed", SiameseEmbedder(network=module.module.network, n_components=3)),
        ]
    )
    path = sksiamese.save(pipeline, tmp_path / "custom.sksiamese")
    _forget(module)

    with pytest.raises(
        UntrustedTypesError,
        match=_untrusted_message(names[0]).replace(
            re.escape(repr([names[0]])), re.escape(repr(names))
        ),
    ):
        sksiamese.load(path)
    # Trusting one of the two names is not enough.
    with pytest.raises(UntrustedTypesError, match=re.escape(repr([names[0]]))):
        sksiamese.load(path, trusted=names[1:])
    assert sksiamese.get_untrusted_types(path) == names
    assert module.name not in sys.modules
    assert not module.marker.exists()

    loaded = sksiamese.load(path, trusted=names)
    assert module.marker.exists()
    assert type(loaded.steps[0][1]) is sys.modules[module.name].Halve
    assert loaded.named_steps["embed"].network is sys.modules[module.name].network


def test_an_estimator_where_save_does_not_look_is_refused(tmp_path):
    hidden = FunctionTransformer(kw_args={"models": {SiameseEmbedder()}})
    with pytest.raises(
        ValueError, match="holds sksiamese._embedder.SiameseEmbedder inside an object"
    ):
        sksiamese.save(hidden, tmp_path / "hidden.sksiamese")


def test_saving_a_pipeline_without_skops_says_how_to_install_it(fitted, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    with pytest.raises(ImportError, match=re.escape('pip install "sksiamese[pipelines]"')):
        sksiamese.save(make_pipeline(fitted), tmp_path / "pipeline.sksiamese")
    # A single estimator needs no skops.
    assert type(sksiamese.load(fitted.save(tmp_path / "alone.sksiamese"))) is SiameseEmbedder


def _edit_document(key, value):
    return lambda s, t: edit_json(s, t, _set([key], value), member="pipeline.json")


# (name, how to damage the saved pipeline, what the error says)
DAMAGED_PIPELINE_FILES = [
    (
        "damaged tree",
        lambda s, t: _flip_a_byte(s, t, "pipeline.skops"),
        "'pipeline.skops' is damaged",
    ),
    (
        "tree not a zip",
        lambda s, t: rewrite(s, t, {"pipeline.skops": b"garbage"}),
        "'pipeline.skops' is not a file skops can read \\(BadZipFile",
    ),
    ("no tree", lambda s, t: rewrite(s, t, drop={"pipeline.skops"}), "no 'pipeline.skops'"),
    ("estimator missing", _edit_document("estimators", 2), "no 'estimators/1/estimator.json'"),
    (
        "estimator not referred to",
        _edit_document("estimators", 0),
        "refers to estimator 0; the file holds 0",
    ),
    ("malformed count", _edit_document("estimators", "1"), "malformed number of estimators"),
    ("newer format version", _edit_document("format_version", 3), "format version 3"),
    (
        "other format",
        _edit_document("format", "skops"),
        "pipeline.json does not describe a sksiamese pipeline",
    ),
    (
        "damaged estimator",
        lambda s, t: rewrite(s, t, {"estimators/0/encoder.keras": b"garbage" * 100}),
        "'estimators/0/encoder.keras' could not be loaded",
    ),
]


@pytest.mark.parametrize(
    "damage, message", [pytest.param(d, m, id=name) for name, d, m in DAMAGED_PIPELINE_FILES]
)
def test_damaged_pipeline_files_are_refused(saved_pipeline, tmp_path, damage, message):
    path = damage(saved_pipeline, tmp_path / "damaged.sksiamese")
    with pytest.raises(
        ValueError, match=f"Cannot load '{re.escape(os.fspath(path))}': .*{message}"
    ) as error:
        sksiamese.load(path, trusted=KNN_TYPES)
    assert type(error.value) is ValueError


def test_an_estimator_the_tree_does_not_refer_to_is_refused(saved_pipeline, fitted, tmp_path):
    # A second estimator folder, and a document counting it, that no slot uses.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _save._store(fitted, "estimators/1/", archive, set())
    with zipfile.ZipFile(buffer) as archive:
        extra = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(saved_pipeline) as archive:
        document = json.loads(archive.read("pipeline.json"))
    document["estimators"] = 2
    path = rewrite(
        saved_pipeline,
        tmp_path / "extra.sksiamese",
        {**extra, "pipeline.json": json.dumps(document).encode()},
    )
    with pytest.raises(ValueError, match="refers nowhere to the estimator in estimators/1/"):
        sksiamese.load(path, trusted=KNN_TYPES)
