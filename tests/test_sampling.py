import numpy as np
import pytest
import tensorflow as tf

from sksiamese._sampling import ClassBalancedSampler, PairSampler, batch_layout


@pytest.mark.parametrize(
    "n_classes, batch_size, k, expected",
    [(100, 128, 4, (32, 4)), (7, 128, 4, (7, 18)), (3, 8, 4, (2, 4)), (2, 2, 2, (1, 2))],
)
def test_batch_layout(n_classes, batch_size, k, expected):
    assert batch_layout(n_classes, batch_size, k) == expected


def draw(sampler, seed, step):
    indices, codes = sampler.sample(tf.constant([seed, step], tf.int64))
    return indices.numpy(), codes.numpy()


def test_batches_hold_p_classes_of_k_distinct_rows():
    labels = np.repeat(np.array(["a", "b", "c", "d", "e", "f"]), 10)
    sampler = ClassBalancedSampler(labels, batch_size=12, samples_per_class=4)
    seen_classes = set()
    for step in range(50):
        indices, codes = draw(sampler, 0, step)
        assert len(indices) == 12
        batch_labels = labels[indices].reshape(3, 4)
        # Each group of K rows is one class, three distinct classes a batch.
        assert all(len(set(group)) == 1 for group in batch_labels)
        assert len({group[0] for group in batch_labels}) == 3
        assert all(len(set(group)) == 4 for group in indices.reshape(3, 4))
        assert np.array_equal(codes.reshape(3, 4)[:, 0] == codes[0], batch_labels[:, 0] == batch_labels[0, 0])
        seen_classes.update(batch_labels[:, 0])
    assert seen_classes == set(labels)


def test_small_classes_are_drawn_with_replacement():
    labels = np.array([0, 1, 1, 1, 1, 1, 2, 2])
    sampler = ClassBalancedSampler(labels, batch_size=12, samples_per_class=4)
    indices, _ = draw(sampler, 3, 0)
    groups = labels[indices].reshape(3, 4)
    assert sorted(group[0] for group in groups) == [0, 1, 2]
    by_class = {group[0]: rows for group, rows in zip(groups, indices.reshape(3, 4))}
    assert set(by_class[0]) == {0}
    assert set(by_class[2]) == {6, 7}


def test_stream_is_reproducible_and_varies_by_step():
    labels = np.repeat(np.arange(20), 5)
    sampler = ClassBalancedSampler(labels, batch_size=16, samples_per_class=4)
    assert np.array_equal(draw(sampler, 7, 3)[0], draw(sampler, 7, 3)[0])
    assert not np.array_equal(draw(sampler, 7, 3)[0], draw(sampler, 7, 4)[0])
    assert not np.array_equal(draw(sampler, 7, 3)[0], draw(sampler, 8, 3)[0])


def test_dataset_gathers_the_sampled_rows():
    labels = np.repeat(np.arange(5), 6)
    rows = np.arange(30, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    sampler = ClassBalancedSampler(labels, batch_size=8, samples_per_class=2)
    batches = list(sampler.dataset(tf.constant(rows), seed=1, n_batches=3))
    assert len(batches) == 3
    for step, (batch_rows, codes) in enumerate(batches):
        indices, expected_codes = draw(sampler, 1, step)
        np.testing.assert_array_equal(batch_rows.numpy(), rows[indices])
        np.testing.assert_array_equal(codes.numpy(), expected_codes)


def test_pair_batches_cover_every_pair_once_per_epoch():
    n_pairs = 10
    # Pair i is rows 2i and 2i + 1, holding the values 2i and 2i + 1.
    data = tf.constant(np.arange(2 * n_pairs, dtype=np.float32)[:, None])
    same = np.arange(n_pairs) % 2
    sampler = PairSampler(same, batch_size=8)
    assert sampler.pairs_per_batch == 4 and sampler.steps_per_epoch == 3
    batches = list(sampler.dataset(data, seed=0, n_batches=6).as_numpy_iterator())
    epochs = [batches[:3], batches[3:]]
    orders = []
    for epoch in epochs:
        firsts = []
        for rows, labels in epoch:
            left, right = np.split(rows[:, 0], 2)
            np.testing.assert_array_equal(right, left + 1)
            pair_ids = (left / 2).astype(int)
            np.testing.assert_array_equal(labels, same[pair_ids])
            firsts.extend(pair_ids)
        assert sorted(firsts) == list(range(n_pairs))
        orders.append(firsts)
    assert [len(rows) for rows, _ in epochs[0]] == [8, 8, 4]
    # A new order each epoch, and the same stream for the same seed.
    assert orders[0] != orders[1]
    again = list(sampler.dataset(data, seed=0, n_batches=3).as_numpy_iterator())
    np.testing.assert_array_equal(again[0][0], batches[0][0])
    other = list(sampler.dataset(data, seed=1, n_batches=1).as_numpy_iterator())
    assert not np.array_equal(other[0][0], batches[0][0])
