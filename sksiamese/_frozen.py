"""Training an encoder whose leading layers are frozen: compute their output once.

When the first layers of an encoder (a pretrained backbone, typically) have
no trainable weights and compute the same in training as in inference,
every epoch would feed each row through them again to the same result.
:func:`split_frozen` cuts such an encoder in two: the frozen part, run once
over the training rows by :func:`frozen_features`, and the trainable head,
which shares its layers (and weights) with the encoder and trains on the
features alone. Training the head trains the encoder.

The encoder is walked as a chain of stages: its own layers, and the layers
of the functional or Sequential networks inside it, at any depth, when such
a network is itself a chain (each layer takes the one output of the layer
before). A network with branches is one stage, frozen or not as a whole.
"""

import contextlib
import inspect
import os
import tempfile
import warnings
from typing import NamedTuple

import numpy as np

from ._encoder import STANDARDIZE, leaf_layers
from ._inference import EncoderRunner
from ._rows import is_in_memory_array
from ._tensorflow import keras


class FrozenSplit(NamedTuple):
    """An encoder cut after its frozen leading stages."""

    frozen: keras.Model  # rows -> features
    head: keras.Model  # features -> embeddings, with the encoder's own layers


def split_frozen(encoder):
    """The encoder's frozen part and trainable head, or None when there is nothing to gain.

    The frozen part is the longest run of leading stages without trainable
    weights whose output does not depend on ``training``; it must hold
    weights other than the standardisation's (a backbone worth skipping),
    and the rest must hold trainable ones.
    """
    stages = _stages(encoder)
    if stages is None:
        return None
    n_frozen = 0
    while n_frozen < len(stages) and _frozen(*stages[n_frozen]):
        n_frozen += 1
    backbone = [layer for layer, _ in stages[:n_frozen] if layer.name != STANDARDIZE]
    head = [layer for layer, _ in stages[n_frozen:]]
    if not any(layer.weights for layer in backbone) or not any(
        layer.trainable_weights for layer in head
    ):
        return None
    inputs = keras.Input(shape=encoder.input_shape[1:], dtype=encoder.inputs[0].dtype)
    features = _call_stages(stages[:n_frozen], inputs)
    head_inputs = keras.Input(shape=tuple(features.shape[1:]))
    return FrozenSplit(
        keras.Model(inputs, features, name="frozen"),
        keras.Model(head_inputs, _call_stages(stages[n_frozen:], head_inputs), name="head"),
    )


@contextlib.contextmanager
def trained_part(encoder, rows, *, changed_by, chunk_rows):
    """The model that training updates, and the rows it reads.

    Usually ``encoder`` and ``rows``. When the encoder's leading layers are
    frozen, the trainable head and the frozen layers' output for every row,
    computed once, ``chunk_rows`` rows at a time: the head shares its layers
    with the encoder, so training it trains the encoder, at a fraction of
    the cost per epoch. ``changed_by`` names the estimator's parameters that
    change the rows from batch to batch (augmentation, turned or mirrored
    classes): frozen layers must then see every batch, which a warning says.
    """
    split = split_frozen(encoder)
    if split is not None and changed_by:
        names = ", ".join(changed_by)
        off = " and ".join(f"{name}=False" for name in changed_by)
        warnings.warn(
            f"The encoder's first layers are frozen, but {names} change the rows in every "
            "batch, so the frozen layers run on every batch of every epoch. Set "
            f"{off} to compute their output once per fit and train the rest on it, "
            "several times faster.",
            UserWarning,
            stacklevel=2,
        )
    if split is None or changed_by:
        yield encoder, rows
        return
    with frozen_features(split.frozen, rows, chunk_rows) as features:
        yield split.head, features


@contextlib.contextmanager
def frozen_features(model, rows, chunk_rows):
    """The float32 output of ``model`` for every row, computed ``chunk_rows`` at a time.

    Features of in-memory rows stay in memory when they take no more space
    than the rows; otherwise, and for rows memory-mapped from disk or sparse,
    they are written to a temporary file, memory-mapped, and deleted on exit.
    """
    shape = (len(rows), *model.output_shape[1:])
    n_bytes = 4 * int(np.prod(shape, dtype=np.int64))
    runner = EncoderRunner(model, chunk_size=chunk_rows)
    if is_in_memory_array(rows) and n_bytes <= rows.nbytes:
        yield runner(rows, np.float32)
        return
    with tempfile.TemporaryDirectory(prefix="sksiamese-features-") as folder:
        features = np.lib.format.open_memmap(
            os.path.join(folder, "features.npy"), mode="w+", dtype=np.float32, shape=shape
        )
        runner(rows, np.float32, out=features)
        features.flush()
        yield np.load(os.path.join(folder, "features.npy"), mmap_mode="r")


def _stages(encoder):
    """``(layer, call keyword arguments)`` of each stage of ``encoder``, or None if it branches."""
    chain = _chain(encoder)
    if chain is None:
        return None
    stages = []
    for layer, arguments in chain:
        opened = isinstance(layer, keras.Model) and _passes_nothing(arguments)
        stages.extend((opened and _stages(layer)) or [(layer, arguments)])
    return stages


def _passes_nothing(arguments):
    """Whether a network called with ``arguments`` computes what its layers called alone do.

    Keras records ``mask=None`` where a model calls a network built from an
    ``Input``, and ``training`` for networks called on symbolic inputs; the
    whole model's own ``training`` overrides the latter when it is called.
    """
    return all(value is None for name, value in arguments.items() if name != "training")


def _chain(model):
    """The layers of ``model`` in call order with their call arguments, if it is a chain."""
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):  # subclassed, or never built
        return None
    if not inputs or len(inputs) != 1 or len(outputs) != 1:
        return None
    chain, tensor = [], outputs[0]
    while tensor is not inputs[0]:
        layer, node_index, _ = tensor._keras_history
        node = layer._inbound_nodes[node_index]
        arguments = dict(node.arguments.kwargs)
        if (
            len(node.input_tensors) != 1
            or len(node.output_tensors) != 1
            or any(
                keras.ops.is_tensor(value) or isinstance(value, keras.KerasTensor)
                for value in arguments.values()
            )
        ):
            return None
        chain.append((layer, arguments))
        tensor = node.input_tensors[0]
    return chain[::-1]


def _call_stages(stages, tensor):
    for layer, arguments in stages:
        tensor = layer(tensor, **arguments)
    return tensor


def _frozen(layer, arguments):
    """Whether ``layer`` is frozen and computes the same in training.

    A ``training=False`` in ``arguments`` does not count: Keras records one
    for every layer called on symbolic inputs, and a functional model's
    own ``training`` overrides it when the model is called.
    """
    if layer.trainable_weights:
        return False
    leaves = leaf_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return all(_same_in_training(leaf) for leaf in leaves)


def _same_in_training(layer):
    """Whether a frozen leaf layer computes in training what it computes in inference.

    Frozen batch normalisation runs in inference mode (Keras 3). Layers that
    draw random numbers (dropout, noise, random augmentation) hold a seed
    generator. Other Keras layers compute the same either way; a custom
    layer that takes ``training`` may not.
    """
    if isinstance(layer, keras.layers.BatchNormalization):
        return True
    if any(isinstance(value, keras.random.SeedGenerator) for value in vars(layer).values()):
        return False
    if type(layer).__module__.split(".")[0] == "keras":
        return True
    return "training" not in inspect.signature(layer.call).parameters
