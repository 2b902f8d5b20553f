import importlib
import sys

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

import sksiamese  # noqa: E402
import sksiamese.plotting as plotting  # noqa: E402
from sksiamese import SiameseEmbedder  # noqa: E402
from sksiamese.plotting import EmbeddingDisplay, TrainingCurveDisplay  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def tiny_embedder(small_digits):
    X, y = small_digits
    return SiameseEmbedder(n_components=4, epochs=2, random_state=0).fit(X, y)


@pytest.fixture
def clusters():
    """Three well separated classes in 6 dimensions, 15 rows each."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 5, size=(3, 6))
    y = np.repeat([2, 0, 1], 15)
    return centres[y] + rng.normal(size=(45, 6)), y


def offsets_by_class(display):
    return [scatter.get_offsets().data for scatter in display.scatters_]


def legend_texts(display):
    return [text.get_text() for text in display.ax_.get_legend().get_texts()]


# EmbeddingDisplay ---------------------------------------------------------


def test_embedding_one_scatter_per_class_at_pca_coordinates(clusters):
    X, y = clusters
    display = EmbeddingDisplay.from_embeddings(X, y)

    projected = PCA(2).fit_transform(X)
    assert len(display.scatters_) == 3
    for klass, offsets in zip([0, 1, 2], offsets_by_class(display)):
        assert_allclose(offsets, projected[y == klass])
    assert_allclose(display.embedding_2d, projected)
    assert display.ax_.get_xlabel() == "PC 1"
    assert display.ax_.get_ylabel() == "PC 2"
    assert display.ax_.get_aspect() == 1.0
    assert display.figure_ is display.ax_.figure
    assert display.ax_.get_title()


def test_embedding_legend_names_classes(clusters):
    X, y = clusters
    display = EmbeddingDisplay.from_embeddings(X, y)
    assert legend_texts(display) == ["0", "1", "2"]

    display = EmbeddingDisplay.from_embeddings(X, y, class_names=["zero", "one", "two"])
    assert legend_texts(display) == ["zero", "one", "two"]

    display = EmbeddingDisplay.from_embeddings(X, y, class_names={2: "two (unseen)"})
    assert legend_texts(display) == ["0", "1", "two (unseen)"]

    display = EmbeddingDisplay.from_embeddings(X, np.array(["b", "a", "c"])[y])
    assert legend_texts(display) == ["a", "b", "c"]


def test_embedding_class_colours_are_distinct_tab10(clusters):
    X, y = clusters
    display = EmbeddingDisplay.from_embeddings(X, y)
    colours = [tuple(s.get_facecolor()[0][:3]) for s in display.scatters_]
    tab10 = matplotlib.colormaps["tab10"]
    assert colours == [tuple(tab10(i)[:3]) for i in range(3)]


def test_embedding_tab20_for_up_to_20_classes():
    rng = np.random.default_rng(0)
    y = np.arange(60) % 15
    display = EmbeddingDisplay.from_embeddings(rng.normal(size=(60, 3)), y)
    colours = {tuple(s.get_facecolor()[0]) for s in display.scatters_}
    tab20 = {tuple(c) for c in matplotlib.colormaps["tab20"].colors}
    assert len(colours) == 15
    assert {c[:3] for c in colours} <= tab20
    assert len(legend_texts(display)) == 15


def test_embedding_tsne_finite_and_reproducible(clusters):
    X, y = clusters
    first = EmbeddingDisplay.from_embeddings(X, y, projection="tsne", random_state=0)
    second = EmbeddingDisplay.from_embeddings(X, y, projection="tsne", random_state=0)

    assert first.embedding_2d.shape == (45, 2)
    assert np.isfinite(first.embedding_2d).all()
    assert_allclose(first.embedding_2d, second.embedding_2d)
    assert first.ax_.get_xlabel() == "t-SNE 1"
    assert first.ax_.get_ylabel() == "t-SNE 2"


def test_embedding_tsne_few_rows():
    X = np.random.default_rng(0).normal(size=(5, 3))
    display = EmbeddingDisplay.from_embeddings(X, projection="tsne", random_state=0)
    assert np.isfinite(display.embedding_2d).all()


def test_embedding_projection_none():
    points = np.random.default_rng(0).normal(size=(10, 2))
    display = EmbeddingDisplay.from_embeddings(points, projection=None)
    assert_allclose(display.scatters_[0].get_offsets().data, points)
    assert display.ax_.get_xlabel() == "dim 1"

    with pytest.raises(ValueError, match="two-dimensional embeddings, got 3"):
        EmbeddingDisplay.from_embeddings(np.zeros((10, 3)), projection=None)


def test_embedding_two_columns_with_pca():
    points = np.random.default_rng(0).normal(size=(10, 2))
    display = EmbeddingDisplay.from_embeddings(points, np.arange(10) % 2)
    assert_allclose(display.embedding_2d, PCA(2).fit_transform(points))


def test_embedding_honours_ax(clusters):
    X, y = clusters
    fig, (left, right) = plt.subplots(1, 2)
    display = EmbeddingDisplay.from_embeddings(X, y, ax=right)
    assert display.ax_ is right
    assert display.figure_ is fig
    assert len(right.collections) == 3
    assert len(left.collections) == 0


def test_embedding_without_labels_single_scatter(clusters):
    X, _ = clusters
    display = EmbeddingDisplay.from_embeddings(X)
    assert len(display.scatters_) == 1
    assert display.legend_ is None
    assert display.ax_.get_legend() is None
    assert_allclose(display.scatters_[0].get_offsets().data, PCA(2).fit_transform(X))


def test_embedding_many_classes_no_legend():
    rng = np.random.default_rng(0)
    y = np.arange(100) % 25
    display = EmbeddingDisplay.from_embeddings(rng.normal(size=(100, 4)), y)
    assert len(display.scatters_) == 25
    assert display.ax_.get_legend() is None
    colours = {tuple(s.get_facecolor()[0]) for s in display.scatters_}
    assert len(colours) == 25


def test_embedding_legend_false(clusters):
    X, y = clusters
    display = EmbeddingDisplay.from_embeddings(X, y, legend=False)
    assert display.ax_.get_legend() is None


def test_embedding_scatter_kwargs(clusters):
    X, y = clusters
    display = EmbeddingDisplay.from_embeddings(X, y, s=7, marker="x", cmap="viridis")
    assert all(s.get_sizes()[0] == 7 for s in display.scatters_)
    viridis = matplotlib.colormaps["viridis"]
    assert_allclose(display.scatters_[-1].get_facecolor()[0][:3], viridis(1.0)[:3])

    display = EmbeddingDisplay.from_embeddings(X, y, c="black")
    for scatter in display.scatters_:
        assert_allclose(scatter.get_facecolor()[0][:3], to_rgba("black")[:3])


@pytest.mark.parametrize(
    "embeddings, y, message",
    [
        (np.zeros(10), None, "2D array"),
        (np.zeros((1, 4)), None, "minimum of 2"),
        (np.zeros((10, 4)), np.zeros(9), "labels has 9 entries but the embedding has 10"),
        (np.zeros((10, 4)), np.zeros((10, 2)), "labels must be 1-D"),
        (np.zeros((10, 1)), None, "at least 2 components"),
    ],
)
def test_embedding_invalid_input(embeddings, y, message):
    with pytest.raises(ValueError, match=message):
        EmbeddingDisplay.from_embeddings(embeddings, y)


def test_embedding_unknown_projection(clusters):
    X, y = clusters
    with pytest.raises(ValueError, match="'pca', 'tsne' or None, got 'umap'"):
        EmbeddingDisplay.from_embeddings(X, y, projection="umap")


def test_embedding_plot_validates():
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        EmbeddingDisplay(np.zeros((5, 3))).plot()
    with pytest.raises(ValueError, match="labels has 4 entries"):
        EmbeddingDisplay(np.zeros((5, 2)), np.zeros(4)).plot()
    with pytest.raises(ValueError, match="class_names has 1 entries but labels hold 2"):
        EmbeddingDisplay(np.zeros((4, 2)), [0, 0, 1, 1], class_names=["a"]).plot()


def test_embedding_from_estimator(tiny_embedder, small_digits):
    X, y = small_digits
    display = EmbeddingDisplay.from_estimator(tiny_embedder, X, y, random_state=0)

    projected = PCA(2).fit_transform(tiny_embedder.transform(X))
    classes = np.unique(y)
    assert len(display.scatters_) == len(classes) == 10
    for klass, offsets in zip(classes, offsets_by_class(display)):
        assert_allclose(offsets, projected[y == klass], rtol=1e-5, atol=1e-6)
    assert legend_texts(display) == [str(c) for c in classes]


def test_embedding_from_unfitted_estimator(small_digits):
    X, y = small_digits
    with pytest.raises(NotFittedError, match="not fitted"):
        EmbeddingDisplay.from_estimator(SiameseEmbedder(), X, y)


# TrainingCurveDisplay ----------------------------------------------------

HISTORY = {
    "val_loss": [0.9, 0.6, 0.5, 0.55, 0.7],
    "loss": [1.0, 0.7, 0.5, 0.4, 0.35],
}


def test_curves_follow_history():
    display = TrainingCurveDisplay.from_history(HISTORY)
    assert list(display.lines_) == ["loss", "val_loss"]
    for key, line in display.lines_.items():
        assert_array_equal(line.get_xdata(), np.arange(1, 6))
        assert_allclose(line.get_ydata(), HISTORY[key])
    assert display.ax_.get_xlabel() == "epoch"
    assert display.ax_.get_ylabel() == "loss"
    assert display.figure_ is display.ax_.figure
    texts = legend_texts(display)
    assert texts[:2] == ["loss", "val_loss"]


def test_validation_curve_dashed_in_training_colour():
    display = TrainingCurveDisplay.from_history(
        {**HISTORY, "accuracy": [0.1] * 5, "val_accuracy": [0.2] * 5}
    )
    lines = display.lines_
    assert list(lines) == ["loss", "val_loss", "accuracy", "val_accuracy"]
    assert lines["loss"].get_linestyle() == "-"
    assert lines["val_loss"].get_linestyle() == "--"
    assert to_rgba(lines["val_loss"].get_color()) == to_rgba(lines["loss"].get_color())
    assert to_rgba(lines["val_accuracy"].get_color()) == to_rgba(lines["accuracy"].get_color())
    assert to_rgba(lines["accuracy"].get_color()) != to_rgba(lines["loss"].get_color())
    assert display.ax_.get_ylabel() == "value"


def test_best_epoch_marker_at_lowest_val_loss():
    display = TrainingCurveDisplay.from_history(HISTORY)
    assert display.best_epoch_ == int(np.argmin(HISTORY["val_loss"])) + 1 == 3
    assert_array_equal(display.best_marker_.get_xdata(), [3])
    assert_allclose(display.best_marker_.get_ydata(), [0.5])
    assert display.best_marker_.get_marker() == "*"

    display = TrainingCurveDisplay.from_history({"loss": [1.0, 0.5]})
    assert display.best_epoch_ is None
    assert display.best_marker_ is None


def test_metrics_selection():
    display = TrainingCurveDisplay.from_history(HISTORY, metrics=["val_loss"])
    assert list(display.lines_) == ["val_loss"]
    assert display.best_epoch_ == 3

    display = TrainingCurveDisplay.from_history(HISTORY, metrics="loss")
    assert list(display.lines_) == ["loss"]
    assert display.best_marker_ is None


def test_unknown_metric():
    with pytest.raises(ValueError, match=r"Unknown metrics \['acc'\].*\['loss', 'val_loss'\]"):
        TrainingCurveDisplay.from_history(HISTORY, metrics=["loss", "acc"])
    with pytest.raises(ValueError, match="at least one"):
        TrainingCurveDisplay.from_history(HISTORY, metrics=[])


def test_keras_history_object():
    history = keras.callbacks.History()
    history.history = {key: list(values) for key, values in HISTORY.items()}
    display = TrainingCurveDisplay.from_history(history)
    assert_allclose(display.lines_["val_loss"].get_ydata(), HISTORY["val_loss"])

    display = TrainingCurveDisplay(history).plot()
    assert list(display.lines_) == ["loss", "val_loss"]


def test_invalid_history():
    with pytest.raises(ValueError, match="empty"):
        TrainingCurveDisplay.from_history({})
    with pytest.raises(TypeError, match="dict of lists"):
        TrainingCurveDisplay.from_history([1.0, 2.0])


def test_non_finite_values_are_gaps():
    history = {
        "loss": [1.0, np.nan, 0.5, np.inf, None],
        "val_loss": [np.nan, 0.8, -np.inf, 0.6, 0.7],
    }
    display = TrainingCurveDisplay.from_history(history, log_scale=True)
    assert_allclose(display.lines_["loss"].get_ydata(), [1.0, np.nan, 0.5, np.nan, np.nan])
    assert display.best_epoch_ == 4
    display.figure_.canvas.draw()

    display = TrainingCurveDisplay.from_history({"loss": [0.3], "val_loss": [np.nan]})
    assert display.best_marker_ is None


def test_log_scale_leaves_out_non_positive_values():
    history = {"loss": [0.5, 0.0, 0.1], "val_loss": [0.6, 0.4, 0.5]}
    display = TrainingCurveDisplay.from_history(history, log_scale=True)
    assert display.ax_.get_yscale() == "log"
    assert_allclose(display.lines_["loss"].get_ydata(), [0.5, np.nan, 0.1])
    assert_allclose(display.lines_["val_loss"].get_ydata(), history["val_loss"])


def test_curves_honour_ax_and_kwargs():
    fig, ax = plt.subplots()
    display = TrainingCurveDisplay.from_history(HISTORY, ax=ax, ls=":", lw=3, log_scale=True)
    assert display.ax_ is ax
    assert ax.get_yscale() == "log"
    assert all(line.get_linestyle() == ":" for line in display.lines_.values())
    assert all(line.get_linewidth() == 3 for line in display.lines_.values())


def test_curves_from_estimator(tiny_embedder):
    display = TrainingCurveDisplay.from_estimator(tiny_embedder)
    assert list(display.lines_) == ["loss"]
    assert_allclose(display.lines_["loss"].get_ydata(), tiny_embedder.history_["loss"])
    assert_array_equal(display.lines_["loss"].get_xdata(), [1, 2])


def test_curves_from_estimator_errors(clusters):
    with pytest.raises(NotFittedError, match="not fitted"):
        TrainingCurveDisplay.from_estimator(SiameseEmbedder())
    X, _ = clusters
    with pytest.raises(ValueError, match="PCA has no history_"):
        TrainingCurveDisplay.from_estimator(PCA(2).fit(X))


# Optional matplotlib -----------------------------------------------------


@pytest.fixture
def without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)


@pytest.mark.parametrize(
    "draw, caller",
    [
        (lambda: EmbeddingDisplay(np.zeros((3, 2))).plot(), "EmbeddingDisplay.plot"),
        (
            lambda: EmbeddingDisplay.from_embeddings(np.eye(3)),
            "EmbeddingDisplay.from_embeddings",
        ),
        (
            lambda: EmbeddingDisplay.from_estimator(SiameseEmbedder(), np.eye(3)),
            "EmbeddingDisplay.from_estimator",
        ),
        (lambda: TrainingCurveDisplay(HISTORY).plot(), "TrainingCurveDisplay.plot"),
        (lambda: TrainingCurveDisplay.from_history(HISTORY), "TrainingCurveDisplay.from_history"),
    ],
)
def test_missing_matplotlib(without_matplotlib, draw, caller):
    message = (
        f"{caller} requires matplotlib. You can install it with `pip install sksiamese[plot]`."
    )
    with pytest.raises(ImportError) as excinfo:
        draw()
    assert str(excinfo.value) == message


def test_module_imports_without_matplotlib(without_matplotlib, monkeypatch):
    monkeypatch.delitem(sys.modules, "sksiamese.plotting")
    monkeypatch.setattr(sksiamese, "plotting", plotting)
    module = importlib.import_module("sksiamese.plotting")
    assert module is not plotting
    assert hasattr(module, "EmbeddingDisplay")
    assert hasattr(module, "TrainingCurveDisplay")
