"""
================================================
Fine-tuning a pretrained backbone from few shots
================================================

Real few-shot problems start from a network pretrained on a larger data
set. This example plays it through offline, on the Omniglot alphabets
bundled with the package (:func:`~sksiamese.datasets.load_omniglot`):

1. pretrain a small convolutional backbone as a plain Keras classifier of
   the 196 characters of six alphabets;
2. fine-tune it as a Siamese network on the 46 characters of two other
   alphabets, from five drawings of each;
3. recognise the other fifteen drawings of each of those characters from the
   five, with a nearest-neighbour rule.

:class:`~sksiamese.SiameseEmbedder` takes the backbone itself as
``network``. It keeps the pretrained weights (``init="auto"``) unless told
to redraw them, adds a trainable projection to ``n_components``, and never
changes the model it is given. With the backbone frozen, it computes the
backbone's output once per fit and trains only the projection.
"""

# Authors: The sksiamese developers
# License: BSD-3-Clause

# %%
# Pretrain a backbone on six alphabets
# ------------------------------------
# Every alphabet of both bundled sets but the two kept for the few shots.
# Greek is in both sets, the same characters and drawings:
# ``subset="both"`` holds them once, under one alphabet name, so none is
# pretrained on.
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from sksiamese import SiameseEmbedder
from sksiamese.datasets import load_omniglot

omniglot = load_omniglot(subset="both")
images = omniglot.images.reshape(-1, 28, 28, 1).astype(np.float32)
pretrain = ~np.isin(omniglot.alphabet, ["Early_Aramaic", "Greek"])
classes, codes = np.unique(omniglot.target[pretrain], return_inverse=True)

keras.utils.set_random_seed(0)
inputs = keras.Input((28, 28, 1))
hidden = inputs
for filters in (32, 64, 64):
    hidden = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(hidden)
    hidden = keras.layers.MaxPooling2D()(hidden)
features = keras.layers.GlobalAveragePooling2D()(hidden)
backbone = keras.Model(inputs, features, name="backbone")
classifier = keras.Sequential([backbone, keras.layers.Dense(len(classes), activation="softmax")])
classifier.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
start = time.perf_counter()
classifier.fit(images[pretrain], codes, epochs=10, batch_size=64, verbose=0)
print(
    f"pretrained on {len(classes)} characters in {time.perf_counter() - start:.0f} s; "
    f"training accuracy {classifier.evaluate(images[pretrain], codes, verbose=0)[1]:.2f}"
)

# %%
# Few shots of new alphabets
# --------------------------
# The 46 characters of Early Aramaic and Greek were never seen in
# pretraining. Five drawings of each (drawers 1 to 5) are all there is to
# fine-tune on; the other fifteen are the queries.
new = ~pretrain
shots = new & (omniglot.drawer <= 5)
queries = new & (omniglot.drawer > 5)
X_shots, y_shots = images[shots], omniglot.target[shots]
X_queries, y_queries = images[queries], omniglot.target[queries]


def few_shot_accuracy(embedder):
    """46-way 5-shot accuracy: each query takes the character of its nearest shot."""
    nearest = KNeighborsClassifier(1).fit(embedder.transform(X_shots), y_shots)
    return nearest.score(embedder.transform(X_queries), y_queries)


# %%
# Kept or redrawn, frozen or fine-tuned
# -------------------------------------
# Four fits of the same backbone, 30 epochs each. The frozen one is a copy
# with ``trainable = False``: the estimator trains only the projection, on
# the backbone's output computed once. ``init="redraw"`` throws the
# pretrained weights away and trains the same architecture from scratch.
frozen = keras.models.clone_model(backbone)
frozen.set_weights(backbone.get_weights())
frozen.trainable = False

setups = {
    "kept, fine-tuned": dict(network=backbone),
    "kept, frozen": dict(network=frozen),
    "redrawn, fine-tuned": dict(network=backbone, init="redraw"),
}
results = {}
for name, params in setups.items():
    embedder = SiameseEmbedder(n_components=32, epochs=30, random_state=0, **params)
    start = time.perf_counter()
    embedder.fit(X_shots, y_shots)
    results[name] = (few_shot_accuracy(embedder), time.perf_counter() - start)

print(f"{'':22s} {'accuracy':>8s} {'fit (s)':>8s}")
for name, (accuracy, seconds) in results.items():
    print(f"{name:22s} {accuracy:8.3f} {seconds:8.1f}")

# %%
# The pretrained backbone itself was lent, not changed: the classifier built
# on it scores as before.
print(
    f"classifier accuracy after the fits: {classifier.evaluate(images[pretrain], codes, verbose=0)[1]:.2f}"
)

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3), layout="constrained")
names = list(results)
left.barh(names, [results[name][0] for name in names])
left.set_xlabel("46-way 5-shot accuracy")
right.barh(names, [results[name][1] for name in names])
right.set_xlabel("fit (s)")
right.set_yticks([])
plt.show()

# %%
# Pretrained weights carry what the backbone learnt about strokes over to
# the new alphabets; redrawn, the same network learns from 230 drawings
# alone. Frozen, the backbone's features are computed once, so each epoch
# trains only the small projection.
