"""Losses against brute-force references written with plain loops."""

import itertools

import mining_reference
import numpy as np
import pytest
import tensorflow as tf

from sksiamese import losses as losses_module
from sksiamese.losses import (
    DISTANCES,
    MININGS,
    contrastive_loss,
    contrastive_pair_loss,
    paired_distances,
    pairwise_distances,
    triplet_loss,
)


def reference_distances(emb, distance):
    n = len(emb)
    out = np.zeros((n, n))
    for i, j in itertools.product(range(n), range(n)):
        a, b = emb[i], emb[j]
        if distance == "cosine":
            out[i, j] = 1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
        else:
            out[i, j] = np.sum((a - b) ** 2)
            if distance == "euclidean":
                out[i, j] = np.sqrt(out[i, j])
    np.fill_diagonal(out, 0)
    return out


def reference_loss(labels, emb, margin, mining, distance):
    d = reference_distances(emb, distance)
    n = len(labels)
    positives = lambda a: [p for p in range(n) if p != a and labels[p] == labels[a]]  # noqa: E731
    negatives = lambda a: [m for m in range(n) if labels[m] != labels[a]]  # noqa: E731
    if mining == "hard":
        losses = [
            max(max(d[a, p] for p in positives(a)) - min(d[a, m] for m in negatives(a)) + margin, 0)
            for a in range(n)
            if positives(a) and negatives(a)
        ]
        return np.mean(losses)
    if mining == "all":
        losses = [
            d[a, p] - d[a, m] + margin for a in range(n) for p in positives(a) for m in negatives(a)
        ]
        active = [value for value in losses if value > 0]
        return np.mean(active) if active else 0.0
    losses = []
    for a in range(n):
        if not negatives(a):
            continue
        for p in positives(a):
            farther = [d[a, m] for m in negatives(a) if d[a, m] > d[a, p]]
            chosen = min(farther) if farther else max(d[a, m] for m in negatives(a))
            losses.append(max(d[a, p] - chosen + margin, 0))
    return np.mean(losses)


def reference_contrastive(labels, emb, margin, mining, distance):
    d = reference_distances(emb, distance)
    n = len(labels)
    positives = lambda a: [p for p in range(n) if p != a and labels[p] == labels[a]]  # noqa: E731
    negatives = lambda a: [m for m in range(n) if labels[m] != labels[a]]  # noqa: E731
    pull = lambda value: value**2  # noqa: E731
    push = lambda value: max(margin - value, 0) ** 2  # noqa: E731
    if mining == "all":
        pulls = [pull(d[a, p]) for a in range(n) for p in positives(a)]
        pushes = [push(d[a, m]) for a in range(n) for m in negatives(a)]
        active = [value for value in pushes if value > 0]
        return np.mean(pulls) + (np.mean(active) if active else 0.0)
    if mining == "hard":
        return np.mean(
            [
                pull(max(d[a, p] for p in positives(a))) + push(min(d[a, m] for m in negatives(a)))
                for a in range(n)
                if positives(a) and negatives(a)
            ]
        )
    losses = []
    for a in range(n):
        if not negatives(a):
            continue
        for p in positives(a):
            farther = [d[a, m] for m in negatives(a) if d[a, m] > d[a, p]]
            chosen = min(farther) if farther else max(d[a, m] for m in negatives(a))
            losses.append(pull(d[a, p]) + push(chosen))
    return np.mean(losses)


@pytest.mark.parametrize("distance", DISTANCES)
def test_pairwise_distances_match_reference(distance):
    emb = np.random.default_rng(0).normal(size=(7, 3))
    got = pairwise_distances(tf.constant(emb), distance).numpy()
    np.testing.assert_allclose(got, reference_distances(emb, distance), atol=1e-10)


@pytest.mark.parametrize("mining", MININGS)
@pytest.mark.parametrize("distance", DISTANCES)
def test_triplet_loss_matches_reference(mining, distance):
    rng = np.random.default_rng(1)
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3])
    emb = rng.normal(size=(len(labels), 4))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    margin = 0.3
    got = triplet_loss(
        tf.constant(labels), tf.constant(emb), margin=margin, mining=mining, distance=distance
    )
    expected = reference_loss(labels, emb, margin, mining, distance)
    assert expected > 0
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9)


@pytest.mark.parametrize("mining", MININGS)
@pytest.mark.parametrize("distance", DISTANCES)
def test_gradient_is_finite_when_rows_coincide(mining, distance):
    # Duplicated rows have distance 0, where a naive sqrt has an infinite gradient.
    emb = tf.Variable([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    labels = tf.constant([0, 0, 1, 0])
    with tf.GradientTape() as tape:
        loss = triplet_loss(labels, emb, margin=0.5, mining=mining, distance=distance)
    grad = tape.gradient(loss, emb).numpy()
    assert np.isfinite(loss.numpy()) and loss.numpy() > 0
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)


@pytest.mark.parametrize("mining", MININGS)
def test_well_separated_classes_give_zero_loss(mining):
    emb = tf.constant([[1.0, 0.0], [0.99, 0.01], [-1.0, 0.0], [-0.99, -0.01]])
    loss = triplet_loss(tf.constant([0, 0, 1, 1]), emb, margin=0.5, mining=mining)
    assert loss.numpy() == 0.0


def test_batch_without_triplets_gives_zero_loss():
    emb = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    for mining in MININGS:
        loss = triplet_loss(tf.constant([0, 1]), emb, margin=0.5, mining=mining)
        assert loss.numpy() == 0.0


def test_unknown_options_are_rejected():
    emb = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="mining"):
        triplet_loss(tf.constant([0, 1]), emb, margin=0.5, mining="easy")
    with pytest.raises(ValueError, match="distance"):
        pairwise_distances(emb, "manhattan")


@pytest.mark.parametrize("mining", MININGS)
@pytest.mark.parametrize("distance", DISTANCES)
def test_contrastive_loss_matches_reference(mining, distance):
    rng = np.random.default_rng(2)
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3])
    emb = rng.normal(size=(len(labels), 4))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    margin = 1.2
    got = contrastive_loss(
        tf.constant(labels), tf.constant(emb), margin=margin, mining=mining, distance=distance
    )
    expected = reference_contrastive(labels, emb, margin, mining, distance)
    assert expected > 0
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9)


@pytest.mark.parametrize("distance", DISTANCES)
def test_paired_distances_match_the_matrix(distance):
    rng = np.random.default_rng(3)
    left, right = rng.normal(size=(2, 5, 3))
    full = reference_distances(np.vstack([left, right]), distance)
    got = paired_distances(tf.constant(left), tf.constant(right), distance).numpy()
    np.testing.assert_allclose(got, np.diag(full[:5, 5:]), atol=1e-10)


@pytest.mark.parametrize("distance", DISTANCES)
def test_contrastive_pair_loss_matches_definition(distance):
    rng = np.random.default_rng(4)
    left, right = rng.normal(size=(2, 6, 3))
    same = np.array([1, 0, 1, 0, 0, 1])
    d = np.diag(reference_distances(np.vstack([left, right]), distance)[:6, 6:])
    margin = 1.5
    expected = np.mean(np.where(same == 1, d**2, np.maximum(margin - d, 0) ** 2))
    got = contrastive_pair_loss(
        tf.constant(same), tf.constant(np.vstack([left, right])), margin=margin, distance=distance
    )
    assert expected > 0
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9)


def test_contrastive_losses_have_finite_gradients_at_zero_distance():
    emb = tf.Variable([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    for loss in (
        lambda: contrastive_loss(tf.constant([0, 0, 1, 1]), emb, margin=0.5, mining="all"),
        lambda: contrastive_pair_loss(tf.constant([1, 0]), emb, margin=0.5),
    ):
        with tf.GradientTape() as tape:
            value = loss()
        grad = tape.gradient(value, emb).numpy()
        assert value.numpy() > 0 and np.all(np.isfinite(grad)) and np.any(grad != 0)


def test_contrastive_pair_loss_is_zero_for_matched_and_far_pairs():
    emb = tf.constant([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
    # Pair 0: identical and same; pair 1: distance 2 > margin and different.
    assert contrastive_pair_loss(tf.constant([1, 0]), emb, margin=1.0).numpy() == 0.0


# Semi-hard and batch-all mining against the O(B**3) definitions -------------

_CUBIC_MININGS = [
    (triplet_loss, mining_reference.triplet_loss, "semi-hard"),
    (triplet_loss, mining_reference.triplet_loss, "all"),
    (contrastive_loss, mining_reference.contrastive_loss, "semi-hard"),
]


def _batch(layout, tied, size, dtype, seed):
    """Labels and embeddings of one batch: P x K or few classes, rows tied or not."""
    rng = np.random.default_rng(seed)
    if layout == "p_by_k":  # 4 rows per class: mined by comparing
        labels = np.repeat(np.arange(size // 4), 4)
    else:  # 2 or 3 classes: many positives per anchor, mined by sorting
        labels = rng.integers(0, 2 + seed % 2, size)
    if tied:
        # Rows on a small integer grid and repeated: many exact duplicates
        # and equal distances, across classes and within them.
        grid = np.round(rng.normal(size=(max(2, size // 3), 2)))
        embeddings = grid[rng.integers(0, len(grid), size)]
    else:
        embeddings = rng.normal(size=(size, 8))
    return tf.constant(rng.permutation(labels)), tf.Variable(embeddings.astype(dtype))


def _loss_and_gradient(loss, labels, embeddings, **kwargs):
    with tf.GradientTape() as tape:
        value = loss(labels, embeddings, **kwargs)
    return value.numpy(), tape.gradient(value, embeddings).numpy()


@pytest.mark.parametrize("loss, reference, mining", _CUBIC_MININGS)
@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("layout", ["p_by_k", "few_classes"])
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("size, dtype", [(8, np.float64), (64, np.float64), (256, np.float32)])
def test_mining_equals_brute_force_definition(
    loss, reference, mining, distance, layout, tied, size, dtype
):
    labels, embeddings = _batch(layout, tied, size, dtype, seed=size)
    kwargs = {"margin": 0.3, "mining": mining, "distance": distance}
    got, got_gradient = _loss_and_gradient(loss, labels, embeddings, **kwargs)
    expected, expected_gradient = _loss_and_gradient(reference, labels, embeddings, **kwargs)
    assert expected > 0 and np.abs(expected_gradient).max() > 0
    tolerance = 1e-10 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(got, expected, rtol=tolerance)
    np.testing.assert_allclose(got_gradient, expected_gradient, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("loss, mining", [(loss, mining) for loss, _, mining in _CUBIC_MININGS])
@pytest.mark.parametrize("tied", [False, True])
def test_comparing_and_sorting_mine_the_same(monkeypatch, loss, mining, tied):
    # A P x K batch is mined by comparing; forbidding that forces the sorting
    # path on the very same batch, in graph mode as training runs it.
    labels, embeddings = _batch("p_by_k", tied, 48, np.float64, seed=5)

    def mined():
        step = tf.function(lambda: _gradient_of(loss, labels, embeddings, mining))
        return [value.numpy() for value in step()]

    compared = mined()
    monkeypatch.setattr(losses_module, "_COMPARED_POSITIVES", 0)
    by_sorting = mined()
    assert compared[0] > 0
    for a, b in zip(compared, by_sorting):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _gradient_of(loss, labels, embeddings, mining):
    with tf.GradientTape() as tape:
        value = loss(labels, embeddings, margin=0.3, mining=mining)
    return value, tape.gradient(value, embeddings)


@pytest.mark.parametrize("mining", ["semi-hard", "all"])
def test_large_batches_mine_in_quadratic_memory(mining):
    # The (B, B, B) comparison of the definitions would need 8 GiB of booleans
    # alone at B = 2048; sorting needs a few (B, B) matrices.
    labels = tf.constant(np.repeat(np.arange(64), 32))
    embeddings = tf.math.l2_normalize(
        tf.constant(np.random.default_rng(6).normal(size=(2048, 16)), tf.float32), axis=1
    )
    value = triplet_loss(labels, embeddings, margin=0.2, mining=mining)
    assert np.isfinite(value.numpy()) and value.numpy() > 0


def test_every_distance_has_tensorflow_and_numpy_implementations_that_agree():
    assert set(losses_module._TENSOR_DISTANCES) == set(DISTANCES)
    rng = np.random.default_rng(0)
    left, right = rng.normal(size=(2, 7, 5))
    for name, distance in DISTANCES.items():
        expected = paired_distances(tf.constant(left), tf.constant(right), name).numpy()
        np.testing.assert_allclose(distance.paired(left, right), expected, rtol=1e-10)


@pytest.mark.parametrize(
    "loss, mining, distance, match",
    [
        ("quadruplet", "hard", "euclidean", "loss must be one of .*'triplet'"),
        ("triplet", "easy", "euclidean", "mining must be one of .*'semi-hard'"),
        ("triplet", "hard", "manhattan", "distance must be one of .*'cosine'"),
    ],
)
def test_batch_loss_names_what_it_does_not_know(loss, mining, distance, match):
    with pytest.raises(ValueError, match=match):
        losses_module.batch_loss(loss, margin=0.5, mining=mining, distance=distance)


def test_batch_loss_applies_the_named_loss_miner_and_distance():
    labels = tf.constant([0, 0, 1, 1, 2, 2])
    embeddings = tf.constant(np.random.default_rng(0).normal(size=(6, 3)), tf.float32)
    loss = losses_module.batch_loss("contrastive", margin=0.7, mining="all", distance="cosine")
    expected = contrastive_loss(labels, embeddings, margin=0.7, mining="all", distance="cosine")
    assert float(loss(labels, embeddings)) == float(expected)

    def custom(labels, embeddings):
        return tf.reduce_sum(embeddings)

    assert losses_module.batch_loss(custom, margin=0.7, mining="all", distance="cosine") is custom


@pytest.mark.parametrize("mining", ["semi-hard", "all"])
@pytest.mark.parametrize("hint", [3, 100])
def test_known_positives_per_anchor_pick_the_way_when_traced(mining, hint):
    # A hint of 3 traces only the comparing way, 100 only the sorting way;
    # both mine exactly, so the loss and gradient equal those of no hint.
    labels, embeddings = _batch("p_by_k", True, 48, np.float64, seed=7)

    def traced(positives_per_anchor):
        loss = losses_module.batch_loss(
            "triplet",
            margin=0.3,
            mining=mining,
            distance="euclidean",
            positives_per_anchor=positives_per_anchor,
        )

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                value = loss(labels, embeddings)
            return value, tape.gradient(value, embeddings)

        graph = step.get_concrete_function().graph
        ops = {op.type for op in graph.get_operations()}
        return [value.numpy() for value in step()], ops

    hinted, ops = traced(hint)
    unhinted, all_ops = traced(None)
    assert "If" not in ops and "StatelessIf" not in ops
    assert ("UpperBound" in ops or "LowerBound" in ops) == (hint == 100)
    assert "StatelessIf" in all_ops or "If" in all_ops
    for a, b in zip(hinted, unhinted):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
