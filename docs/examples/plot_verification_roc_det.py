"""
===================================
Verifying pairs: ROC and DET curves
===================================

Verification answers a yes-or-no question about a pair: do these two
images show the same thing? Face unlock, signature checks and duplicate
detection are verification tasks. :class:`~sksiamese.SiameseVerifier` is a
scikit-learn classifier of pairs: it embeds both rows of a pair with one
encoder, and predicts "same" when their distance is below a threshold it
calibrates on labelled pairs.

This example compares three verifiers on pairs of handwritten digits:

* the classic Siamese pair model, trained on the pairs themselves with the
  contrastive loss;
* a triplet embedder trained on the digit classes, frozen, with only the
  threshold calibrated on the pairs;
* the Euclidean distance of the raw pixels, with a calibrated threshold.

scikit-learn's :class:`~sklearn.metrics.RocCurveDisplay` and
:class:`~sklearn.metrics.DetCurveDisplay` draw their curves, and
:mod:`sksiamese.metrics` adds the equal error rate and the true accept rate
at a fixed false accept rate.
"""

# Authors: The sksiamese developers
# License: BSD-3-Clause

# %%
# Pairs of digits
# ---------------
#
# Training uses the digits 0 to 6 only; 7, 8 and 9 are kept for the end. The
# images of 0-6 are split into training and test images, and
# :func:`~sksiamese.datasets.make_pairs` draws pairs from each part, half of
# them of the same digit. Pairs have shape ``(n_pairs, 2, n_features)``.
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sksiamese.datasets import make_pairs

X, y = load_digits(return_X_y=True)
X = X / 16.0
seen = y < 7
X_train, X_test, y_train, y_test = train_test_split(
    X[seen], y[seen], test_size=0.3, stratify=y[seen], random_state=0
)
train_pairs, train_same = make_pairs(X_train, y_train, n_pairs=3000, random_state=0)
test_pairs, test_same = make_pairs(X_test, y_test, n_pairs=2000, random_state=1)
print(f"training pairs: {train_pairs.shape}, test pairs: {test_pairs.shape}")

# %%
# Three verifiers
# ---------------
#
# With an unfitted ``SiameseEmbedder(loss="contrastive")``,
# ``SiameseVerifier`` trains a clone of it on 80% of the pairs with
# :meth:`~sksiamese.SiameseEmbedder.fit_pairs` and calibrates the
# threshold on the other 20%. A fitted transformer wrapped in
# :class:`~sklearn.frozen.FrozenEstimator` is left as it is: all the pairs
# calibrate the threshold. The identity
# :class:`~sklearn.preprocessing.FunctionTransformer` makes the raw pixels
# such a transformer. By default the threshold maximises the accuracy on the
# calibration pairs.
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import FunctionTransformer

from sksiamese import SiameseEmbedder, SiameseVerifier

pair_model = SiameseVerifier(
    SiameseEmbedder(loss="contrastive", n_components=16, epochs=20, random_state=0, verbose=0),
    random_state=0,
)
pair_model.fit(train_pairs, train_same)

triplet_embedder = SiameseEmbedder(n_components=16, epochs=20, random_state=0, verbose=0)
triplet_embedder.fit(X_train, y_train)
triplet_model = SiameseVerifier(FrozenEstimator(triplet_embedder)).fit(train_pairs, train_same)

raw_pixels = SiameseVerifier(FrozenEstimator(FunctionTransformer().fit(X))).fit(
    train_pairs, train_same
)

verifiers = {
    "pair model (contrastive)": pair_model,
    "triplet embedder (frozen)": triplet_model,
    "raw pixels": raw_pixels,
}

# %%
# ROC and DET curves
# ------------------
#
# Both curves sweep the threshold over all values of ``decision_function``,
# minus the distance of each pair. The ROC curve plots the true accept rate
# against the false accept rate; the DET curve plots false rejects against
# false accepts on normal-deviate scales, which spreads out the low error
# rates that matter in practice. Lower left is better on a DET curve.
from sklearn.metrics import DetCurveDisplay, RocCurveDisplay

fig, (ax_roc, ax_det) = plt.subplots(1, 2, figsize=(10, 4.8), layout="constrained")
for name, verifier in verifiers.items():
    RocCurveDisplay.from_estimator(
        verifier, test_pairs, test_same, response_method="decision_function", name=name, ax=ax_roc
    )
    DetCurveDisplay.from_estimator(
        verifier, test_pairs, test_same, response_method="decision_function", name=name, ax=ax_det
    )
ax_roc.plot([0, 1], [0, 1], color="gray", linestyle=":", label="chance")
ax_roc.set(
    xlabel="false accept rate (FPR)",
    ylabel="true accept rate (TPR)",
    title="ROC curves, test pairs of digits 0-6",
)
ax_roc.legend(loc="lower right")
ax_det.set(
    xlabel="false accept rate (FPR)",
    ylabel="false reject rate (FNR)",
    title="DET curves, test pairs of digits 0-6",
)
ax_det.legend(loc="upper right")
plt.show()

# %%
# Scores at a glance
# ------------------
#
# The ROC AUC summarises the whole curve. The equal error rate (EER) is
# where false accepts and false rejects are equally frequent, and the true
# accept rate at a false accept rate of 1% is what a strict application
# would get. The accuracy is that of ``predict``, at the threshold each
# verifier calibrated on the training pairs (the pair model on the 20% of
# them it held out of its training).
from sklearn.metrics import roc_auc_score

from sksiamese.metrics import equal_error_rate, tar_at_far


def verification_report(verifiers, pairs, same):
    """Print ROC AUC, EER, TAR at 1% FAR and accuracy of each verifier."""
    print(f"{'':27s} {'ROC AUC':>8s} {'EER':>6s} {'TAR@FAR=1%':>11s} {'accuracy':>9s}")
    for name, verifier in verifiers.items():
        scores = verifier.decision_function(pairs)
        print(
            f"{name:27s} {roc_auc_score(same, scores):8.3f} "
            f"{equal_error_rate(same, scores):6.3f} "
            f"{tar_at_far(same, scores, far=0.01):11.3f} "
            f"{verifier.score(pairs, same):9.3f}"
        )


verification_report(verifiers, test_pairs, test_same)

# %%
# On new images of the digits they were trained on, both learned verifiers
# separate same-digit from different-digit pairs far better than the raw
# pixels do.
#
# Pairs of digits never seen
# --------------------------
#
# Verification is often meant for classes absent from training: new faces,
# new signatures. Here are the same three verifiers on pairs of the digits
# 7, 8 and 9, which none of them saw in training (their thresholds are
# still those calibrated on pairs of 0-6).
X_new, y_new = X[~seen], y[~seen]
new_pairs, new_same = make_pairs(X_new, y_new, n_pairs=2000, random_state=2)
verification_report(verifiers, new_pairs, new_same)

# %%
# On the digits, the raw pixels win this test. Seven training classes of
# 8x8 images are too few for a learned distance to carry over: the
# embeddings separate the digits 0-6 and map 7, 8 and 9 onto or between
# their groups (see :ref:`sphx_glr_auto_examples_plot_contrastive_pairs.py`).
# With many training classes the picture turns. On Omniglot, with CNN
# encoders trained on three alphabets of the ``background_small1`` subset
# and pairs of characters from two other alphabets, the project's benchmark
# (``benchmarks/run.py``, reference run on 2 CPU cores) measures a ROC AUC
# of |verify_omniglot_pair_auc| for the pair model and
# |verify_omniglot_triplet_auc| for the frozen triplet embedder, against
# |verify_omniglot_raw_auc| for the raw pixels.
