"""What a finished training run tells the user: divergence, collapse, no learning, an interrupt.

The engine diagnoses every run it trains and hands the findings back on its
result, worded for the user; the estimator issues them as warnings once it
has applied the result.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._distances import DISTANCES

# The end-of-fit check embeds this many training rows, and calls the embedding
# collapsed when they all lie within this fraction of the margin of each other.
_CHECKED_ROWS = 256
_COLLAPSE_FRACTION = 1e-3


@dataclass(frozen=True)
class Diagnostic:
    """One finding, as the warning that reports it."""

    category: type
    message: str


def diagnose(config, runner, rows, *, run_losses, diverged_at, interrupted, n_iter):
    """The findings on one run, in the order they are reported.

    Parameters
    ----------
    config : TrainingConfig
        The run's settings, which the advice names.
    runner : EncoderRunner
        Embeds rows with the trained encoder.
    rows : ndarray of shape (n_rows, *input_shape)
        The training rows.
    run_losses : list of float
        The loss of each epoch of this run.
    diverged_at : int or None
        Index, among all the encoder's epochs, of the epoch whose loss turned
        non-finite; the encoder holds the weights of the epoch before it.
    interrupted : bool
        Whether ``KeyboardInterrupt`` stopped the run.
    n_iter : int
        Epochs the encoder has trained in all.

    Returns
    -------
    diagnostics : tuple of Diagnostic
    """
    found = []
    if diverged_at is not None:
        found.append(
            Diagnostic(
                ConvergenceWarning,
                f"Training diverged: the loss became NaN or infinite in epoch {diverged_at + 1}. "
                "Training stopped and the encoder keeps the weights of "
                + (
                    f"epoch {diverged_at}, the last with a finite loss"
                    if diverged_at
                    else "its start"
                )
                + f". Lower learning_rate (now {config.learning_rate}).",
            )
        )
    elif not interrupted:
        found.extend(_not_learning(config, runner, rows, run_losses))
    if interrupted:
        found.append(
            Diagnostic(
                UserWarning,
                f"fit was interrupted during epoch {n_iter + 1}; the estimator keeps "
                f"the weights reached so far ({n_iter} complete epochs in history_) "
                "and can be used, saved or warm-started.",
            )
        )
    return tuple(found)


def _not_learning(config, runner, rows, run_losses):
    """A collapsed embedding, or else a loss that never moved in this run, if either.

    Both show a run that went on without learning (e.g. a far too large
    ``learning_rate`` that drives every row to one point). The spread is
    measured on a fixed sample of the training rows: cheap, and enough,
    since a collapse maps every row to the same point.
    """
    margin = config.objective.margin
    sample = np.unique(np.linspace(0, len(rows) - 1, min(len(rows), _CHECKED_ROWS)).astype(int))
    embedded = runner(np.asarray(rows[sample], dtype=np.float32)).astype(np.float64)
    spread = DISTANCES[config.objective.distance].paired(embedded[:-1], embedded[1:]).max()
    if spread <= _COLLAPSE_FRACTION * margin:
        return [
            Diagnostic(
                ConvergenceWarning,
                f"The embedding collapsed: training rows lie within {spread:.3g} of each "
                f"other, far inside margin={margin}, so it separates nothing. Lower "
                f"learning_rate (now {config.learning_rate}) or check that rows of "
                "different classes differ.",
            )
        ]
    if len(run_losses) > 1 and np.allclose(run_losses, run_losses[0], rtol=1e-6, atol=0):
        return [
            Diagnostic(
                ConvergenceWarning,
                f"The loss never moved: it stayed at {run_losses[0]:.6g} for all "
                f"{len(run_losses)} epochs, so the network did not learn. Change "
                f"learning_rate (now {config.learning_rate}) or margin (now {margin}).",
            )
        ]
    return []
