"""
======================================================
Contrastive pair model: learning a distance from pairs
======================================================

The classic Siamese network (Hadsell, Chopra and LeCun, 2006) sees two
images at a time through one shared encoder and learns only from whether
the two show the same thing. The contrastive loss pulls matching pairs
together and pushes non-matching pairs at least a ``margin`` apart.

This example trains :class:`~sksiamese.SiameseEmbedder` with
``loss="contrastive"`` and :meth:`~sksiamese.SiameseEmbedder.fit_pairs` on
pairs of the 8x8 handwritten digits bundled with scikit-learn. Only the
digits 0 to 6 are used in training; 7, 8 and 9 are kept back to see where
the learned embedding puts classes it has never seen.
"""

# Authors: The sksiamese developers
# License: BSD-3-Clause

# %%
# Pairs of digit images
# ---------------------
#
# :func:`~sksiamese.datasets.make_pairs` draws pairs of rows labelled 1
# ("same digit") or 0 ("different digits"), half of each by default. The
# images keep their shape: pairs have shape ``(n_pairs, 2, 8, 8, 1)``. The
# rows of the seen digits are first split into training and test rows, so
# that the test pairs are made of images the network has never seen.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sksiamese.datasets import make_pairs

digits = load_digits()
images = digits.images[..., np.newaxis].astype(np.float32) / 16.0
labels = digits.target
seen = labels < 7

train_images, test_images, train_labels, test_labels = train_test_split(
    images[seen], labels[seen], test_size=0.3, stratify=labels[seen], random_state=0
)
train_pairs, train_same = make_pairs(train_images, train_labels, n_pairs=3000, random_state=0)
test_pairs, test_same = make_pairs(test_images, test_labels, n_pairs=1000, random_state=1)
print(f"training pairs: {train_pairs.shape}, test pairs: {test_pairs.shape}")
print(f"share of matching training pairs: {train_same.mean():.2f}")

# %%
# Training the pair model
# -----------------------
#
# ``network="cnn"`` is a small convolutional encoder for images of shape
# ``input_shape``. Each batch embeds both images of its pairs with the
# shared encoder and applies the contrastive loss to their distances. The
# embeddings lie on the unit sphere (``normalize=True``), so Euclidean
# distances are at most 2 and ``margin=1.0`` asks different digits to be
# at least 1 apart. With ``early_stopping=True`` a tenth of the pairs is
# held out to monitor the validation loss, and the best epoch is kept.
from sksiamese import SiameseEmbedder

embedder = SiameseEmbedder(
    loss="contrastive",
    network="cnn",
    input_shape=(8, 8, 1),
    n_components=16,
    margin=1.0,
    epochs=25,
    early_stopping=True,
    n_iter_no_change=5,
    random_state=0,
    verbose=0,
)
embedder.fit_pairs(train_pairs, train_same)
print(f"epochs trained: {embedder.n_iter_}")

# %%
# :class:`~sksiamese.plotting.TrainingCurveDisplay` draws
# ``embedder.history_``: the training loss, the validation loss (dashed)
# and a star at the epoch of the lowest validation loss, whose weights
# the embedder keeps.
from sksiamese.plotting import TrainingCurveDisplay

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
TrainingCurveDisplay.from_estimator(embedder, ax=ax, log_scale=True)
ax.set_title("Contrastive loss of the pair model")
plt.show()


# %%
# Distances of test pairs
# -----------------------
#
# The learned distance of a pair is the Euclidean distance between the
# embeddings of its two images. A few test pairs, with their label:
# matching digits should be close, different digits about ``margin`` or
# more apart.
def pair_distances(transform, pairs):
    """Euclidean distance between the transformed rows of each pair."""
    first = transform(pairs[:, 0])
    second = transform(pairs[:, 1])
    return np.linalg.norm(first - second, axis=1)


learned = pair_distances(embedder.transform, test_pairs)
raw = pair_distances(lambda rows: rows.reshape(len(rows), -1), test_pairs)

shown = np.r_[np.flatnonzero(test_same == 1)[:4], np.flatnonzero(test_same == 0)[:4]]
fig, axes = plt.subplots(2, 8, figsize=(8, 2.6), layout="constrained")
for column, pair in enumerate(shown):
    for row in range(2):
        axes[row, column].imshow(test_pairs[pair, row, :, :, 0], cmap="gray_r")
        axes[row, column].set_xticks([])
        axes[row, column].set_yticks([])
    kind = "same" if test_same[pair] else "different"
    axes[0, column].set_title(f"{kind}\nd = {learned[pair]:.2f}", fontsize=10)
fig.suptitle("Test pairs (top and bottom image) and their learned distance")
plt.show()

# %%
# How well does the distance tell matching from non-matching pairs? The ROC
# AUC of minus the distance is the probability that a random matching pair
# is closer than a random non-matching one. The Euclidean distance of the
# raw pixels is the baseline.
from sklearn.metrics import roc_auc_score

auc_learned = roc_auc_score(test_same, -learned)
auc_raw = roc_auc_score(test_same, -raw)
print(f"ROC AUC on test pairs of digits 0-6, pair model: {auc_learned:.3f}")
print(f"ROC AUC on test pairs of digits 0-6, raw pixels: {auc_raw:.3f}")

# %%
# The embedding of all digits
# ---------------------------
#
# :class:`~sksiamese.plotting.EmbeddingDisplay` maps the 16-dimensional
# embedding of every image to its first two principal components. The
# seen digits (dots) form tight, separate groups. The unseen digits 7, 8
# and 9 (crosses) were never part of a training pair: the network has no
# reason to give them groups of their own, and they land on or between the
# groups of the seen digits. Learning a distance that carries over to new
# classes takes many more training classes than seven, as on Omniglot.
from matplotlib.colors import ListedColormap
from sklearn.decomposition import PCA

from sksiamese.plotting import EmbeddingDisplay

embedding_2d = PCA(n_components=2).fit_transform(embedder.transform(images))
# The unseen digits keep the colours tab10 gives 7, 8 and 9, drawn as crosses.
unseen_colors = ListedColormap(plt.get_cmap("tab10").colors[7:10])
unseen_names = ["7 (unseen)", "8 (unseen)", "9 (unseen)"]

fig, ax = plt.subplots(figsize=(7, 5.5), layout="constrained")
EmbeddingDisplay(embedding_2d[seen], labels[seen]).plot(ax=ax)
EmbeddingDisplay(embedding_2d[~seen], labels[~seen], class_names=unseen_names).plot(
    ax=ax, marker="x", s=20, linewidths=1, cmap=unseen_colors
)
ax.set_title("Pair-model embedding of all digits, PCA projection")
plt.show()
