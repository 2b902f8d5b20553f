"""How the estimators build an encoder from a network, and copy or retype it.

The encoder maps rows to embeddings: the rows' standardisation (optional),
the network, a trainable projection to ``n_components`` when the network's
output has another size, and L2 normalisation (optional). The network's
model is always a copy: a model the user lends, as an instance or returned
by a builder, is never changed.

Weights come from one of two places: the network as it was handed over
(kept), or the initializers of its layers, drawn afresh from a seed
(redrawn). :func:`build_encoder` decides weight by weight.
:class:`EncoderSpec` holds what an estimator's parameters say of its
encoder, so that the training engine can build one without the estimator.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._rows import FLOAT32_MAX, channel_moments
from ._tensorflow import keras
from .networks import BUILT_IN

# Layers that stay in float32 under mixed precision: standardising raw
# inputs and normalising embeddings need its range and precision.
STANDARDIZE = "standardize"
L2_NORMALIZE = "l2_normalize"
PROJECTION = "projection"

INITS = ("auto", "keep", "redraw")


@dataclass(frozen=True)
class EncoderSpec:
    """The encoder an estimator's parameters describe, for rows of one shape.

    Attributes
    ----------
    network : str, keras.Model or callable
        See :func:`build_encoder`.
    input_shape : tuple of int
        Shape of one row.
    n_components : int
        Size of the embedding.
    init : {"auto", "keep", "redraw"}
        Which weights of the network are drawn afresh.
    normalize : bool
        Whether embeddings are scaled to unit L2 norm.
    standardize : bool
        Whether the encoder standardises rows with the statistics of the
        rows it is built for.
    policy : str
        The Keras dtype policy the encoder computes under.
    """

    network: Any
    input_shape: tuple
    n_components: int
    init: str
    normalize: bool
    standardize: bool
    policy: str

    def build(self, rows, seed):
        """A new encoder for ``rows``, its weights drawn from ``seed``."""
        mean = variance = None
        if self.standardize:
            # Centre each feature (or channel) but scale all by one common
            # deviation: relative scales carry information, and per-feature
            # scaling would blow up near-constant features such as blank
            # image borders.
            mean, common_variance = channel_moments(rows)
            if not common_variance < FLOAT32_MAX:
                raise ValueError(
                    f"X varies too widely (variance {common_variance:.3g}) to be "
                    "standardised in float32, in which the network computes. Rescale X."
                )
            variance = np.full_like(mean, common_variance)
        return build_encoder(
            self.network,
            self.input_shape,
            self.n_components,
            init=self.init,
            seed=seed,
            normalize=self.normalize,
            mean=mean,
            variance=variance,
            policy=self.policy,
        )


def build_encoder(
    network,
    input_shape,
    n_components,
    *,
    init,
    seed,
    normalize,
    mean=None,
    variance=None,
    policy="float32",
):
    """The estimator's encoder for ``network``, with its initial weights.

    Parameters
    ----------
    network : str, keras.Model or callable
        A built-in network's name, a model, or ``network(input_shape,
        n_components) -> keras.Model``.
    input_shape : tuple of int
        Shape of one row.
    n_components : int
        Size of the embedding.
    init : {"auto", "keep", "redraw"}
        Which weights of the network are drawn afresh from their
        initializers, seeded by ``seed``: every one (``"redraw"``), none
        (``"keep"``), or those still holding their initializer's own draw
        (``"auto"``): all weights of a network built from scratch, none of
        one that was loaded or trained. A projection head is always drawn.
    seed : int
        Seeds the weights drawn and the layers' random number generators
        (dropout).
    normalize : bool
        Whether to scale embeddings to unit L2 norm.
    mean, variance : ndarray or None
        Statistics of the training rows along the last axis to standardise
        them with, or None to pass rows on as given.
    policy : str
        The Keras dtype policy the encoder computes under.

    Returns
    -------
    encoder : keras.Model
    """
    source = network_model(network, input_shape, n_components)
    # A built-in network was made just now, for this encoder alone.
    body = source
    if not isinstance(network, str):
        body = _private_copy(source, input_shape, lent=isinstance(network, keras.Model))
    encoder = assemble_encoder(
        body, input_shape, n_components, normalize=normalize, mean=mean, variance=variance
    )
    # Counted once the encoder is built: a model built by the call above has
    # no weights before it.
    # A built-in network holds nothing but initial draws; telling them by
    # drawing again fails under a multi-worker strategy, where the other
    # workers' variables start from the chief's draws.
    if init == "redraw" or (init == "auto" and isinstance(network, str)):
        redrawn = {id(variable) for _, variable in _weights(body)}
    elif init == "auto":
        redrawn = {
            id(copied)
            for (layer, original), (_, copied) in zip(_weights(source), _weights(body))
            if _holds_initial_draw(layer, original)
        }
    else:
        redrawn = set()
    if PROJECTION in {layer.name for layer in encoder.layers}:
        redrawn |= {id(variable) for variable in encoder.get_layer(PROJECTION).weights}
    reinitialize(encoder, seed, redrawn)
    if policy != "float32":
        encoder = with_precision(encoder, policy)
    return encoder


def network_model(network, input_shape, n_components):
    """The model ``network`` stands for, as given: a built-in's, a builder's, or itself."""
    if isinstance(network, keras.Model):
        return network
    if isinstance(network, str):
        return BUILT_IN[network](tuple(input_shape), n_components)
    model = network(tuple(input_shape), n_components)
    if not isinstance(model, keras.Model):
        raise TypeError(
            "network(input_shape, n_components) must return a keras.Model, "
            f"got {type(model).__name__}."
        )
    return model


def _private_copy(model, input_shape, *, lent):
    """A copy of ``model`` with its weights and trainable flags, or ``model`` itself.

    Training changes the copy only. A model with no weights yet (a
    subclassed or Sequential model never called) holds nothing to keep; one
    that a builder has just made is used as it is, as is one that Keras
    cannot copy, while a lent instance must be built first, and copyable,
    so that its copy can be checked against it.
    """
    if not model.weights:
        if lent:
            raise TypeError(
                f"network={model.name!r} is a keras.Model with no weights yet; build it "
                "first (call it once on a batch, or give it a keras.Input) so that the "
                "estimator can train a copy of it."
            )
        return model
    try:
        copy = keras.models.clone_model(model)
        if not copy.built:
            copy(keras.Input(shape=tuple(input_shape)))
        copied = list(_weights(copy))
        originals = list(_weights(model))
        if [v.shape for _, v in copied] != [v.shape for _, v in originals]:
            raise ValueError("its copy has weights of other shapes")
    except Exception as error:  # Keras raises many kinds for a model it cannot copy
        if not lent:
            # Keras cannot rebuild it (a Lambda layer holding a Python
            # lambda, say): a builder's model is trained as it was returned.
            return model
        raise TypeError(
            f"The estimator trains a copy of the network, and {model.name!r} cannot be "
            f"copied ({type(error).__name__}: {error}). A subclassed keras.Model must "
            "implement get_config() returning its constructor's arguments."
        ) from error
    for (_, target), (_, source) in zip(copied, originals):
        target.assign(source)
    for target, source in zip(all_layers(copy), all_layers(model)):
        target.trainable = source.trainable
    return copy


def assemble_encoder(body, input_shape, n_components, *, normalize, mean=None, variance=None):
    """The encoder around ``body``: standardisation, ``body``, projection, L2 normalisation.

    ``body`` becomes part of the encoder, not a copy. Standardisation
    applies when ``mean`` and ``variance`` are given; a trainable projection
    to ``n_components`` is added when ``body``'s output has another size.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="rows")
    hidden = inputs
    if mean is not None:
        hidden = keras.layers.Normalization(
            axis=-1, mean=mean, variance=variance, name=STANDARDIZE
        )(hidden)
    try:
        embeddings = body(hidden)
    except Exception as error:  # Keras raises many kinds for rows a model cannot take
        raise ValueError(
            f"The network {body.name!r} cannot take rows of shape {tuple(input_shape)} "
            f"({type(error).__name__}: {str(error).strip().splitlines()[0]}). Set "
            "input_shape to the shape it expects."
        ) from error
    if len(embeddings.shape) != 2:
        raise ValueError(
            f"The network maps rows to shape {tuple(embeddings.shape)[1:]}; it must map "
            "each row to a vector. End it with a pooling or Flatten layer (e.g. "
            'pooling="avg" for keras.applications models).'
        )
    if embeddings.shape[-1] != n_components:
        embeddings = keras.layers.Dense(n_components, name=PROJECTION)(embeddings)
    if normalize:
        embeddings = keras.layers.UnitNormalization(name=L2_NORMALIZE)(embeddings)
    return keras.Model(inputs, embeddings, name="encoder")


def reinitialize(model, seed, redrawn=None):
    """Redraw weights of ``model`` from their own initializers, seeded.

    Keras seeds unseeded initializers and layers from Python's global
    ``random`` module when they are constructed. Redrawing from a local seed
    makes a fit reproducible without touching any global random state.
    ``redrawn`` holds the ``id`` of the weights to redraw (None: all); every
    weight with an initializer takes its seed from the stream all the same,
    so that which weights are kept does not move the seeds of the others.
    Weights whose initializer cannot be found (custom layers that do not
    expose ``<weight>_initializer``) keep their values. The layers' random
    number generators (dropout) are reseeded.
    """
    rng = np.random.default_rng(seed)
    for layer, variable in _weights(model):
        initializer = _initializer(layer, variable)
        if initializer is None:
            continue
        config = initializer.get_config()
        if "seed" in config:
            config["seed"] = int(rng.integers(2**31 - 1))
            initializer = type(initializer).from_config(config)
        if redrawn is None or id(variable) in redrawn:
            variable.assign(initializer(variable.shape, dtype=variable.dtype))
    for layer in leaf_layers(model):
        for value in vars(layer).values():
            if isinstance(value, keras.random.SeedGenerator):
                state = value.state
                state.assign(np.array([rng.integers(2**31 - 1), 0]).astype(state.dtype))


def _initializer(layer, variable):
    """The initializer ``layer`` draws ``variable`` from, or None where it cannot be found."""
    name = variable.name
    if name == "kernel" and isinstance(layer, keras.layers.DepthwiseConv2D):
        name = "depthwise"
    initializer = getattr(layer, f"{name}_initializer", None)
    return None if initializer is None else keras.initializers.get(initializer)


def _holds_initial_draw(layer, variable):
    """Whether ``variable`` still holds what its initializer drew: never loaded nor trained.

    Keras initializers draw the same values on every call (their seed is
    fixed when they are made), so drawing again tells. An initializer seeded
    by a generator draws anew each time and cannot tell: its weight counts as
    loaded.
    """
    initializer = _initializer(layer, variable)
    if initializer is None or isinstance(
        getattr(initializer, "seed", None), keras.random.SeedGenerator
    ):
        return False
    drawn = initializer(variable.shape, dtype=variable.dtype)
    return np.array_equal(keras.ops.convert_to_numpy(drawn), keras.ops.convert_to_numpy(variable))


def _weights(model):
    """``(layer, variable)`` for every weight of ``model``'s leaf layers, in a fixed order."""
    for layer in leaf_layers(model):
        for variable in layer.weights:
            yield layer, variable


def leaf_layers(model):
    """The layers of ``model`` that are not models themselves, nested models opened."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from leaf_layers(layer)
        else:
            yield layer


def all_layers(model):
    """Every layer of ``model``, each nested model followed by its own layers."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from all_layers(layer)


def with_precision(encoder, policy):
    """A copy of ``encoder`` computing under the dtype policy ``policy``.

    ``"mixed_float16"`` and ``"mixed_bfloat16"`` compute in 16 bits and keep
    float32 weights; input standardisation and the final L2 normalisation
    stay in float32. Subclassed models cannot be cloned and get a clear
    error.
    """
    try:
        return _retyped_copy(encoder, policy, keep=(STANDARDIZE, L2_NORMALIZE))
    except (ValueError, TypeError, NotImplementedError) as error:
        raise ValueError(
            f"precision={policy!r} rebuilds the network with a new dtype policy, which "
            f"needs a functional or Sequential keras.Model: {error}"
        ) from error


def compute_policy(encoder):
    """Name of the mixed dtype policy ``encoder`` computes under, or "float32"."""
    names = {layer.dtype_policy.name for layer in leaf_layers(encoder)}
    return next((name for name in ("mixed_float16", "mixed_bfloat16") if name in names), "float32")


def _retyped_copy(encoder, dtype, *, keep=()):
    """Clone ``encoder`` with every layer but those named in ``keep`` set to ``dtype``."""

    def retype(layer):
        config = layer.get_config()
        if layer.name not in keep:
            config["dtype"] = dtype
        return type(layer).from_config(config)

    copy = keras.models.clone_model(
        encoder,
        input_tensors=keras.Input(shape=encoder.input_shape[1:]),
        clone_function=retype,
        recursive=True,
    )
    for target, source in zip(copy.weights, encoder.weights):
        target.assign(np.asarray(source).astype(target.dtype))
    return copy
