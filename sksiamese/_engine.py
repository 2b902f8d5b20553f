"""The training engine: from validated rows to a trained encoder and its history.

The estimator validates its input, settles its parameters into a
:class:`~sksiamese._config.TrainingConfig`, draws the seeds and says where
training starts; :func:`plan_training` settles the rest before anything
trains (held-out validation data, the starting encoder, built from the
configuration's :class:`~sksiamese._encoder.EncoderSpec`, and optimizer) and
:func:`run_training` chooses the samplers, adds early stopping and
checkpoints, runs :func:`~sksiamese._training.train`, merges the new epochs
into the history and diagnoses the run. The engine sets nothing on the
estimator: it hands back a :class:`TrainingResult` for the estimator to
apply at once, so a fit that fails leaves the estimator as it was.
"""

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from . import losses
from ._checkpoint import Checkpointer, read_checkpoint
from ._config import TrainingConfig
from ._diagnostics import diagnose
from ._encoder import compute_policy
from ._frozen import trained_part
from ._inference import EncoderRunner
from ._sampling import ClassBalancedSampler, PairSampler, check_positive_pairs, row_reader
from ._tensorflow import keras
from ._training import (
    image_augmenter,
    in_current_strategy,
    make_optimizer,
    replicas_in_sync,
    train,
)
from .metrics import mean_average_precision_at_r

#: What early stopping watches: ``validation`` -> (logged name, better when).
_MONITORS = {"rows": ("val_loss", "min"), "classes": ("val_map_at_r", "max")}


@dataclass(frozen=True)
class TrainingPlan:
    """One call's training, settled before any of it runs.

    Attributes
    ----------
    config : TrainingConfig
        The call's settings.
    rows : ndarray of shape (n_rows, *input_shape)
        Training rows, in memory or memory-mapped from disk.
    targets : ndarray
        Class labels of ``rows`` or, with ``config.paired``, labels (1 same,
        0 different) of the pairs of consecutive rows.
    train_index, validation_index : ndarray or None
        Indices into ``targets`` to train on and to watch for early
        stopping; None without early stopping (all are trained on).
    encoder : keras.Model
        The encoder to train, in place: new, resumed or continued.
    history : dict of str to list of float
        What ``encoder`` trained before this call.
    optimizer : keras.optimizers.Optimizer
        Fresh, or carried over from the previous :meth:`partial_fit` call.
    snapshot : callable
        ``snapshot(encoder, history)`` returns the estimator as fitted with
        that encoder and history: what each checkpoint saves, so that
        ``sksiamese.load`` reads a checkpoint as a fitted estimator.
    batch_seed, augment_seed : int
    """

    config: TrainingConfig
    rows: Any
    targets: np.ndarray
    train_index: Any
    validation_index: Any
    encoder: Any
    history: dict
    optimizer: Any
    snapshot: Any
    batch_seed: int
    augment_seed: int


@dataclass(frozen=True)
class TrainingResult:
    """What one call trained, for the estimator to apply.

    Attributes
    ----------
    encoder : keras.Model
    runner : EncoderRunner
        Embeds rows with ``encoder``; compiled already if the diagnosis
        embedded rows.
    history : dict of str to list of float
        The encoder's whole history: the earlier epochs, then this call's.
    optimizer : keras.optimizers.Optimizer
        The optimizer, with the state it reached.
    diagnostics : tuple of Diagnostic
        What went wrong, if anything, worded for the user: divergence, a
        collapsed embedding, a loss that never moved, an interrupt.
    interrupted : bool
        Whether ``KeyboardInterrupt`` stopped training; the encoder holds the
        weights reached by then.
    """

    encoder: Any
    runner: EncoderRunner
    history: dict
    optimizer: Any
    diagnostics: tuple
    interrupted: bool

    @property
    def n_iter(self):
        """Epochs trained in all, across warm starts."""
        return len(self.history["loss"])


def plan_training(config, rows, targets, *, seeds, snapshot, continued=None, groups=None):
    """Settle what :func:`run_training` does; everything that can refuse the call refuses here.

    Parameters
    ----------
    config : TrainingConfig
    rows, targets
        See :class:`TrainingPlan`.
    seeds : tuple of int
        Seeds of the initial weights, the batches, the validation split
        and augmentation, in that order.
    snapshot : callable
        See :class:`TrainingPlan`.
    continued : tuple or None, default=None
        ``(encoder, history, optimizer)`` of the fitted estimator when
        training continues it (``optimizer`` None unless carried over);
        None to start anew.
    groups : ndarray of shape (n_rows,) or None, default=None
        Group of each row, one per class; ``validation="classes"`` then
        holds out whole groups.
    """
    for callback in config.callbacks:
        if not isinstance(callback, keras.callbacks.Callback):
            raise TypeError(
                "callbacks must hold keras.callbacks.Callback instances; got "
                f"{type(callback).__name__} {callback!r}."
            )
    weight_seed, batch_seed, split_seed, augment_seed = (int(seed) for seed in seeds)
    fraction, paired = config.validation_fraction, config.paired
    train_index = validation_index = None
    if fraction is not None and config.validation == "classes":
        if paired:
            raise ValueError(
                "validation='classes' holds out whole classes, and pairs have none; use "
                "validation='rows' to hold out pairs, or set early_stopping=False."
            )
        train_index, validation_index = _hold_out_classes(targets, fraction, split_seed, groups)
    elif fraction is not None:
        train_index, validation_index = _hold_out(targets, fraction, split_seed, paired)
    if not paired:
        check_positive_pairs(
            targets if train_index is None else targets[train_index],
            held_out=train_index is not None,
        )
    carried = None
    if continued is not None:
        encoder, history, carried = continued
    else:
        resumed = None
        if config.resume:
            resumed = _resumed_checkpoint(config.checkpoint_dir, config.encoder.input_shape)
        encoder, history = resumed or (config.encoder.build(rows, weight_seed), {})
    moved = in_current_strategy(encoder)
    if carried is None or moved is not encoder:
        carried = make_optimizer(
            config.optimizer,
            config.learning_rate,
            loss_scaling=compute_policy(moved) == "mixed_float16",
        )
    return TrainingPlan(
        config=config,
        rows=rows,
        targets=targets,
        train_index=train_index,
        validation_index=validation_index,
        encoder=moved,
        history=history,
        optimizer=carried,
        snapshot=snapshot,
        batch_seed=batch_seed,
        augment_seed=augment_seed,
    )


def run_training(plan):
    """Train ``plan.encoder`` as planned; return a :class:`TrainingResult`.

    Divergence and ``KeyboardInterrupt`` end training and are reported in
    the result, with what else the run's diagnosis finds. Any other
    exception propagates, after putting back the weights of the encoder and
    the state of the optimizer as they were, so that a continued estimator
    is left unchanged.
    """
    config = plan.config
    n_replicas = replicas_in_sync()
    train_sampler = _sampler(
        plan,
        plan.train_index,
        n_replicas,
        rotated_classes=config.rotated_classes,
        mirrored_classes=config.mirrored_classes,
    )
    validation_sampler = None
    callbacks = list(config.callbacks)
    if plan.validation_index is not None:
        if config.validation == "classes":
            # First, so that every other callback sees the score in its logs,
            # as it sees Keras' own val_loss.
            callbacks.insert(0, _HeldOutClassScore(plan))
        else:
            validation_sampler = _sampler(plan, plan.validation_index, n_replicas)
        monitor, mode = _MONITORS[config.validation]
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor,
                mode=mode,
                patience=config.n_iter_no_change,
                restore_best_weights=True,
            )
        )
    checkpoint = None
    if config.checkpoint_dir is not None:
        checkpoint = Checkpointer(
            config.checkpoint_dir, plan.encoder, plan.snapshot, earlier_history=plan.history
        )
    loss = _loss(plan, [train_sampler, validation_sampler or train_sampler])
    weights = plan.encoder.get_weights()
    optimizer_state = [variable.numpy() for variable in plan.optimizer.variables]
    try:
        # Turned or mirrored classes, like augmentation, change the rows the
        # encoder sees, so frozen layers' output cannot be computed once.
        changed_by = [
            name
            for name in ("augment", "rotated_classes", "mirrored_classes")
            if getattr(config, name)
        ]
        with trained_part(
            plan.encoder, plan.rows, changed_by=changed_by, chunk_rows=config.batch_size
        ) as (trained, rows):
            run = train(
                trained,
                loss,
                train_sampler,
                row_reader(rows),
                validation_sampler=validation_sampler,
                optimizer=plan.optimizer,
                epochs=config.epochs,
                seed=plan.batch_seed,
                callbacks=callbacks,
                verbose=config.verbose,
                augmenter=image_augmenter(plan.augment_seed) if config.augment else None,
                checkpoint=checkpoint,
            )
    except Exception:
        plan.encoder.set_weights(weights)
        for variable, value in zip(plan.optimizer.variables, optimizer_state):
            variable.assign(value)
        raise
    n_before = len(plan.history.get("loss", []))
    history = {key: list(values) for key, values in plan.history.items()}
    history.setdefault("loss", [])
    for key, values in run.history.items():
        history.setdefault(key, []).extend(values)
    runner = EncoderRunner(plan.encoder)
    return TrainingResult(
        encoder=plan.encoder,
        runner=runner,
        history=history,
        optimizer=plan.optimizer,
        diagnostics=diagnose(
            config,
            runner,
            plan.rows,
            run_losses=list(run.history.get("loss", [])),
            diverged_at=None if run.diverged_at is None else n_before + run.diverged_at,
            interrupted=run.interrupted,
            n_iter=len(history["loss"]),
        ),
        interrupted=run.interrupted,
    )


class _HeldOutClassScore(keras.callbacks.Callback):
    """Logs ``val_map_at_r`` after every epoch: MAP@R of the held-out classes.

    The held-out rows are embedded in one compiled pass by the encoder as it
    stands at the end of the epoch, and ranked under the training distance.
    Non-finite embeddings log NaN, which ends training as divergence.
    """

    def __init__(self, plan):
        super().__init__()
        index = plan.validation_index
        self.rows = np.asarray(plan.rows[index], dtype=np.float32)
        self.labels = plan.targets[index]
        self.distance = plan.config.objective.distance
        self.runner = EncoderRunner(plan.encoder)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        embedded = self.runner(self.rows)
        logs[_MONITORS["classes"][0]] = (
            mean_average_precision_at_r(embedded, self.labels, distance=self.distance)
            if np.isfinite(embedded).all()
            else float("nan")
        )


def _sampler(plan, index, n_replicas, *, rotated_classes=False, mirrored_classes=False):
    """Batches of pairs, or P x K batches of labelled rows, drawn from ``index``."""
    config = plan.config
    labels = plan.targets if index is None else plan.targets[index]
    if config.paired:
        return PairSampler(labels, config.batch_size, index=index, n_replicas=n_replicas)
    return ClassBalancedSampler(
        labels,
        config.batch_size,
        config.samples_per_class,
        index=index,
        n_replicas=n_replicas,
        rotated_classes=rotated_classes,
        mirrored_classes=mirrored_classes,
    )


def _loss(plan, samplers):
    """The loss of the batches ``samplers`` draw: ``loss(targets, embeddings) -> scalar``."""
    objective = plan.config.objective
    margin = float(objective.margin)
    if plan.config.paired:
        return functools.partial(
            losses.contrastive_pair_loss, margin=margin, distance=objective.distance
        )
    # Every anchor of a P x K batch has K - 1 positives; validation batches
    # may hold fewer classes, with more rows each.
    return losses.batch_loss(
        objective.loss,
        margin=margin,
        mining=objective.mining,
        distance=objective.distance,
        positives_per_anchor=max(sampler.samples_per_class for sampler in samplers) - 1,
    )


def _hold_out(targets, fraction, seed, paired):
    """Split off ``fraction`` of the data, stratified when possible.

    Returns the indices of the training and of the held-out rows; with
    ``paired``, of the pairs, which are held out whole.
    """
    unit = "pairs" if paired else "rows"
    n_validation = int(np.ceil(fraction * len(targets)))
    if len(targets) - n_validation < 2:
        raise ValueError(
            f"validation_fraction={fraction} holds out {n_validation} of "
            f"{len(targets)} {unit}, leaving fewer than 2 to train on; lower it or set "
            "early_stopping=False."
        )
    _, counts = np.unique(targets, return_counts=True)
    stratify = targets if counts.min() >= 2 and n_validation >= len(counts) else None
    train_index, validation_index = train_test_split(
        np.arange(len(targets)), test_size=n_validation, stratify=stratify, random_state=seed
    )
    if len(np.unique(targets[train_index])) < 2 or len(validation_index) < 2:
        raise ValueError(
            f"validation_fraction={fraction} leaves too few {unit} to "
            "train and validate on; lower it or set early_stopping=False."
        )
    return train_index, validation_index


def _hold_out_classes(targets, fraction, seed, groups=None):
    """Split off ``fraction`` of the classes, or of the ``groups``, with all their rows.

    MAP@R ranks each held-out row's classmates, so the held-out classes are
    drawn among those with two rows or more and must be two at least, with
    two classes left to train on. With ``groups`` (one per class), whole
    groups are drawn instead. Returns the indices of the training and of the
    held-out rows, in order.
    """
    classes, counts = np.unique(targets, return_counts=True)
    rng = np.random.RandomState(seed)
    if groups is None:
        n_validation = int(np.ceil(fraction * len(classes)))
        eligible = classes[counts >= 2]
        if len(eligible) < n_validation:
            raise ValueError(
                f"validation='classes' holds out {n_validation} whole classes of at least 2 "
                f"rows each (MAP@R ranks each row's classmates), but y has {len(eligible)} "
                "classes with 2 rows or more; lower validation_fraction, or use "
                "validation='rows'."
            )
        held_out = np.isin(targets, rng.choice(eligible, n_validation, replace=False))
        what = f"{n_validation} of the {len(classes)} classes"
    else:
        group_names = np.unique(groups)
        n_groups = int(np.ceil(fraction * len(group_names)))
        held_out = np.isin(groups, rng.choice(group_names, n_groups, replace=False))
        what = f"{n_groups} of the {len(group_names)} groups"
    held_classes, held_counts = np.unique(targets[held_out], return_counts=True)
    n_scored = int(np.sum(held_counts >= 2))
    if n_scored < 2:
        raise ValueError(
            f"validation='classes' with validation_fraction={fraction} holds out {what}; "
            "scoring unseen classes needs at least 2 held-out classes of 2 rows or more, and "
            f"these hold {n_scored}. Raise validation_fraction, or use validation='rows'."
        )
    if len(classes) - len(held_classes) < 2:
        raise ValueError(
            f"validation='classes' with validation_fraction={fraction} holds out {what}, "
            "leaving fewer than 2 classes to train on; lower validation_fraction, or use "
            "validation='rows'."
        )
    return np.flatnonzero(~held_out), np.flatnonzero(held_out)


def _resumed_checkpoint(checkpoint_dir, input_shape):
    """The encoder and history saved in ``checkpoint_dir``, or None, to warm-start from."""
    if checkpoint_dir is None:
        return None
    saved = read_checkpoint(checkpoint_dir)
    if saved is not None and saved[0].input_shape[1:] != input_shape:
        raise ValueError(
            f"The checkpoint in {checkpoint_dir} holds an encoder for rows of "
            f"shape {saved[0].input_shape[1:]}; these rows have shape {input_shape}."
        )
    return saved
