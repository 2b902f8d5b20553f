"""sksiamese's file format: estimators and pipelines saved without pickle.

:func:`save` writes one zip file; :func:`load` reads it back. A file holding
an estimator has

- ``estimator.json``: the format's name and version, the versions that wrote
  it, the class name, the parameters and the fitted attributes. Small values
  are JSON; every other value is a JSON object tagged with its codec's
  ``"type"``, which refers to the members holding its data;
- one ``.npy`` member per array (``classes.npy``, ``index.rows.npy``),
  stored uncompressed and read without pickle;
- one ``.keras`` member per Keras model, in Keras' native format, such as
  ``encoder.keras`` for the ``encoder_`` of a fitted
  :class:`~sksiamese.SiameseEmbedder`, and one ``.faiss`` member per HNSW
  graph, in faiss' own format;
- one folder per parameter or fitted attribute holding an estimator, laid
  out like the top level: a :class:`~sksiamese.SiameseVerifier` has
  ``embedder_/estimator.json`` and ``embedder_/encoder.keras``. An attribute
  that is a parameter itself (a frozen embedder as ``embedder_``) is stored
  once and refers to it.

A pipeline, or another scikit-learn object holding sksiamese estimators,
has ``pipeline.json`` (format, versions, class, number of estimators),
``pipeline.skops`` (the object written by ``skops.io``, with a stand-in
where each sksiamese estimator was) and ``estimators/0/``,
``estimators/1/``, ...: those estimators, each laid out as above.

The codec table (:mod:`._registry`) is filled by the modules that own the
types: plain values here (:mod:`._codecs`), Keras models and optimizers
beside the embedder, the calibration beside the verifier, the search
indexes beside the gallery. Estimator classes are named by import path and
imported only when a file holds one, so neither saving nor loading a
gallery imports TensorFlow.
"""

from ._load import UntrustedTypesError, get_untrusted_types, load
from ._registry import register, register_codec
from ._save import SaveMixin, check_saveable, save

__all__ = [
    "SaveMixin",
    "UntrustedTypesError",
    "check_saveable",
    "get_untrusted_types",
    "load",
    "register",
    "register_codec",
    "save",
]
