"""Encoder networks and how the estimator assembles them.

A network is any callable ``network(input_shape, n_components) -> keras.Model``
that maps rows of shape ``input_shape`` to raw embeddings of size
``n_components``. The two built-in ones are :func:`build_mlp` for tabular rows
and :func:`build_cnn` for images. Define custom networks at module level so
that estimators using them can be pickled.

The module's other functions serve the estimators and are not public.
"""

import math

import keras
import numpy as np

__all__ = ["build_mlp", "build_cnn"]


def build_mlp(input_shape, n_components, *, hidden_units=(256, 128), dropout=0.0):
    """Multi-layer perceptron for tabular rows.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one row; images are flattened.
    n_components : int
        Size of the embedding.
    hidden_units : tuple of int, default=(256, 128)
        Width of each hidden ReLU layer.
    dropout : float, default=0.0
        Dropout rate before each dense layer, in training only.

    Returns
    -------
    model : keras.Model
        Maps ``(batch, *input_shape)`` to ``(batch, n_components)``.
    """
    inputs = keras.Input(shape=tuple(input_shape))
    hidden = keras.layers.Flatten()(inputs) if len(input_shape) > 1 else inputs
    for units in hidden_units:
        hidden = keras.layers.Dropout(dropout)(hidden)
        hidden = keras.layers.Dense(units, activation="relu")(hidden)
    outputs = keras.layers.Dense(n_components)(keras.layers.Dropout(dropout)(hidden))
    return keras.Model(inputs, outputs, name="mlp")


def build_cnn(input_shape, n_components, *, filters=(32, 64, 128), convs_per_block=1):
    """Convolutional network for small images.

    Each block is ``convs_per_block`` 3x3 convolutions with batch
    normalisation and ReLU, followed by 2x2 max pooling while the feature map
    is at least 2 pixels wide. The last feature map is flattened, keeping
    where strokes lie, and a dense layer gives the embedding.

    Parameters
    ----------
    input_shape : tuple of int
        ``(height, width, channels)``.
    n_components : int
        Size of the embedding.
    filters : tuple of int, default=(32, 64, 128)
        Number of filters of each block.
    convs_per_block : int, default=1
        Convolutions per block.

    Returns
    -------
    model : keras.Model
        Maps ``(batch, height, width, channels)`` to ``(batch, n_components)``.
    """
    if len(input_shape) != 3:
        raise ValueError(
            "network='cnn' needs input_shape=(height, width, channels), "
            f"got {tuple(input_shape)}."
        )
    inputs = keras.Input(shape=tuple(input_shape))
    hidden = inputs
    size = min(input_shape[0], input_shape[1])
    for n_filters in filters:
        for _ in range(convs_per_block):
            hidden = keras.layers.Conv2D(n_filters, 3, padding="same", use_bias=False)(hidden)
            hidden = keras.layers.BatchNormalization()(hidden)
            hidden = keras.layers.ReLU()(hidden)
        if size >= 2:
            hidden = keras.layers.MaxPooling2D(2)(hidden)
            size //= 2
    hidden = keras.layers.Flatten()(hidden)
    outputs = keras.layers.Dense(n_components)(hidden)
    return keras.Model(inputs, outputs, name="cnn")


BUILT_IN = {"mlp": build_mlp, "cnn": build_cnn}

# Layers that stay in float32 under mixed precision: standardising raw
# inputs and normalising embeddings need its range and precision.
_STANDARDIZE = "standardize"
_L2_NORMALIZE = "l2_normalize"


def assemble_encoder(network, input_shape, n_components, *, normalize, mean=None, variance=None):
    """The estimator's encoder: standardisation, the network, L2 normalisation.

    Parameters
    ----------
    network : str or callable
        ``"mlp"``, ``"cnn"`` or ``network(input_shape, n_components)``.
    input_shape : tuple of int
        Shape of one row.
    n_components : int
        Size of the embedding.
    normalize : bool
        Whether to scale embeddings to unit L2 norm.
    mean, variance : ndarray or None
        Statistics of the training rows along the last axis; built-in
        networks standardise their input with them. Custom networks receive
        the rows untouched.

    Returns
    -------
    encoder : keras.Model
    """
    inputs = keras.Input(shape=tuple(input_shape), name="rows")
    if isinstance(network, str):
        body = BUILT_IN[network](input_shape, n_components)
        hidden = keras.layers.Normalization(
            axis=-1, mean=mean, variance=variance, name=_STANDARDIZE
        )(inputs)
    else:
        body = network(tuple(input_shape), n_components)
        if not isinstance(body, keras.Model):
            raise TypeError(
                "network(input_shape, n_components) must return a keras.Model, "
                f"got {type(body).__name__}."
            )
        hidden = inputs
    embeddings = body(hidden)
    if tuple(embeddings.shape) != (None, n_components):
        raise ValueError(
            f"The network maps rows to shape {tuple(embeddings.shape)[1:]}; "
            f"expected ({n_components},) for n_components={n_components}."
        )
    if normalize:
        embeddings = keras.layers.UnitNormalization(name=_L2_NORMALIZE)(embeddings)
    return keras.Model(inputs, embeddings, name="encoder")


def reinitialize(model, seed):
    """Redraw every weight of ``model`` from its own initializer, seeded.

    Keras seeds unseeded initializers and layers from Python's global
    ``random`` module when they are constructed. Redrawing from a local seed
    makes a fit reproducible without touching any global random state.
    Weights whose initializer cannot be found (custom layers that do not
    expose ``<weight>_initializer``) keep their values, as do their seeds.
    """
    rng = np.random.default_rng(seed)
    for layer in _leaf_layers(model):
        for variable in layer.weights:
            initializer = getattr(layer, f"{variable.name}_initializer", None)
            if initializer is None:
                continue
            initializer = keras.initializers.get(initializer)
            config = initializer.get_config()
            if "seed" in config:
                config["seed"] = int(rng.integers(2**31 - 1))
                initializer = type(initializer).from_config(config)
            variable.assign(initializer(variable.shape, dtype=variable.dtype))
        for value in vars(layer).values():
            if isinstance(value, keras.random.SeedGenerator):
                state = value.state
                state.assign(np.array([rng.integers(2**31 - 1), 0]).astype(state.dtype))


def _leaf_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _leaf_layers(layer)
        else:
            yield layer


def float64_twin(encoder):
    """A float64 copy of ``encoder`` with the same weights, or None.

    Computing in float64 makes each row's embedding independent of the batch
    it is computed in to within 1e-15, which float32 kernels cannot promise.
    Subclassed models cannot be cloned; None tells the caller to fall back.
    """
    try:
        return _retyped_copy(encoder, "float64", input_dtype="float64")
    except (ValueError, TypeError, NotImplementedError):
        return None


def with_precision(encoder, policy):
    """A copy of ``encoder`` computing under the dtype policy ``policy``.

    ``"mixed_float16"`` and ``"mixed_bfloat16"`` compute in 16 bits and keep
    float32 weights; input standardisation and the final L2 normalisation
    stay in float32. Subclassed models cannot be cloned and get a clear
    error.
    """
    try:
        return _retyped_copy(encoder, policy, keep=(_STANDARDIZE, _L2_NORMALIZE))
    except (ValueError, TypeError, NotImplementedError) as error:
        raise ValueError(
            f"precision={policy!r} rebuilds the network with a new dtype policy, which "
            f"needs a functional or Sequential keras.Model: {error}"
        ) from error


def compute_policy(encoder):
    """Name of the mixed dtype policy ``encoder`` computes under, or "float32"."""
    names = {layer.dtype_policy.name for layer in _leaf_layers(encoder)}
    return next((name for name in ("mixed_float16", "mixed_bfloat16") if name in names), "float32")


def _retyped_copy(encoder, dtype, *, input_dtype="float32", keep=()):
    """Clone ``encoder`` with every layer but those named in ``keep`` set to ``dtype``."""

    def retype(layer):
        config = layer.get_config()
        if layer.name not in keep:
            config["dtype"] = dtype
        return type(layer).from_config(config)

    copy = keras.models.clone_model(
        encoder,
        input_tensors=keras.Input(shape=encoder.input_shape[1:], dtype=input_dtype),
        clone_function=retype,
        recursive=True,
    )
    for target, source in zip(copy.weights, encoder.weights):
        target.assign(np.asarray(source).astype(target.dtype))
    return copy


def flat_size(input_shape):
    """Number of features of one row of shape ``input_shape``."""
    return math.prod(input_shape)
