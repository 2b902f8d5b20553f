"""
====================================================
Tuning the margin and the embedding size with a grid
====================================================

:class:`~sksiamese.SiameseEmbedder` is a scikit-learn estimator, so
:class:`~sklearn.model_selection.GridSearchCV` tunes it like any other. It
has no target to predict, but its ``score`` method rates an embedding by
retrieval: precision at 1, the share of rows whose nearest other row has
the same class. :mod:`sksiamese.metrics` adds scorers for ``scoring=``,
such as ``map_at_r_scorer`` for MAP@R, which also asks that *all* rows of a
class come before rows of other classes.

This example searches the ``margin`` of the triplet loss and the size of
the embedding, ``n_components``, on scikit-learn's handwritten digits, with
both scores, and draws the mean cross-validated scores as heat maps.
"""

# Authors: The sksiamese developers
# License: BSD-3-Clause

# %%
# Data
# ----
#
# The search runs on 70% of the images, with 3-fold cross-validation
# stratified by digit; the other 30% are kept for a final test of the best
# model.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)

# %%
# The search
# ----------
#
# Each of the 3 x 3 candidates is trained once per fold, 27 fits in all, plus
# one refit of the best candidate on all training rows. Five epochs per fit
# keep the search fast; a real search would train longer. With a
# dictionary of scorers, ``GridSearchCV`` records each score per candidate,
# and ``refit`` names the one that picks the best candidate. With
# ``scoring=None`` the search would use the estimator's own ``score``;
# :data:`~sksiamese.metrics.precision_at_1_scorer` is that same score, for
# use in a dictionary.
from sksiamese import SiameseEmbedder
from sksiamese.metrics import map_at_r_scorer, precision_at_1_scorer

param_grid = {"margin": [0.1, 0.3, 1.0], "n_components": [4, 8, 32]}
search = GridSearchCV(
    SiameseEmbedder(epochs=5, random_state=0, verbose=0),
    param_grid,
    scoring={"MAP@R": map_at_r_scorer, "precision@1": precision_at_1_scorer},
    refit="MAP@R",
    cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
)
search.fit(X_train, y_train)

best_index = search.best_index_
print(f"best parameters by MAP@R: {search.best_params_}")
print(
    f"their mean cross-validated MAP@R: {search.best_score_:.3f} "
    f"(standard deviation across folds {search.cv_results_['std_test_MAP@R'][best_index]:.3f})"
)
best_by_p_at_1 = int(np.argmin(search.cv_results_["rank_test_precision@1"]))
print(f"best parameters by precision@1: {search.cv_results_['params'][best_by_p_at_1]}")

best_model = search.best_estimator_
print(f"test MAP@R of the refitted best model: {map_at_r_scorer(best_model, X_test, y_test):.3f}")
print(f"test precision@1 (its score method): {best_model.score(X_test, y_test):.3f}")

# %%
# Heat maps of the scores
# -----------------------
#
# ``cv_results_`` lists the candidates in the order of ``ParameterGrid``,
# which varies the last parameter (in alphabetical order) fastest: the mean
# scores reshape into a table with one row per margin and one column per
# embedding size. The best candidate by each score is framed.
margins = param_grid["margin"]
sizes = param_grid["n_components"]

fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
for ax, name in zip(axes, ["MAP@R", "precision@1"]):
    scores = search.cv_results_[f"mean_test_{name}"].reshape(len(margins), len(sizes))
    image = ax.imshow(scores, cmap="viridis")
    for i in range(len(margins)):
        for j in range(len(sizes)):
            # Dark text on the light cells, light text on the dark ones.
            light = scores[i, j] > scores.min() + 0.6 * np.ptp(scores)
            ax.text(
                j,
                i,
                f"{scores[i, j]:.3f}",
                ha="center",
                va="center",
                color="black" if light else "white",
                fontsize=11,
            )
    best_row, best_column = np.unravel_index(np.argmax(scores), scores.shape)
    ax.add_patch(
        plt.Rectangle(
            (best_column - 0.5, best_row - 0.5),
            1,
            1,
            fill=False,
            edgecolor="red",
            linewidth=2.5,
            clip_on=False,
        )
    )
    ax.set_xticks(range(len(sizes)), labels=sizes)
    ax.set_yticks(range(len(margins)), labels=margins)
    ax.set_xlabel("n_components")
    ax.set_ylabel("margin")
    ax.set_title(f"Mean cross-validated {name} (best framed)")
    fig.colorbar(image, ax=ax, shrink=0.85)
plt.show()

# %%
# Both scores agree that a 4-dimensional embedding is too small for ten
# digits. Among the larger embeddings the differences are about a
# hundredth, not much more than the spread across folds printed above, and
# the two scores need not agree on the best candidate. Precision at 1
# sits close to its ceiling for every candidate: on the digits even a poor
# embedding puts an image of the same digit nearest to most images. MAP@R
# scores the whole ranking, and is the score Musgrave et al. (2020)
# recommend for comparing metric-learning methods.
