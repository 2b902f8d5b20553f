"""Pair and triplet samplers, the bundled Omniglot characters, and the Omniglot
reader and fetcher on a small zip built in the published layout (no network
access)."""

import dataclasses
import hashlib
import io
import re
import urllib.request
import zipfile

import numpy as np
import pytest
import tensorflow as tf
from sklearn.model_selection import LeaveOneGroupOut

from sksiamese import datasets
from sksiamese.datasets import (
    fetch_omniglot,
    load_omniglot,
    load_omniglot_zip,
    make_pairs,
    make_triplets,
)
from sksiamese.metrics import few_shot_accuracy


def png(pixels):
    return tf.io.encode_png(tf.constant(pixels[:, :, None], tf.uint8)).numpy()


@pytest.fixture
def omniglot_zip(tmp_path):
    path = tmp_path / "images_background_small1.zip"
    paper = np.full((105, 105), 255, np.uint8)
    inked = paper.copy()
    inked[:, :53] = 0  # left half black ink
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("images_background_small1/", "")
        for alphabet, characters in {"Greek": 2, "Latin": 1}.items():
            for c in range(1, characters + 1):
                for drawer in (1, 2, 3):
                    name = f"images_background_small1/{alphabet}/character{c:02d}/{c:02d}{drawer}_{drawer:02d}.png"
                    archive.writestr(name, png(inked if drawer == 1 else paper))
        archive.writestr("images_background_small1/README.txt", "not an image")
    return path


def test_reads_images_labels_and_alphabets(omniglot_zip):
    data = load_omniglot_zip(omniglot_zip, image_size=14)
    assert data.images.shape == (9, 14, 14, 1) and data.images.dtype == np.float32
    assert list(data.target_names) == [
        "Greek/character01",
        "Greek/character02",
        "Latin/character01",
    ]
    assert np.bincount(data.target).tolist() == [3, 3, 3]
    assert sorted(set(data.alphabet)) == ["Greek", "Latin"]
    assert sorted(set(data.drawer)) == [1, 2, 3]
    inked = data.images[data.drawer == 1]
    # Ink becomes 1, paper 0; the left half is inked.
    assert np.allclose(inked[:, :, :7], 1.0) and np.allclose(inked[:, :, 8:], 0.0)
    assert np.allclose(data.images[data.drawer != 1], 0.0)


def test_rejects_a_zip_without_omniglot_images(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match="no <root>/<alphabet>"):
        load_omniglot_zip(path)


# make_pairs / make_triplets ---------------------------------------------------


def labelled_rows(n_per_class=(5, 4, 3), shape=(3,)):
    """Rows whose first value is their index, so rows can be traced back."""
    y = np.repeat(np.arange(len(n_per_class)), n_per_class)
    X = np.zeros((len(y), *shape), np.float32)
    X.reshape(len(y), -1)[:, 0] = np.arange(len(y))
    return X, y


def row_ids(rows):
    """Indices of the rows of ``labelled_rows`` in an array of rows."""
    return rows.reshape(*rows.shape[:2], -1)[:, :, 0].astype(int)


@pytest.mark.parametrize("shape", [(3,), (4, 4, 1)])
def test_make_pairs_shapes_and_dtypes(shape):
    X, y = labelled_rows(shape=shape)
    pairs, same = make_pairs(X, y, n_pairs=50, random_state=0)
    assert pairs.shape == (50, 2, *shape) and pairs.dtype == np.float32
    assert same.shape == (50,) and np.issubdtype(same.dtype, np.integer)
    assert set(np.unique(same)) == {0, 1} and same.sum() == 25
    indices, same_again = make_pairs(X, y, n_pairs=50, return_indices=True, random_state=0)
    assert indices.shape == (50, 2) and np.issubdtype(indices.dtype, np.integer)
    np.testing.assert_array_equal(same, same_again)
    np.testing.assert_array_equal(pairs, X[indices])


def test_make_pairs_defaults_to_one_pair_per_row_and_balance():
    X, y = labelled_rows()
    pairs, same = make_pairs(X, y)
    assert len(pairs) == len(X) == 12 and same.sum() == 6


@pytest.mark.parametrize(
    "n_pairs, fraction", [(101, 0.3), (7, 0.5), (10, 0.0), (10, 1.0), (1, 1.0)]
)
def test_make_pairs_draws_exactly_the_positives_asked_for(n_pairs, fraction):
    X, y = labelled_rows()
    _, same = make_pairs(X, y, n_pairs, positive_fraction=fraction, random_state=0)
    assert same.sum() == round(n_pairs * fraction)


def test_make_pairs_labels_are_right_by_index_and_by_content():
    X, y = labelled_rows()
    indices, same = make_pairs(X, y, 500, return_indices=True, random_state=1)
    pos, neg = indices[same == 1], indices[same == 0]
    assert np.all(y[pos[:, 0]] == y[pos[:, 1]]) and np.all(pos[:, 0] != pos[:, 1])
    assert np.all(y[neg[:, 0]] != y[neg[:, 1]])
    pairs, same = make_pairs(X, y, 500, random_state=2)
    ids = row_ids(pairs)
    np.testing.assert_array_equal(same, (y[ids[:, 0]] == y[ids[:, 1]]).astype(int))
    assert np.all(ids[same == 1, 0] != ids[same == 1, 1])
    # Positives and negatives are shuffled, not in blocks.
    assert np.any(np.diff(same) > 0)


def test_make_pairs_is_reproducible_with_a_seed():
    X, y = labelled_rows()
    first = make_pairs(X, y, 200, return_indices=True, random_state=0)
    again = make_pairs(X, y, 200, return_indices=True, random_state=np.random.RandomState(0))
    other = make_pairs(X, y, 200, return_indices=True, random_state=1)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


def test_make_pairs_takes_string_labels_lists_and_dataframes():
    pd = pytest.importorskip("pandas")
    X = [[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0]]
    y = ["cat", "cat", "dog", "dog"]
    indices, same = make_pairs(X, y, 40, return_indices=True, random_state=0)
    labels = np.array(y)
    np.testing.assert_array_equal(same, labels[indices[:, 0]] == labels[indices[:, 1]])
    pairs, _ = make_pairs(pd.DataFrame(X), pd.Series(y), 40, random_state=0)
    np.testing.assert_array_equal(pairs, np.asarray(X)[indices])


def test_make_pairs_draws_classes_uniformly_on_imbalanced_data():
    X, y = labelled_rows(n_per_class=(100, 10, 10, 10))
    indices, same = make_pairs(X, y, 20_000, return_indices=True, random_state=0)
    positives = np.bincount(y[indices[same == 1, 0]], minlength=4)
    # 10,000 positives, 2,500 expected per class (standard deviation ~43).
    assert np.all(np.abs(positives - 2_500) < 300), positives
    negatives = np.bincount(y[indices[same == 0]].ravel(), minlength=4)
    assert np.all(np.abs(negatives - 5_000) < 400), negatives


def test_make_pairs_skips_classes_with_one_row_for_positives():
    X, y = labelled_rows(n_per_class=(3, 1, 2))
    indices, same = make_pairs(X, y, 300, return_indices=True, random_state=0)
    assert set(y[indices[same == 1, 0]]) == {0, 2}
    assert 1 in y[indices[same == 0]]  # a single-row class still makes negatives


def test_make_pairs_handles_a_million_pairs():
    X, y = labelled_rows(n_per_class=(50,) * 20)
    indices, same = make_pairs(X, y, 1_000_000, return_indices=True, random_state=0)
    assert indices.shape == (1_000_000, 2) and same.sum() == 500_000


@pytest.mark.parametrize(
    "X, y, kwargs, message",
    [
        (np.zeros((4, 2)), [0, 0, 0, 0], {}, "at least 2 classes"),
        (np.zeros((3, 2)), [0, 1, 2], {}, "at least 2 samples"),
        (np.zeros((4, 2)), [0, 0, 1], {}, "same length"),
        (np.zeros((4, 2)), [0, 0, 1, 1], {"n_pairs": 0}, "n_pairs must be"),
        (np.zeros((4, 2)), [0, 0, 1, 1], {"n_pairs": 2.5}, "n_pairs must be"),
        (
            np.zeros((4, 2)),
            [0, 0, 1, 1],
            {"positive_fraction": 1.5},
            r"positive_fraction must .* \[0, 1\]",
        ),
        (np.zeros((4, 2)), [0, 0, 1, 1], {"positive_fraction": -0.1}, "positive_fraction must"),
    ],
)
def test_make_pairs_errors(X, y, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_pairs(X, y, **kwargs)


def test_make_pairs_needs_only_what_is_asked_for():
    # Positives only from one class, negatives only from singleton classes.
    _, same = make_pairs(np.zeros((3, 2)), [0, 0, 0], 5, positive_fraction=1.0)
    assert same.tolist() == [1] * 5
    _, same = make_pairs(np.zeros((3, 2)), [0, 1, 2], 5, positive_fraction=0.0)
    assert same.tolist() == [0] * 5


@pytest.mark.parametrize("shape", [(3,), (4, 4, 1)])
def test_make_triplets_shapes_and_labels(shape):
    X, y = labelled_rows(n_per_class=(5, 1, 3), shape=shape)
    triplets = make_triplets(X, y, 400, random_state=0)
    assert triplets.shape == (400, 3, *shape) and triplets.dtype == np.float32
    ids = row_ids(triplets)
    indices = make_triplets(X, y, 400, return_indices=True, random_state=0)
    assert indices.shape == (400, 3) and np.issubdtype(indices.dtype, np.integer)
    np.testing.assert_array_equal(ids, indices)
    anchor, positive, negative = y[indices].T
    assert np.all(anchor == positive) and np.all(anchor != negative)
    assert np.all(indices[:, 0] != indices[:, 1])
    assert set(anchor) == {0, 2} and 1 in negative


def test_make_triplets_defaults_seeds_and_string_labels():
    X, y = labelled_rows()
    assert len(make_triplets(X, y)) == len(X)
    labels = np.array(["a", "b", "c"])[y]
    first = make_triplets(X, labels.tolist(), 100, return_indices=True, random_state=0)
    np.testing.assert_array_equal(
        first, make_triplets(X, labels, 100, return_indices=True, random_state=0)
    )
    assert not np.array_equal(
        first, make_triplets(X, labels, 100, return_indices=True, random_state=1)
    )
    assert np.all(labels[first[:, 0]] == labels[first[:, 1]])
    assert np.all(labels[first[:, 0]] != labels[first[:, 2]])


def test_make_triplets_draws_classes_uniformly_on_imbalanced_data():
    X, y = labelled_rows(n_per_class=(100, 10, 10, 10))
    indices = make_triplets(X, y, 20_000, return_indices=True, random_state=0)
    anchors = np.bincount(y[indices[:, 0]], minlength=4)
    negatives = np.bincount(y[indices[:, 2]], minlength=4)
    assert np.all(np.abs(anchors - 5_000) < 400), anchors
    assert np.all(np.abs(negatives - 5_000) < 400), negatives
    assert len(make_triplets(X, y, 1_000_000, return_indices=True, random_state=0)) == 1_000_000


@pytest.mark.parametrize(
    "y, kwargs, message",
    [
        ([0, 0, 0, 0], {}, "at least 2 classes"),
        ([0, 1, 2, 3], {}, "at least 2 samples"),
        ([0, 0, 1], {}, "same length"),
        ([0, 0, 1, 1], {"n_triplets": 0}, "n_triplets must be"),
    ],
)
def test_make_triplets_errors(y, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_triplets(np.zeros((4, 2)), y, **kwargs)


# fetch_omniglot ---------------------------------------------------------------


@pytest.fixture
def remote_zip(omniglot_zip, monkeypatch):
    """Point the "background_small1" entry at the test zip, by file:// URL."""
    md5 = hashlib.md5(omniglot_zip.read_bytes()).hexdigest()
    remote = datasets._RemoteFile(omniglot_zip.name, omniglot_zip.as_uri(), md5)
    monkeypatch.setitem(datasets._OMNIGLOT_FILES, "background_small1", remote)
    return remote


def forbid_downloads(monkeypatch):
    def urlopen(*args, **kwargs):
        raise AssertionError("fetch_omniglot downloaded")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


def test_fetch_omniglot_downloads_then_reads_the_cache(tmp_path, remote_zip, monkeypatch):
    home = tmp_path / "home"
    data = fetch_omniglot("background_small1", data_home=home, image_size=14)
    assert (home / "omniglot" / remote_zip.filename).is_file()
    assert sorted(p.name for p in (home / "omniglot").iterdir()) == [remote_zip.filename]
    assert data.subset == "background_small1"
    assert data.images.shape == (9, 14, 14, 1)
    assert list(data.target_names) == [
        "Greek/character01",
        "Greek/character02",
        "Latin/character01",
    ]
    assert {"target", "alphabet", "drawer"} <= set(data)
    forbid_downloads(monkeypatch)
    again = fetch_omniglot(
        "background_small1", data_home=home, download_if_missing=False, image_size=14
    )
    np.testing.assert_array_equal(again.images, data.images)


def test_fetch_omniglot_uses_scikit_learn_data_home(tmp_path, remote_zip, monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    fetch_omniglot("background_small1", image_size=7)
    assert (tmp_path / "sk" / "omniglot" / remote_zip.filename).is_file()


def test_fetch_omniglot_without_data_and_download_raises(tmp_path, remote_zip, monkeypatch):
    forbid_downloads(monkeypatch)
    with pytest.raises(OSError, match="`download_if_missing` is False"):
        fetch_omniglot("background_small1", data_home=tmp_path / "empty", download_if_missing=False)


def test_fetch_omniglot_rejects_a_download_with_a_wrong_checksum(tmp_path, remote_zip, monkeypatch):
    bad = datasets._RemoteFile(remote_zip.filename, remote_zip.url, "0" * 32)
    monkeypatch.setitem(datasets._OMNIGLOT_FILES, "background_small1", bad)
    with pytest.raises(
        OSError, match=rf"{remote_zip.filename}.*{remote_zip.md5}.*expected 0{{32}}"
    ):
        fetch_omniglot("background_small1", data_home=tmp_path / "home")
    assert list((tmp_path / "home" / "omniglot").iterdir()) == []


def test_fetch_omniglot_replaces_a_corrupt_cache_with_a_warning(tmp_path, remote_zip):
    cached = tmp_path / "home" / "omniglot" / remote_zip.filename
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"truncated")
    with pytest.raises(OSError, match="MD5 checksum .* expected"):
        fetch_omniglot("background_small1", data_home=tmp_path / "home", download_if_missing=False)
    with pytest.warns(UserWarning, match="again"):
        data = fetch_omniglot("background_small1", data_home=tmp_path / "home", image_size=7)
    assert len(data.images) == 9
    assert hashlib.md5(cached.read_bytes()).hexdigest() == remote_zip.md5


def test_fetch_omniglot_reads_a_local_copy(omniglot_zip, remote_zip, monkeypatch):
    forbid_downloads(monkeypatch)
    # omniglot_zip lies directly in its folder, not in an omniglot/ subfolder.
    data = fetch_omniglot(
        "background_small1", data_home=omniglot_zip.parent, download_if_missing=False
    )
    assert data.images.shape == (9, 28, 28, 1)
    assert not (omniglot_zip.parent / "omniglot").exists()


def test_fetch_omniglot_rejects_an_unknown_subset(tmp_path):
    with pytest.raises(ValueError, match="valid subsets are .*'background'.*'evaluation'"):
        fetch_omniglot("background_small2", data_home=tmp_path)


def test_an_interrupted_download_leaves_no_file(tmp_path, remote_zip, monkeypatch):
    class Dropped(io.BytesIO):
        def read(self, size=-1):
            if self.tell() > 0:
                raise ConnectionResetError("connection dropped")
            return super().read(16)

    monkeypatch.setattr(urllib.request, "urlopen", lambda *args, **kwargs: Dropped(b"x" * 64))
    with pytest.raises(ConnectionResetError, match="connection dropped"):
        fetch_omniglot("background_small1", data_home=tmp_path / "home")
    assert list((tmp_path / "home" / "omniglot").iterdir()) == []


def test_the_published_subsets():
    assert set(datasets._OMNIGLOT_FILES) == {"background", "evaluation", "background_small1"}
    for name, remote in datasets._OMNIGLOT_FILES.items():
        assert remote.url.startswith("https://github.com/brendenlake/omniglot/")
        assert remote.url.endswith("/" + remote.filename) and re.fullmatch(
            "[0-9a-f]{32}", remote.md5
        )


# load_omniglot ------------------------------------------------------------------

# Characters per alphabet of the "background small" sets.
ALPHABETS = {
    "small1": {"Balinese": 24, "Early_Aramaic": 22, "Greek": 24, "Korean": 40, "Latin": 26},
    "small2": {"Greek": 24, "Japanese_(katakana)": 47, "Latin": 26, "Sanskrit": 42, "Tagalog": 17},
}
ALPHABETS["both"] = {**ALPHABETS["small1"], **ALPHABETS["small2"]}
SUBSETS = ["small1", "small2", "both"]
# SHA-256 of the bundled 8-bit images (ink 255): they change only with the data.
BUNDLED_IMAGES_SHA256 = {
    "small1": "40b4c330cc412034b4e14b31bb228d77f66f117dcce9207b62b82ccdd34e113d",
    "small2": "da8c683d98d2d097c660a0586650b179527d04f386c9860e667be7edce9f963f",
}


def test_load_omniglot_shapes_dtypes_and_ranges(monkeypatch):
    forbid_downloads(monkeypatch)
    data = load_omniglot()
    assert set(data) == {"data", "target", "target_names", "images", "alphabet", "drawer", "DESCR"}
    assert data.images.shape == (2720, 28, 28) and data.images.dtype == np.float32
    assert data.data.shape == (2720, 784) and data.data.dtype == np.float32
    np.testing.assert_array_equal(data.data, data.images.reshape(2720, 784))
    assert data.images.min() == 0.0 and data.images.max() == 1.0
    # Thin strokes on paper: about 8% ink overall, and every image has some.
    assert 0.05 < data.images.mean() < 0.1
    assert data.images.max(axis=(1, 2)).min() > 0.5
    assert np.issubdtype(data.target.dtype, np.integer) and np.issubdtype(
        data.drawer.dtype, np.integer
    )
    assert np.bincount(data.target).tolist() == [20] * 136
    assert data.target_names.shape == (136,) and len(set(data.target_names)) == 136
    assert data.target_names[0] == "Balinese/character01"
    assert "Omniglot" in data.DESCR and "MIT" in data.DESCR


@pytest.mark.parametrize("subset", SUBSETS)
def test_load_omniglot_subsets_hold_the_same_fields(subset):
    data = load_omniglot(subset=subset)
    n_characters = sum(ALPHABETS[subset].values())
    n_images = 20 * n_characters
    assert set(data) == {"data", "target", "target_names", "images", "alphabet", "drawer", "DESCR"}
    assert data.images.shape == (n_images, 28, 28) and data.images.dtype == np.float32
    np.testing.assert_array_equal(data.data, data.images.reshape(n_images, 784))
    assert data.images.max(axis=(1, 2)).min() > 0.5
    assert np.bincount(data.target).tolist() == [20] * n_characters
    assert list(data.target_names) == sorted(set(data.target_names))
    assert len(data.target_names) == n_characters
    # Each image's alphabet is the one its character is named under.
    np.testing.assert_array_equal(
        data.alphabet, [name.split("/")[0] for name in data.target_names[data.target]]
    )
    alphabets, images = np.unique(data.alphabet, return_counts=True)
    assert dict(zip(alphabets.tolist(), (images // 20).tolist())) == ALPHABETS[subset]
    # Rows by character, then drawer: every character drawn once by each of 20.
    np.testing.assert_array_equal(data.target, np.repeat(np.arange(n_characters), 20))
    np.testing.assert_array_equal(data.drawer, np.tile(np.arange(1, 21), n_characters))
    title = {"small1": "5 alphabets\n", "small2": "second set\n", "both": "8 alphabets\n"}
    assert title[subset] in data.DESCR and "MIT" in data.DESCR and "Greek" in data.DESCR


@pytest.mark.parametrize("subset", ["small1", "small2"])
def test_load_omniglot_holds_the_bundled_images(subset):
    images = load_omniglot(subset=subset).images
    ink = np.round(images * 255)
    np.testing.assert_array_equal(ink / np.float32(255), images)
    assert (
        hashlib.sha256(ink.astype(np.uint8).tobytes()).hexdigest() == BUNDLED_IMAGES_SHA256[subset]
    )


def rows_by_name_and_drawer(data):
    names = data.target_names[data.target]
    return {(name, drawer): row for row, (name, drawer) in enumerate(zip(names, data.drawer))}


def test_the_two_sets_share_their_greek_and_latin_images():
    # Greek and Latin are the same characters under the same names in both
    # sets, drawn by the same people: image for image the same pixels.
    small1, small2 = load_omniglot(subset="small1"), load_omniglot(subset="small2")
    rows1, rows2 = rows_by_name_and_drawer(small1), rows_by_name_and_drawer(small2)
    shared = sorted(set(rows1) & set(rows2))
    assert len(shared) == 1000
    assert {name.split("/")[0] for name, _ in shared} == {"Greek", "Latin"}
    assert {key for key in rows1 if key[0].split("/")[0] in ("Greek", "Latin")} == set(shared)
    for key in shared:
        np.testing.assert_array_equal(small1.images[rows1[key]], small2.images[rows2[key]])
    # No other image of one set is in the other, under another name.
    only1 = [row for key, row in rows1.items() if key not in rows2]
    only2 = [row for key, row in rows2.items() if key not in rows1]
    pixels1 = {small1.images[row].tobytes() for row in only1}
    assert not pixels1 & {small2.images[row].tobytes() for row in only2}


def test_load_omniglot_both_holds_each_image_once_under_one_label():
    both = load_omniglot(subset="both")
    rows = rows_by_name_and_drawer(both)
    assert len(rows) == len(both.images) == 4840
    assert len({image.tobytes() for image in both.images}) == 4840
    for subset in ("small1", "small2"):
        part = load_omniglot(subset=subset)
        for key, row in rows_by_name_and_drawer(part).items():
            np.testing.assert_array_equal(both.images[rows[key]], part.images[row])
    greek = both.alphabet == "Greek"
    assert greek.sum() == 480 and len(np.unique(both.target[greek])) == 24


def test_load_omniglot_alphabets_hold_out_whole_characters():
    data = load_omniglot(subset="both")
    splits = list(LeaveOneGroupOut().split(data.data, data.target, groups=data.alphabet))
    assert len(splits) == 8
    for train, test in splits:
        assert not set(data.target[train]) & set(data.target[test])
        assert not {row.tobytes() for row in data.data[train]} & {
            row.tobytes() for row in data.data[test]
        }
    # The labels belong to the images: nearest neighbours on raw pixels score
    # about 0.19 on 20-way 1-shot episodes within an alphabet; chance is 0.05.
    small1 = load_omniglot()
    accuracy = few_shot_accuracy(
        small1.data,
        small1.target,
        n_way=20,
        n_episodes=200,
        groups=small1.alphabet,
        random_state=0,
    )
    assert 0.15 < accuracy < 0.3


@pytest.mark.parametrize("subset", SUBSETS)
def test_load_omniglot_return_X_y(subset):
    data = load_omniglot(subset=subset)
    for flag in (True, np.True_):
        X, y = load_omniglot(subset=subset, return_X_y=flag)
        np.testing.assert_array_equal(X, data.data)
        np.testing.assert_array_equal(y, data.target)


@pytest.mark.parametrize("value", [1, "yes", None])
def test_load_omniglot_rejects_a_return_X_y_that_is_not_a_bool(value):
    with pytest.raises(TypeError, match="return_X_y must be a bool; got"):
        load_omniglot(return_X_y=value)


@pytest.mark.parametrize("subset", ["small3", "Small1", "background_small1", None, 1, ["both"]])
def test_load_omniglot_rejects_an_unknown_subset(subset):
    with pytest.raises(
        ValueError,
        match=re.escape(f"subset must be one of 'small1', 'small2', 'both'; got {subset!r}."),
    ):
        load_omniglot(subset=subset)


@pytest.fixture
def bundled_test_zip(omniglot_zip, monkeypatch):
    """Give the test zip the checksum the conversion of "small2" checks."""
    md5 = hashlib.md5(omniglot_zip.read_bytes()).hexdigest()
    bundled = datasets._BUNDLED_SETS["small2"]
    monkeypatch.setitem(datasets._BUNDLED_SETS, "small2", dataclasses.replace(bundled, md5=md5))
    return omniglot_zip


def test_the_bundle_is_the_zip_read_at_8_bits(bundled_test_zip, tmp_path):
    datasets._bundle_omniglot("small2", bundled_test_zip, tmp_path / "bundle.npz")
    bundled = datasets._read_omniglot_bundle(tmp_path / "bundle.npz")
    read = load_omniglot_zip(bundled_test_zip)
    assert bundled.images.shape == (9, 28, 28) and bundled.images.dtype == np.float32
    # The column where the ink ends is grey: rounding, not thresholding.
    assert np.any((bundled.images > 0.1) & (bundled.images < 0.9))
    np.testing.assert_allclose(bundled.images, read.images[..., 0], rtol=0, atol=1 / 510)
    for key in ("target", "target_names", "alphabet", "drawer"):
        np.testing.assert_array_equal(bundled[key], read[key])


@pytest.mark.parametrize("subset, md5", [("small1", "e704a628"), ("small2", "b75a71a5")])
def test_the_bundle_is_built_only_from_the_published_zip(omniglot_zip, tmp_path, subset, md5):
    with pytest.raises(ValueError, match=f"MD5 checksum .*, expected {md5}"):
        datasets._bundle_omniglot(subset, omniglot_zip, tmp_path / "bundle.npz")
    assert list(tmp_path.glob("*.npz")) == []
