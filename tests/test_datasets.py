"""The Omniglot reader, on a small zip built in the published layout."""

import zipfile

import numpy as np
import pytest
import tensorflow as tf

from sksiamese.datasets import load_omniglot_zip


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
    assert list(data.target_names) == ["Greek/character01", "Greek/character02", "Latin/character01"]
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
