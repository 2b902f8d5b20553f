"""Data sets for few-shot work."""

import re
import zipfile

import numpy as np
import tensorflow as tf
from sklearn.utils import Bunch

# <root>/<alphabet>/<character>/<image id>_<drawer>.png
_OMNIGLOT_MEMBER = re.compile(r"^[^/]+/(?P<alphabet>[^/]+)/(?P<character>[^/]+)/[^/]+_(?P<drawer>\d+)\.png$")


def load_omniglot_zip(path, *, image_size=28):
    """Read an Omniglot zip, as published, into arrays.

    The archive holds ``<root>/<alphabet>/<character>/<id>_<drawer>.png``,
    black ink on white, 105x105 pixels (Lake et al. 2015).

    Parameters
    ----------
    path : str or path-like
        The zip file, e.g. ``images_background_small1.zip``.
    image_size : int, default=28
        Images are resized to ``image_size x image_size`` by area averaging.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images``: float32 array ``(n, image_size, image_size, 1)``, ink 1
        and paper 0. ``target``: int array, the character of each image.
        ``target_names``: ``"alphabet/character"`` for each target value.
        ``alphabet``: the alphabet of each image. ``drawer``: int, who drew it.
    """
    images, characters, alphabets, drawers = [], [], [], []
    with zipfile.ZipFile(path) as archive:
        for name in sorted(archive.namelist()):
            match = _OMNIGLOT_MEMBER.match(name)
            if match is None:
                continue
            pixels = tf.io.decode_png(archive.read(name), channels=1)
            resized = tf.image.resize(tf.cast(pixels, tf.float32) / 255.0, (image_size, image_size), method="area")
            images.append(1.0 - resized.numpy())
            alphabets.append(match["alphabet"])
            characters.append(f"{match['alphabet']}/{match['character']}")
            drawers.append(int(match["drawer"]))
    if not images:
        raise ValueError(f"{path} holds no <root>/<alphabet>/<character>/<id>_<drawer>.png images.")
    target_names, target = np.unique(characters, return_inverse=True)
    return Bunch(
        images=np.stack(images).astype(np.float32),
        target=target,
        target_names=target_names,
        alphabet=np.array(alphabets),
        drawer=np.array(drawers),
    )
