import numpy as np
import pytest
import tensorflow as tf

from sksiamese import _sampling as sampling
from sksiamese._sampling import (
    ClassBalancedSampler,
    PairSampler,
    batch_layout,
    check_positive_pairs,
    row_reader,
)


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
        assert np.array_equal(
            codes.reshape(3, 4)[:, 0] == codes[0], batch_labels[:, 0] == batch_labels[0, 0]
        )
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
    batches = list(sampler.dataset(row_reader(rows), seed=1, n_batches=3))
    assert len(batches) == 3
    for step, (batch_rows, codes) in enumerate(batches):
        indices, expected_codes = draw(sampler, 1, step)
        np.testing.assert_array_equal(batch_rows.numpy(), rows[indices])
        np.testing.assert_array_equal(codes.numpy(), expected_codes)


def test_pair_batches_cover_every_pair_once_per_epoch():
    n_pairs = 10
    # Pair i is rows 2i and 2i + 1, holding the values 2i and 2i + 1.
    data = row_reader(np.arange(2 * n_pairs, dtype=np.float32)[:, None])
    same = np.arange(n_pairs) % 2
    sampler = PairSampler(same, batch_size=8)
    assert sampler.pairs_per_batch == 4 and sampler.steps_per_epoch == 3
    batches = list(sampler.dataset(data, seed=0, n_batches=6).as_numpy_iterator())
    epochs = [batches[:3], batches[3:]]
    orders = []
    for epoch in epochs:
        firsts = []
        for rows, labels in epoch:
            assert len(rows) == 8
            left, right = np.split(rows[:, 0], 2)
            np.testing.assert_array_equal(right, left + 1)
            pair_ids = (left / 2).astype(int)
            np.testing.assert_array_equal(labels, same[pair_ids])
            firsts.extend(pair_ids)
        # Every pair once; the last batch is filled up from the epoch's start.
        assert sorted(firsts[:n_pairs]) == list(range(n_pairs))
        assert firsts[n_pairs:] == firsts[:2]
        orders.append(firsts)
    # A new order each epoch, and the same stream for the same seed.
    assert orders[0] != orders[1]
    again = list(sampler.dataset(data, seed=0, n_batches=3).as_numpy_iterator())
    np.testing.assert_array_equal(again[0][0], batches[0][0])
    other = list(sampler.dataset(data, seed=1, n_batches=1).as_numpy_iterator())
    assert not np.array_equal(other[0][0], batches[0][0])


def test_pair_index_maps_labels_to_pairs_of_the_rows():
    data = row_reader(np.arange(20, dtype=np.float32)[:, None])
    index = np.array([7, 2, 9])
    sampler = PairSampler(np.array([1, 0, 1]), batch_size=6, index=index)
    ((rows, labels),) = sampler.dataset(data, seed=0, n_batches=1).as_numpy_iterator()
    left = rows[:3, 0].astype(int)
    assert sorted(left // 2) == [2, 7, 9]
    np.testing.assert_array_equal(labels, np.where(left // 2 == 2, 0, 1))


def test_large_classes_are_drawn_without_a_table_of_members():
    # One class of a million rows: drawing must not scale with class size.
    labels = np.zeros(1_000_002, dtype=np.int64)
    labels[-2:] = 1
    sampler = ClassBalancedSampler(labels, batch_size=8, samples_per_class=4)
    for step in range(20):
        indices, codes = draw(sampler, 0, step)
        big = indices[codes == 0]
        assert len(set(big)) == len(big) == 4 and big.max() < 1_000_000
    # The cost, without a clock: in the traced draw, the one tensor as large
    # as the class is the lookup table it gathers from; every computed
    # tensor has at most one entry per class or per batch row.
    graph = tf.function(sampler.sample).get_concrete_function(tf.TensorSpec([2], tf.int64)).graph
    sizes = {
        tensor.name: tensor.shape.num_elements()
        for operation in graph.get_operations()
        if operation.type != "Placeholder"
        for tensor in operation.outputs
    }
    assert all(size is not None and size <= 8 for size in sizes.values()), sizes


@pytest.mark.slow
def test_class_members_are_drawn_uniformly():
    # 6 members, K = 2: each of the 15 pairs of members about equally often.
    labels = np.repeat([0, 1], 6)
    sampler = ClassBalancedSampler(labels, batch_size=4, samples_per_class=2)
    counts = {}
    for step in range(1500):
        indices, codes = draw(sampler, 0, step)
        pair = tuple(sorted(indices[codes == 0]))
        counts[pair] = counts.get(pair, 0) + 1
    assert len(counts) == 15
    assert min(counts.values()) > 60 and max(counts.values()) < 140


def test_index_maps_samples_to_rows():
    labels = np.array([0, 0, 1, 1])
    index = np.array([10, 11, 20, 21])
    sampler = ClassBalancedSampler(labels, batch_size=4, samples_per_class=2, index=index)
    indices, codes = draw(sampler, 0, 0)
    np.testing.assert_array_equal(np.sort(indices), index)
    np.testing.assert_array_equal(indices // 10 - 1, codes)


class _Pipeline:
    """Stands in for tf.distribute.InputContext."""

    def __init__(self, pipeline, pipelines):
        self.input_pipeline_id, self.num_input_pipelines = pipeline, pipelines


def test_replicas_draw_whole_batches_of_their_own():
    labels = np.repeat(np.arange(16), 8)
    rows = np.arange(len(labels), dtype=np.float32)[:, None]
    sampler = ClassBalancedSampler(labels, batch_size=32, samples_per_class=4, n_replicas=4)
    # Global batch 32: four replicas of 2 classes x 4 rows.
    assert (sampler.classes_per_batch, sampler.samples_per_class) == (2, 4)
    assert sampler.steps_per_epoch == 4
    single = [b for b, _ in sampler.dataset(row_reader(rows), seed=3, n_batches=2)]
    # Two input pipelines of two replicas each (two workers) share the stream.
    per_pipeline = [
        [
            b
            for b, _ in sampler.dataset(
                row_reader(rows), 3, n_batches=2, input_context=_Pipeline(i, 2)
            )
        ]
        for i in range(2)
    ]
    assert len(single) == 8 and all(len(p) == 4 for p in per_pipeline)
    for step in range(2):
        for replica in range(4):
            expected = single[step * 4 + replica].numpy()
            got = per_pipeline[replica // 2][step * 2 + replica % 2].numpy()
            np.testing.assert_array_equal(got, expected)
            batch_labels = labels[expected[:, 0].astype(int)].reshape(2, 4)
            assert all(len(set(group)) == 1 for group in batch_labels)
    # The replicas of one step draw different batches.
    assert not np.array_equal(single[0].numpy(), single[1].numpy())


def test_pair_replicas_take_disjoint_parts_of_the_epoch():
    n_pairs = 16
    data = row_reader(np.arange(2 * n_pairs, dtype=np.float32)[:, None])
    sampler = PairSampler(np.arange(n_pairs) % 2, batch_size=16, n_replicas=2)
    assert sampler.pairs_per_batch == 4 and sampler.steps_per_epoch == 2
    batches = list(sampler.dataset(data, seed=0, n_batches=2).as_numpy_iterator())
    firsts = [pair for rows, _ in batches for pair in (rows[:4, 0] / 2).astype(int)]
    assert sorted(firsts) == list(range(n_pairs))


def test_disk_reader_gives_the_rows_in_memory(tmp_path):
    rows = np.random.default_rng(0).standard_normal((50, 2, 3)).astype(np.float64)
    np.save(tmp_path / "rows.npy", rows)
    on_disk = np.load(tmp_path / "rows.npy", mmap_mode="r")
    indices = tf.constant([4, 0, 49, 4])
    np.testing.assert_array_equal(
        row_reader(on_disk)(indices).numpy(), row_reader(rows.astype(np.float32))(indices).numpy()
    )


def test_small_and_large_in_memory_rows_read_alike(monkeypatch):
    # Small arrays are gathered from a tensor copy, larger ones by NumPy from
    # the caller's array; both must hand the sampler the same rows.
    rows = np.random.default_rng(0).normal(size=(50, 3, 2)).astype(np.float32)
    indices = tf.constant([4, 0, 49, 4])
    from_tensor = row_reader(rows)(indices).numpy()
    monkeypatch.setattr(sampling, "_TENSOR_ROWS_LIMIT", rows.nbytes - 1)
    from_numpy = sampling.row_reader(rows)
    np.testing.assert_array_equal(from_numpy(indices).numpy(), from_tensor)
    np.testing.assert_array_equal(from_tensor, rows[[4, 0, 49, 4]])
    # Only the NumPy reader sees later changes to the caller's array: it is not a copy.
    rows[0] = 7.0
    assert from_numpy(indices).numpy()[1].max() == 7.0


@pytest.mark.parametrize("held_out", [False, True])
def test_labels_without_a_positive_pair_are_refused(held_out):
    check_positive_pairs(np.array([0, 1, 1, 2]), held_out=held_out)
    match = "single training row" + (" once validation_fraction is held out" if held_out else "")
    with pytest.raises(ValueError, match=match):
        check_positive_pairs(np.array(["a", "b", "c"]), held_out=held_out)


@pytest.mark.parametrize(
    "mirrored_classes, seed, n_batches", [(False, 2, 30), (True, 3, 60)], ids=["turned", "mirrored"]
)
def test_rotated_classes_are_drawn_as_classes_of_their_own(mirrored_classes, seed, n_batches):
    labels = np.repeat(np.arange(3), 5)
    # Images with no symmetry, so every quarter turn and mirror gives another image.
    rows = np.arange(15 * 9, dtype=np.float32).reshape(15, 3, 3, 1) ** 2
    sampler = ClassBalancedSampler(
        labels,
        batch_size=8,
        samples_per_class=2,
        rotated_classes=True,
        mirrored_classes=mirrored_classes,
    )
    # The 12 turned classes (24 with mirrors) fill batches of 4 classes at K = 2.
    assert (sampler.classes_per_batch, sampler.samples_per_class) == (4, 2)
    mirrors = 2 if mirrored_classes else 1
    seen = set()
    for step, (batch, codes) in enumerate(
        sampler.dataset(row_reader(rows), seed=seed, n_batches=n_batches)
    ):
        indices, expected_codes = draw(sampler, seed, step)
        codes = codes.numpy()
        np.testing.assert_array_equal(codes, expected_codes)
        # Code c + 3 * (m + 2 * t) (c + 3 * t without mirrors): rows of class
        # c, mirrored if m, then turned t quarter turns.
        np.testing.assert_array_equal(codes % 3, labels[indices])
        variants = codes // 3
        expected = [
            np.rot90(rows[i][:, ::-1] if v % mirrors else rows[i], v // mirrors)
            for i, v in zip(indices, variants)
        ]
        np.testing.assert_array_equal(batch.numpy(), np.stack(expected))
        assert len(set(codes)) == 4
        seen.update(codes)
    assert seen == set(range(12 * mirrors))


def test_mirrored_classes_alone_double_the_classes_of_any_images():
    labels = np.repeat(np.arange(2), 4)
    rows = np.arange(8 * 6, dtype=np.float32).reshape(8, 2, 3, 1)
    sampler = ClassBalancedSampler(labels, batch_size=8, samples_per_class=2, mirrored_classes=True)
    assert (sampler.classes_per_batch, sampler.samples_per_class) == (4, 2)
    batch, codes = next(iter(sampler.dataset(row_reader(rows), seed=0, n_batches=1)))
    indices, _ = draw(sampler, 0, 0)
    codes = codes.numpy()
    assert set(codes) == {0, 1, 2, 3}
    expected = [rows[i][:, ::-1] if c >= 2 else rows[i] for i, c in zip(indices, codes)]
    np.testing.assert_array_equal(batch.numpy(), np.stack(expected))


def test_quarter_turns_turn_each_image_its_own_way():
    rows = np.arange(2 * 4, dtype=np.float32).reshape(2, 2, 2, 1)
    turned = sampling.quarter_turns(tf.constant(rows), tf.constant([1, 2])).numpy()
    np.testing.assert_array_equal(turned[0, ..., 0], [[1, 3], [0, 2]])
    np.testing.assert_array_equal(turned[1, ..., 0], [[7, 6], [5, 4]])
