"""Visualisations of embeddings and training curves, in scikit-learn's style.

Each display holds the data to draw. Its ``plot`` method draws it on a
matplotlib axes and stores the axes, the figure and the artists, and its
``from_*`` class methods compute the data and call ``plot``, like
:class:`sklearn.metrics.RocCurveDisplay`.

matplotlib is an optional dependency (``pip install sksiamese[plot]``): this
module imports without it and only ``plot`` and the ``from_*`` methods
need it.
"""

import math
from collections.abc import Mapping

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = ["EmbeddingDisplay", "TrainingCurveDisplay"]

_PROJECTIONS = ("pca", "tsne", None)
_AXIS_NAMES = {"pca": "PC", "tsne": "t-SNE", None: "dim"}
_PROJECTION_TITLES = {
    "pca": "Embedding, PCA projection",
    "tsne": "Embedding, t-SNE projection",
    None: "Embedding",
}
# Largest number of classes drawn with a qualitative colormap and a legend.
_MAX_LEGEND_CLASSES = 20

# Matplotlib short aliases of the style keywords the displays set themselves.
_LINE_ALIASES = {
    "c": "color",
    "ls": "linestyle",
    "lw": "linewidth",
    "ms": "markersize",
    "mec": "markeredgecolor",
    "mew": "markeredgewidth",
    "mfc": "markerfacecolor",
}
_SCATTER_ALIASES = {"lw": "linewidths", "ec": "edgecolors"}


def _check_matplotlib_support(caller_name):
    """Raise an ImportError naming the extra to install if matplotlib is missing.

    Parameters
    ----------
    caller_name : str
        Name of the function or method that needs matplotlib.
    """
    try:
        import matplotlib  # noqa: F401
        import matplotlib.pyplot  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller_name} requires matplotlib. You can install it with "
            "`pip install sksiamese[plot]`."
        ) from exc


def _merge_style(defaults, user, aliases):
    """Overlay user style keywords on defaults, resolving matplotlib aliases.

    A user's short alias (``ls``) replaces the display's default under the
    long name (``linestyle``) instead of clashing with it.
    """
    for short, long in aliases.items():
        if short in user and long in user:
            raise TypeError(f"Got both {short!r} and {long!r}, which are aliases of one another.")
    style = dict(defaults)
    for key, value in user.items():
        style[aliases.get(key, key)] = value
    return style


def _new_axes(plt):
    """A new figure and axes whose layout leaves room for an outside legend."""
    _, ax = plt.subplots(layout="constrained")
    return ax


def _check_projection(projection):
    if projection not in _PROJECTIONS:
        raise ValueError(
            f"projection must be one of 'pca', 'tsne' or None, got {projection!r} instead."
        )


def _check_labels(labels, n_samples):
    """Labels as a 1-D array of length ``n_samples``, or None."""
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got an array of shape {labels.shape}.")
    if labels.shape[0] != n_samples:
        raise ValueError(
            f"labels has {labels.shape[0]} entries but the embedding has {n_samples} rows."
        )
    return labels


def _class_colors(mpl, n_classes, cmap=None):
    """One RGBA colour per class.

    tab10 up to 10 classes, tab20 up to 20 (its strong shades first, then the
    light ones, so that neighbouring classes differ in hue) and a continuous
    colormap beyond. A user's ``cmap`` is sampled evenly, or colour by colour
    for a qualitative one (a short list of colours such as "Set2").
    """
    if cmap is not None:
        cmap = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
        if isinstance(cmap, mpl.colors.ListedColormap) and n_classes <= cmap.N < 256:
            return cmap(np.arange(n_classes))
        return cmap(np.linspace(0, 1, n_classes))
    if n_classes <= 10:
        return mpl.colormaps["tab10"](np.arange(n_classes))
    if n_classes <= _MAX_LEGEND_CLASSES:
        order = np.r_[0:20:2, 1:20:2]
        return mpl.colormaps["tab20"](order[:n_classes])
    return mpl.colormaps["turbo"](np.linspace(0.05, 0.95, n_classes))


class EmbeddingDisplay:
    """Map of an embedding in two dimensions, coloured by class.

    It is recommended to use :meth:`from_estimator` or
    :meth:`from_embeddings` to create an ``EmbeddingDisplay``: they project
    the embedding to two dimensions. All parameters are stored as
    attributes.

    Parameters
    ----------
    embedding_2d : array-like of shape (n_samples, 2)
        Coordinates of the rows in the plane.

    labels : array-like of shape (n_samples,), default=None
        Class of each row. None draws all rows in one colour and no legend.

    projection : {"pca", "tsne"} or None, default="pca"
        How ``embedding_2d`` was obtained; it names the axes ("PC 1",
        "t-SNE 1" or, for None, "dim 1").

    class_names : array-like of str or dict, default=None
        Names of the classes in the legend: one per class, in the order of
        ``numpy.unique(labels)``, or a dict from class to name (classes it
        lacks keep their own name). None uses the classes themselves.

    Attributes
    ----------
    scatters_ : list of matplotlib PathCollection
        One scatter per class, in the order of ``numpy.unique(labels)``; a
        single one without labels.

    legend_ : matplotlib Legend or None
        The legend, None when none is drawn.

    ax_ : matplotlib Axes
        Axes with the map.

    figure_ : matplotlib Figure
        Figure containing the map.

    See Also
    --------
    EmbeddingDisplay.from_estimator : Embed data with a fitted embedder and
        plot its map.
    EmbeddingDisplay.from_embeddings : Plot the map of given embeddings.
    TrainingCurveDisplay : Training curves of an embedder.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sksiamese.plotting import EmbeddingDisplay
    >>> points = np.array([[0.0, 0.0], [0.1, 0.2], [1.0, 1.0], [1.1, 0.9]])
    >>> display = EmbeddingDisplay(points, ["cat", "cat", "dog", "dog"], projection=None)
    >>> display = display.plot()
    >>> len(display.scatters_)
    2
    >>> display.ax_.get_xlabel()
    'dim 1'
    """

    def __init__(self, embedding_2d, labels=None, *, projection="pca", class_names=None):
        self.embedding_2d = embedding_2d
        self.labels = labels
        self.projection = projection
        self.class_names = class_names

    def _class_names(self, classes):
        """Legend names of ``classes``."""
        if self.class_names is None:
            return [str(c) for c in classes]
        if isinstance(self.class_names, Mapping):
            return [str(self.class_names.get(c, c)) for c in classes]
        names = list(self.class_names)
        if len(names) != len(classes):
            raise ValueError(
                f"class_names has {len(names)} entries but labels hold {len(classes)} classes."
            )
        return [str(name) for name in names]

    def plot(self, ax=None, *, legend=True, **scatter_kwargs):
        """Plot the map.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a figure with constrained layout,
            so that the legend to the right of the axes fits.

        legend : bool, default=True
            Draw a legend of the classes, to the right of the axes. No
            legend is drawn without labels or with more than 20 classes.

        **scatter_kwargs : dict
            Keyword arguments of :meth:`matplotlib.axes.Axes.scatter`, for
            every class. ``cmap`` picks the class colours from another
            colormap; ``c`` or ``color`` paints all classes alike.

        Returns
        -------
        display : EmbeddingDisplay
            The display, with the artists stored.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from sksiamese.plotting import EmbeddingDisplay
        >>> rng = np.random.default_rng(0)
        >>> display = EmbeddingDisplay(rng.normal(size=(30, 2)), np.arange(30) % 3)
        >>> fig, ax = plt.subplots()
        >>> display = display.plot(ax=ax, legend=False, s=10, marker="x")
        >>> display.ax_ is ax, display.legend_ is None
        (True, True)
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib as mpl
        import matplotlib.pyplot as plt

        _check_projection(self.projection)
        points = np.asarray(self.embedding_2d, dtype=float)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"embedding_2d must have shape (n_samples, 2), got {points.shape}.")
        labels = _check_labels(self.labels, points.shape[0])

        if ax is None:
            ax = _new_axes(plt)
        user = dict(scatter_kwargs)
        cmap = user.pop("cmap", None)
        n_samples = points.shape[0]
        defaults = {
            "s": 30 if n_samples <= 200 else 12 if n_samples <= 2000 else 5,
            "alpha": 0.8,
            "linewidths": 0,
        }

        self.scatters_ = []
        if labels is None:
            style = _merge_style(defaults, user, _SCATTER_ALIASES)
            if "c" not in style and "color" not in style:
                style["color"] = _class_colors(mpl, 1, cmap)[0]
            self.scatters_.append(ax.scatter(points[:, 0], points[:, 1], **style))
            classes = []
        else:
            classes = np.unique(labels)
            names = self._class_names(classes)
            colors = _class_colors(mpl, len(classes), cmap)
            for klass, name, color in zip(classes, names, colors):
                rows = labels == klass
                style = _merge_style({**defaults, "label": name}, user, _SCATTER_ALIASES)
                if "c" not in style and "color" not in style:
                    style["color"] = color
                self.scatters_.append(ax.scatter(points[rows, 0], points[rows, 1], **style))

        axis = _AXIS_NAMES[self.projection]
        ax.set_xlabel(f"{axis} 1")
        ax.set_ylabel(f"{axis} 2")
        ax.set_aspect("equal", adjustable="datalim")
        if not ax.get_title():
            ax.set_title(_PROJECTION_TITLES[self.projection])

        self.legend_ = None
        if legend and 0 < len(classes) <= _MAX_LEGEND_CLASSES:
            self.legend_ = ax.legend(
                title="class",
                loc="center left",
                bbox_to_anchor=(1.02, 0.5),
                borderaxespad=0.0,
                frameon=False,
                markerscale=max(1.0, 6.0 / math.sqrt(defaults["s"])),
                ncols=1 if len(classes) <= 12 else 2,
            )
            handles = getattr(self.legend_, "legend_handles", None)
            for handle in handles if handles is not None else self.legend_.legendHandles:
                handle.set_alpha(1.0)

        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        projection="pca",
        random_state=None,
        class_names=None,
        legend=True,
        ax=None,
        **scatter_kwargs,
    ):
        """Embed ``X`` with a fitted embedder and plot its map.

        Parameters
        ----------
        estimator : fitted transformer
            An embedder such as :class:`~sksiamese.SiameseEmbedder`; its
            ``transform`` gives the embedding.

        X : array-like of shape (n_samples, n_features)
            Rows to embed.

        y : array-like of shape (n_samples,), default=None
            Classes of the rows, which colour the map; they need not be
            classes the estimator was trained on.

        projection : {"pca", "tsne"} or None, default="pca"
            How to bring the embedding to two dimensions: the first two
            principal components, t-SNE, or None for an embedding that is
            already two-dimensional.

        random_state : int, RandomState instance or None, default=None
            Seeds t-SNE (and the randomized PCA solver, were it chosen).

        class_names : array-like of str or dict, default=None
            Legend names of the classes, see :class:`EmbeddingDisplay`.

        legend : bool, default=True
            Draw a legend of the classes.

        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure.

        **scatter_kwargs : dict
            Keyword arguments of :meth:`matplotlib.axes.Axes.scatter`.

        Returns
        -------
        display : EmbeddingDisplay
            The display, with the artists stored.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If ``estimator`` is not fitted.

        See Also
        --------
        EmbeddingDisplay.from_embeddings : Plot the map of given embeddings.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sklearn.decomposition import PCA
        >>> from sksiamese.plotting import EmbeddingDisplay
        >>> X = np.random.default_rng(0).normal(size=(20, 5))
        >>> y = np.arange(20) % 2
        >>> embedder = PCA(3).fit(X)
        >>> display = EmbeddingDisplay.from_estimator(embedder, X, y, class_names=["even", "odd"])
        >>> [text.get_text() for text in display.legend_.get_texts()]
        ['even', 'odd']
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)
        return cls.from_embeddings(
            estimator.transform(X),
            y,
            projection=projection,
            random_state=random_state,
            class_names=class_names,
            legend=legend,
            ax=ax,
            **scatter_kwargs,
        )

    @classmethod
    def from_embeddings(
        cls,
        embeddings,
        y=None,
        *,
        projection="pca",
        random_state=None,
        class_names=None,
        legend=True,
        ax=None,
        **scatter_kwargs,
    ):
        """Project embeddings to two dimensions and plot their map.

        Parameters
        ----------
        embeddings : array-like of shape (n_samples, n_components)
            The embeddings, at least two rows of at least two finite
            components.

        y : array-like of shape (n_samples,), default=None
            Classes of the rows, which colour the map.

        projection : {"pca", "tsne"} or None, default="pca"
            ``"pca"``: the first two principal components
            (:class:`sklearn.decomposition.PCA`). ``"tsne"``:
            :class:`sklearn.manifold.TSNE` with PCA initialisation and a
            perplexity of ``min(30, n_samples - 1)``; it keeps neighbours
            together rather than distances. None: the embeddings as they
            are, which must then have two components.

        random_state : int, RandomState instance or None, default=None
            Seeds t-SNE (and the randomized PCA solver, were it chosen).

        class_names : array-like of str or dict, default=None
            Legend names of the classes, see :class:`EmbeddingDisplay`.

        legend : bool, default=True
            Draw a legend of the classes.

        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure.

        **scatter_kwargs : dict
            Keyword arguments of :meth:`matplotlib.axes.Axes.scatter`.

        Returns
        -------
        display : EmbeddingDisplay
            The display, with the artists stored; ``embedding_2d`` holds the
            projected coordinates.

        See Also
        --------
        EmbeddingDisplay.from_estimator : Embed data with a fitted embedder
            and plot its map.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sksiamese.plotting import EmbeddingDisplay
        >>> rng = np.random.default_rng(0)
        >>> embeddings = np.vstack([rng.normal(0, 1, (10, 8)), rng.normal(3, 1, (10, 8))])
        >>> y = np.repeat(["a", "b"], 10)
        >>> display = EmbeddingDisplay.from_embeddings(embeddings, y)
        >>> display.embedding_2d.shape
        (20, 2)
        >>> display.ax_.get_xlabel(), display.ax_.get_ylabel()
        ('PC 1', 'PC 2')
        """
        _check_matplotlib_support(f"{cls.__name__}.from_embeddings")
        _check_projection(projection)
        embeddings = check_array(embeddings, ensure_min_samples=2, input_name="embeddings")
        n_samples, n_components = embeddings.shape
        labels = _check_labels(y, n_samples)

        if projection is None:
            if n_components != 2:
                raise ValueError(
                    "projection=None needs two-dimensional embeddings, got "
                    f"{n_components} components; use projection='pca' or 'tsne'."
                )
            embedding_2d = embeddings
        elif n_components < 2:
            raise ValueError(f"Embeddings need at least 2 components to map, got {n_components}.")
        elif projection == "pca":
            from sklearn.decomposition import PCA

            embedding_2d = PCA(2, random_state=random_state).fit_transform(embeddings)
        else:
            from sklearn.manifold import TSNE

            tsne = TSNE(
                2,
                init="pca",
                random_state=random_state,
                perplexity=min(30, n_samples - 1),
            )
            embedding_2d = tsne.fit_transform(embeddings)

        display = cls(embedding_2d, labels, projection=projection, class_names=class_names)
        return display.plot(ax=ax, legend=legend, **scatter_kwargs)


def _history_dict(history):
    """The dict of lists inside a Keras ``History`` or a history mapping."""
    if not isinstance(history, Mapping) and hasattr(history, "history"):
        history = history.history
    if not isinstance(history, Mapping):
        raise TypeError(
            "history must be a dict of lists or a keras.callbacks.History, "
            f"got {type(history).__name__}."
        )
    if not history:
        raise ValueError("history is empty: no training curve to plot.")
    return history


def _base_name(key):
    return key[4:] if key.startswith("val_") else key


def _is_loss(key):
    base = _base_name(key)
    return base == "loss" or base.endswith("_loss")


def _default_order(keys):
    """Keys with each training metric followed by its validation one, loss first."""

    def order(key):
        base = _base_name(key)
        return base != "loss", base, key.startswith("val_")

    return sorted(keys, key=order)


def _curve(values, key):
    """Per-epoch values as floats; None and non-finite values become NaN."""
    try:
        curve = np.array(
            [np.nan if value is None else value for value in np.ravel(values)], dtype=float
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"history[{key!r}] must hold numbers, one per epoch.") from exc
    curve[~np.isfinite(curve)] = np.nan
    return curve


class TrainingCurveDisplay:
    """Training curves of a Keras model: one line per logged metric.

    It is recommended to use :meth:`from_estimator` or :meth:`from_history`
    to create a ``TrainingCurveDisplay``. All parameters are stored as
    attributes.

    Validation curves (keys starting with ``"val_"``) are dashed, in the
    colour of their training curve, and the epoch of the lowest
    ``val_loss`` is marked with a star.

    Parameters
    ----------
    history : dict of str to list of float or keras.callbacks.History
        Per-epoch values of each metric, such as
        :attr:`SiameseEmbedder.history_ <sksiamese.SiameseEmbedder>` or
        Keras' ``History.history``. Each list is plotted against epochs
        ``1, 2, ...``; non-finite values leave gaps.

    metrics : str or list of str, default=None
        Keys of ``history`` to plot, in this order. None plots all of them,
        ``"loss"`` and ``"val_loss"`` first, each metric followed by its
        validation counterpart.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The line of each plotted key.

    best_epoch_ : int or None
        Epoch (counted from 1) of the lowest ``val_loss``, None when
        ``val_loss`` is not plotted or has no finite value.

    best_marker_ : matplotlib Line2D or None
        The marker at ``best_epoch_``.

    ax_ : matplotlib Axes
        Axes with the curves.

    figure_ : matplotlib Figure
        Figure containing the curves.

    See Also
    --------
    TrainingCurveDisplay.from_estimator : Plot the training curves of a
        fitted embedder.
    TrainingCurveDisplay.from_history : Plot training curves from a Keras
        history.
    EmbeddingDisplay : Map of an embedding.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from sksiamese.plotting import TrainingCurveDisplay
    >>> history = {"loss": [0.9, 0.6, 0.5, 0.45], "val_loss": [0.8, 0.7, 0.72, 0.75]}
    >>> display = TrainingCurveDisplay(history).plot()
    >>> list(display.lines_)
    ['loss', 'val_loss']
    >>> display.best_epoch_
    2
    """

    def __init__(self, history, *, metrics=None):
        self.history = history
        self.metrics = metrics

    def _selected_keys(self, history):
        if self.metrics is None:
            return _default_order(history)
        keys = [self.metrics] if isinstance(self.metrics, str) else list(self.metrics)
        if not keys:
            raise ValueError("metrics must name at least one key of the history.")
        unknown = [key for key in keys if key not in history]
        if unknown:
            raise ValueError(
                f"Unknown metrics {unknown}; the history holds {_default_order(history)}."
            )
        return keys

    def plot(self, ax=None, *, log_scale=False, **line_kwargs):
        """Plot the training curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure.

        log_scale : bool, default=False
            Use a logarithmic y axis; values that are not positive (a
            triplet loss can reach 0) leave gaps.

        **line_kwargs : dict
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot`, for every
            line; they override the display's colours and line styles.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, with the artists stored.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> from sksiamese.plotting import TrainingCurveDisplay
        >>> history = {"loss": [0.4, 0.2, 0.1], "val_loss": [0.5, 0.3, 0.35]}
        >>> display = TrainingCurveDisplay(history, metrics=["val_loss"])
        >>> display = display.plot(log_scale=True, linewidth=3)
        >>> list(display.lines_), display.ax_.get_yscale()
        (['val_loss'], 'log')
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        history = _history_dict(self.history)
        keys = self._selected_keys(history)
        curves = {key: _curve(history[key], key) for key in keys}

        if ax is None:
            _, ax = plt.subplots(layout="constrained")
        palette = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
        bases = list(dict.fromkeys(_base_name(key) for key in keys))
        n_epochs = max(len(curve) for curve in curves.values())

        self.lines_ = {}
        for key in keys:
            curve = curves[key]
            if log_scale:
                # Leave gaps rather than matplotlib's drops to the axis bottom.
                curve = np.where(curve > 0, curve, np.nan)
            defaults = {
                "label": key,
                "color": palette[bases.index(_base_name(key)) % len(palette)],
                "linestyle": "--" if key.startswith("val_") else "-",
                "linewidth": 1.8,
            }
            if n_epochs <= 30:
                defaults.update(marker="o", markersize=3.5)
            style = _merge_style(defaults, line_kwargs, _LINE_ALIASES)
            (self.lines_[key],) = ax.plot(np.arange(1, len(curve) + 1), curve, **style)

        self.best_epoch_ = None
        self.best_marker_ = None
        val_loss = curves.get("val_loss")
        if val_loss is not None and np.isfinite(val_loss).any():
            best = int(np.nanargmin(val_loss))
            self.best_epoch_ = best + 1
            (self.best_marker_,) = ax.plot(
                [self.best_epoch_],
                [val_loss[best]],
                linestyle="none",
                marker="*",
                markersize=14,
                markerfacecolor=self.lines_["val_loss"].get_color(),
                markeredgecolor="black",
                markeredgewidth=0.8,
                zorder=3,
                label=f"best val_loss (epoch {self.best_epoch_})",
            )

        if log_scale:
            ax.set_yscale("log", nonpositive="mask")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss" if all(_is_loss(key) for key in keys) else "value")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if not ax.get_title():
            ax.set_title("Training curves")
        ax.legend(loc="best")

        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, metrics=None, log_scale=False, ax=None, **line_kwargs):
        """Plot the training curves of a fitted estimator.

        Parameters
        ----------
        estimator : fitted estimator
            An estimator with a ``history_`` attribute, such as
            :class:`~sksiamese.SiameseEmbedder`.

        metrics : str or list of str, default=None
            Keys of ``estimator.history_`` to plot; None plots all.

        log_scale : bool, default=False
            Use a logarithmic y axis.

        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure.

        **line_kwargs : dict
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, with the artists stored.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If ``estimator`` is not fitted.

        ValueError
            If ``estimator`` has no ``history_``.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> from sklearn.base import BaseEstimator
        >>> from sksiamese.plotting import TrainingCurveDisplay
        >>> class LoggedEstimator(BaseEstimator):
        ...     def fit(self, X=None, y=None):
        ...         self.history_ = {"loss": [0.3, 0.2, 0.15]}
        ...         return self
        >>> display = TrainingCurveDisplay.from_estimator(LoggedEstimator().fit())
        >>> display.ax_.get_ylabel()
        'loss'
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)
        history = getattr(estimator, "history_", None)
        if history is None:
            raise ValueError(
                f"{type(estimator).__name__} has no history_ attribute: it records no "
                "training curves."
            )
        return cls.from_history(history, metrics=metrics, log_scale=log_scale, ax=ax, **line_kwargs)

    @classmethod
    def from_history(cls, history, *, metrics=None, log_scale=False, ax=None, **line_kwargs):
        """Plot training curves from a Keras history.

        Parameters
        ----------
        history : dict of str to list of float or keras.callbacks.History
            Per-epoch values of each metric; for a ``History``, its
            ``history`` dict.

        metrics : str or list of str, default=None
            Keys of the history to plot; None plots all.

        log_scale : bool, default=False
            Use a logarithmic y axis.

        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure.

        **line_kwargs : dict
            Keyword arguments of :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, with the artists stored.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> from sksiamese.plotting import TrainingCurveDisplay
        >>> history = {"loss": [1.0, 0.5], "accuracy": [0.6, 0.8], "val_loss": [1.1, 0.7]}
        >>> display = TrainingCurveDisplay.from_history(history)
        >>> list(display.lines_), display.ax_.get_ylabel()
        (['loss', 'val_loss', 'accuracy'], 'value')
        """
        _check_matplotlib_support(f"{cls.__name__}.from_history")
        history = _history_dict(history)
        return cls(history, metrics=metrics).plot(ax=ax, log_scale=log_scale, **line_kwargs)
