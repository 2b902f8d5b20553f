"""The training configuration: an estimator's parameters, settled once for the engine.

:meth:`TrainingConfig.from_params` turns the validated parameters of a
:class:`~sksiamese.SiameseEmbedder` into one frozen, typed object for one
call: every ``"auto"`` and None is decided, for the shape of the rows and
the kind of call (``fit``, ``partial_fit`` or ``fit_pairs``). The training
engine reads its settings from it and from nothing else of the estimator.
"""

import os
from dataclasses import dataclass
from numbers import Real
from typing import Any, Callable

from ._encoder import EncoderSpec
from ._shapes import square_images
from ._training import dtype_policy

# The step size of optimizers given by name, with learning_rate="auto": a
# fit of the cnn takes few steps, and learns more from them with a larger one.
_AUTO_LEARNING_RATES = {"cnn": 3e-3}
_DEFAULT_LEARNING_RATE = 1e-3


@dataclass(frozen=True)
class Objective:
    """What training minimises: the estimator's ``loss``, ``margin``, ``mining`` and ``distance``.

    ``margin`` is kept as given, so that messages quote it as it was written.
    """

    loss: str | Callable
    margin: Real
    mining: str
    distance: str


@dataclass(frozen=True)
class TrainingConfig:
    """One call's training settings, decided from the estimator's parameters.

    Attributes
    ----------
    encoder : EncoderSpec
        The encoder to build when training starts anew.
    objective : Objective
    paired : bool
        Whether batches are pairs trained with the contrastive pair loss
        (``fit_pairs``) rather than P x K batches of classes.
    optimizer : str or keras.optimizers.Optimizer
        A name, or an instance copied for each fit.
    learning_rate : float
        Step size of an optimizer given by name.
    epochs, batch_size, samples_per_class : int
    validation_fraction : float or None
        Proportion held out for early stopping; None for no early stopping.
    validation : {"rows", "classes"}
        Whether early stopping holds out rows of every class (or pairs), or
        whole classes.
    n_iter_no_change : int
    augment, rotated_classes, mirrored_classes : bool
        Whether training batches are augmented, and also draw each class
        turned by quarter turns and mirrored, as classes of their own.
    callbacks : tuple
        The ``callbacks`` parameter's items, as given.
    checkpoint_dir : str or path-like or None
    resume : bool
        Whether a new start resumes from the checkpoint in
        ``checkpoint_dir``, if there is one.
    verbose : int
        0, 1 or 2, as Keras takes it.
    """

    encoder: EncoderSpec
    objective: Objective
    paired: bool
    optimizer: Any
    learning_rate: float
    epochs: int
    batch_size: int
    samples_per_class: int
    validation_fraction: float | None
    validation: str
    n_iter_no_change: int
    augment: bool
    rotated_classes: bool
    mirrored_classes: bool
    callbacks: tuple
    checkpoint_dir: str | os.PathLike | None
    resume: bool
    verbose: int

    @classmethod
    def from_params(cls, params, *, input_shape, paired=False, incremental=False):
        """The configuration of one call, from the estimator's validated parameters.

        Parameters
        ----------
        params : dict
            ``estimator.get_params(deep=False)``.
        input_shape : tuple of int
            Shape of one row, as the encoder takes it.
        paired : bool, default=False
            Whether the call trains on pairs (``fit_pairs``); pairs are never
            turned or mirrored.
        incremental : bool, default=False
            Whether the call is ``partial_fit``: one epoch, no early stopping.
        """
        network = params["network"]
        built_in = network if isinstance(network, str) else None
        learning_rate = params["learning_rate"]
        if isinstance(learning_rate, str):  # "auto"
            learning_rate = _AUTO_LEARNING_RATES.get(built_in, _DEFAULT_LEARNING_RATE)
        standardize = params["standardize"]
        rotated_classes = params["rotated_classes"]
        if rotated_classes is None:
            rotated_classes = built_in == "cnn" and square_images(input_shape)
        mirrored_classes = params["mirrored_classes"]
        if mirrored_classes is None:
            mirrored_classes = built_in == "cnn"
        early_stopping = params["early_stopping"] and not incremental
        return cls(
            encoder=EncoderSpec(
                network=network,
                input_shape=tuple(input_shape),
                n_components=int(params["n_components"]),
                init=params["init"],
                normalize=bool(params["normalize"]),
                # Built-in networks take raw rows; a user's model or builder
                # applies its own preprocessing.
                standardize=built_in is not None if standardize == "auto" else bool(standardize),
                policy=dtype_policy(params["precision"]),
            ),
            objective=Objective(
                params["loss"], params["margin"], params["mining"], params["distance"]
            ),
            paired=paired,
            optimizer=params["optimizer"],
            learning_rate=float(learning_rate),
            epochs=1 if incremental else int(params["epochs"]),
            batch_size=int(params["batch_size"]),
            samples_per_class=int(params["samples_per_class"]),
            validation_fraction=params["validation_fraction"] if early_stopping else None,
            validation=params["validation"],
            n_iter_no_change=int(params["n_iter_no_change"]),
            augment=bool(built_in == "cnn" if params["augment"] is None else params["augment"]),
            rotated_classes=not paired and bool(rotated_classes),
            mirrored_classes=not paired and bool(mirrored_classes),
            callbacks=tuple(params["callbacks"] or ()),
            checkpoint_dir=params["checkpoint_dir"],
            resume=bool(params["warm_start"]),
            verbose=min(int(params["verbose"]), 2),
        )
