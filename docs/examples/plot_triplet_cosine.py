"""
=================================
Triplet loss with cosine distance
=================================

:class:`~sksiamese.SiameseEmbedder` trains with the triplet loss by default:
for an anchor row, a positive row of its class and a negative row of another
class, it asks the negative to be at least ``margin`` farther from the anchor
than the positive. The distance is Euclidean by default;
``distance="cosine"`` measures ``1 - cos`` of the angle between two
embeddings instead, the usual choice for text and face embeddings that are
compared by angle.

This example trains both on the handwritten digits bundled with
scikit-learn and compares how well each separates same-digit pairs from
different-digit pairs of held-out images, next to the cosine distance of
the raw pixels.
"""

# Authors: The sksiamese developers
# License: BSD-3-Clause

# %%
# Data
# ----
#
# The 8x8 images are flattened to 64 features, and 30% of the rows are held
# out, stratified by digit. All ten digits are seen in training here: the
# question is how well the learned distance generalises to new images of
# known classes.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
print(f"training rows: {len(X_train)}, test rows: {len(X_test)}")

# %%
# Two triplet embedders
# ---------------------
#
# Embeddings lie on the unit sphere (``normalize=True``). There the
# Euclidean distance is in [0, 2] and the cosine distance ``1 - cos`` in
# [0, 2] as well; ``margin`` is in the unit of ``distance``. Each batch holds
# ``samples_per_class=4`` rows of each of 32 classes (here: of all ten
# digits, as there are fewer than 32), and ``mining="semi-hard"`` picks,
# for each anchor and positive, the closest negative that is still farther
# than the positive (FaceNet).
from sksiamese import SiameseEmbedder

common = dict(n_components=16, epochs=20, random_state=0, verbose=0)
embedders = {
    "triplet, euclidean": SiameseEmbedder(distance="euclidean", margin=0.5, **common),
    "triplet, cosine": SiameseEmbedder(distance="cosine", margin=0.4, **common),
}
for name, embedder in embedders.items():
    embedder.fit(X_train, y_train)
    print(f"{name}: final training loss {embedder.history_['loss'][-1]:.4f}")

# %%
# Retrieval scores
# ----------------
#
# Each held-out image in turn is a query and all other held-out images are
# ranked by distance to it. Precision at 1 is the share of queries whose
# nearest image shows the same digit (leave-one-out 1-nearest-neighbour
# accuracy); MAP@R (Musgrave et al., 2020) also asks that *all* R other
# images of the digit come first. Every method is scored in its own
# distance; raw pixels in the cosine distance.
from sksiamese.metrics import mean_average_precision_at_r, precision_at_1

embeddings = {"raw pixels": X_test}
embeddings.update({name: est.transform(X_test) for name, est in embedders.items()})
distances = {"raw pixels": "cosine"}
distances.update({name: est.distance for name, est in embedders.items()})

print(f"{'':20s} {'precision@1':>12s} {'MAP@R':>8s}")
for name, Z in embeddings.items():
    p_at_1 = precision_at_1(Z, y_test, distance=distances[name])
    map_r = mean_average_precision_at_r(Z, y_test, distance=distances[name])
    print(f"{name:20s} {p_at_1:12.3f} {map_r:8.3f}")

# %%
# Raw pixels already find a same-digit neighbour for almost every image: the
# digits are an easy data set. MAP@R tells the methods apart: among the
# raw pixels' nearest images, many of other digits come before the last
# images of the query's own digit, while each triplet embedding gathers
# most of a digit's images ahead of all others.
#
# Distances of same-digit and different-digit pairs
# -------------------------------------------------
#
# :func:`~sksiamese.datasets.make_pairs` draws pairs of held-out images,
# half of the same digit. The histograms show their cosine distance before
# training (raw pixels) and after, in each embedding. On the unit sphere the
# cosine distance is half the squared Euclidean one, so it ranks pairs
# alike for both embedders. The ROC AUC in each title is the probability
# that a random same-digit pair is closer than a random different-digit one.
from sklearn.metrics import roc_auc_score
from sklearn.metrics.pairwise import paired_cosine_distances

from sksiamese.datasets import make_pairs

pair_index, same = make_pairs(X_test, y_test, n_pairs=3000, return_indices=True, random_state=0)

fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), layout="constrained")
for ax, (name, Z) in zip(axes, embeddings.items()):
    d = paired_cosine_distances(Z[pair_index[:, 0]], Z[pair_index[:, 1]])
    auc = roc_auc_score(same, -d)
    bins = np.linspace(0, d.max(), 40)
    ax.hist(d[same == 1], bins=bins, alpha=0.6, density=True, label="same digit")
    ax.hist(d[same == 0], bins=bins, alpha=0.6, density=True, label="different digits")
    ax.set_title(f"{name}\nROC AUC {auc:.3f}")
    ax.set_xlabel("cosine distance")
    print(f"{name:20s} ROC AUC of pair distances: {auc:.3f}")
axes[0].set_ylabel("density")
axes[-1].legend(loc="upper right")
plt.show()

# %%
# Before training, the two distributions overlap widely. After training,
# same-digit pairs of new images sit close to 0, and different-digit pairs
# gather around 1, that is, near-orthogonal embeddings. On the digits the
# two distances give much the same result: which distance is trained
# matters less than training at all. Cosine distance is the natural choice
# when the embeddings will be compared by angle downstream, for instance by
# a ``KNeighborsClassifier(metric="cosine")`` or a vector database.
#
# t-SNE map of the cosine embedding
# ---------------------------------
#
# :class:`~sksiamese.plotting.EmbeddingDisplay` with ``projection="tsne"``
# maps the held-out images to two dimensions with t-SNE, which keeps
# neighbourhoods rather than distances. Raw pixels, on the left, already
# form clusters for most digits; the learned embedding, on the right, gives
# each digit a tighter and better separated group, with a few images
# placed among another digit's group.
from sksiamese.plotting import EmbeddingDisplay

fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), layout="constrained")
EmbeddingDisplay.from_embeddings(
    X_test, y_test, projection="tsne", random_state=0, ax=axes[0], legend=False
)
axes[0].set_title("Raw pixels, t-SNE")
EmbeddingDisplay.from_estimator(
    embedders["triplet, cosine"], X_test, y_test, projection="tsne", random_state=0, ax=axes[1]
)
axes[1].set_title("Triplet embedding, cosine distance, t-SNE")
plt.show()
