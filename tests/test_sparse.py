"""Sparse rows (scipy.sparse): trained and embedded batch by batch, never densified whole."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from sksiamese import GalleryClassifier, SiameseEmbedder, SiameseVerifier
from sksiamese._rows import SparseRows, iter_chunks

SPARSE_FORMATS = ["csr", "csc", "coo", "lil"]


def sparse(X, form="csr"):
    return scipy.sparse.csr_matrix(X).asformat(form)


@pytest.mark.parametrize("form", SPARSE_FORMATS)
def test_fit_partial_fit_and_transform_on_sparse_rows_equal_dense_ones(small_digits, form):
    X, y = small_digits
    params = dict(n_components=4, epochs=2, batch_size=32, random_state=0)
    dense = SiameseEmbedder(**params).fit(X, y)
    embedder = SiameseEmbedder(**params).fit(sparse(X, form), y)
    assert embedder.history_ == dense.history_
    np.testing.assert_array_equal(embedder.transform(sparse(X, form)), dense.transform(X))
    np.testing.assert_array_equal(
        embedder.transform(sparse(X, form).astype(np.float32)),
        dense.transform(X.astype(np.float32)),
    )
    assert embedder.score(sparse(X, form), y) == dense.score(X, y)

    dense.partial_fit(X[:100], y[:100])
    embedder.partial_fit(sparse(X[:100], form), y[:100])
    assert embedder.history_ == dense.history_ and embedder.n_iter_ == 3
    np.testing.assert_array_equal(embedder.transform(sparse(X, form)), dense.transform(X))


def test_sparse_arrays_and_images_reshaped_from_sparse_rows(small_digits):
    X, y = small_digits
    params = dict(network="cnn", input_shape=(8, 8), n_components=4, epochs=1, random_state=0)
    dense = SiameseEmbedder(**params).fit(X, y)
    embedder = SiameseEmbedder(**params).fit(scipy.sparse.csr_array(X), y)
    assert embedder.input_shape_ == (8, 8, 1)
    assert embedder.history_ == dense.history_
    np.testing.assert_array_equal(embedder.transform(scipy.sparse.coo_array(X)), dense.transform(X))


def test_sparse_rows_are_densified_a_chunk_at_a_time(small_digits):
    X, _ = small_digits
    rows = SparseRows(sparse(X).astype(np.float32), (8, 8))
    assert rows.shape == (300, 8, 8) and len(rows) == 300 and rows.dtype == np.float32
    np.testing.assert_array_equal(rows[[5, 0, 5]], X[[5, 0, 5]].reshape(3, 8, 8))
    chunks = list(iter_chunks(rows, chunk_rows=128))
    assert [(start, len(chunk)) for start, chunk in chunks] == [(0, 128), (128, 128), (256, 44)]
    np.testing.assert_array_equal(
        np.concatenate([chunk for _, chunk in chunks]), X.reshape(-1, 8, 8)
    )


def test_a_large_sparse_matrix_is_never_densified_whole():
    # 10,000 rows of 8,000 features with 25 stored values each: 3 MB as
    # CSR, 320 MB dense in float32 (640 MB in float64, its dtype here).
    n_rows, n_features = 10_000, 8_000
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(20), n_rows // 20)
    columns = rng.integers(0, n_features, size=(n_rows, 25))
    X = scipy.sparse.csr_matrix(
        (rng.random(columns.size), columns.ravel(), np.arange(0, columns.size + 1, 25)),
        shape=(n_rows, n_features),
    )
    dense_float32_bytes = n_rows * n_features * 4
    embedder = SiameseEmbedder(n_components=4, epochs=1, random_state=0)
    tracemalloc.start()  # NumPy reports the memory of its arrays to tracemalloc
    try:
        embedder.fit(X, y)
        embedder.partial_fit(X[:2000], y[:2000])
        embedded = embedder.transform(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert embedded.shape == (n_rows, 4) and np.isfinite(embedded).all()
    # Chunks of about 8 MiB with their float64 temporaries, and copies of
    # the encoder's weights (8 MB in float32): not the matrix.
    assert peak < dense_float32_bytes / 5, f"peak {peak / 2**20:.0f} MiB"


def text_corpus(n_documents, seed):
    """Short documents on three topics, sharing common words."""
    rng = np.random.default_rng(seed)
    topics = [
        ["goal", "match", "team", "league", "coach", "score"],
        ["vote", "party", "law", "senate", "election", "minister"],
        ["cell", "gene", "protein", "virus", "enzyme", "genome"],
    ]
    common = ["the", "a", "of", "today", "report", "new", "said", "year"]
    labels = rng.integers(0, 3, size=n_documents)
    documents = [" ".join(rng.choice(topics[label] + common, size=12)) for label in labels]
    return documents, labels


def test_a_text_pipeline_with_tfidf_before_the_embedder():
    documents, labels = text_corpus(240, seed=0)
    pipeline = Pipeline(
        [
            ("tfidf", TfidfVectorizer()),
            ("embed", SiameseEmbedder(n_components=8, epochs=10, batch_size=32, random_state=0)),
            ("knn", KNeighborsClassifier(1)),
        ]
    )
    pipeline.fit(documents[:180], labels[:180])
    assert pipeline.score(documents[180:], labels[180:]) >= 0.9
    assert pipeline.named_steps["embed"].n_features_in_ == len(
        pipeline.named_steps["tfidf"].vocabulary_
    )


def test_sparse_rows_are_checked_like_dense_ones(small_digits, fitted):
    X, y = small_digits
    bad = sparse(X)
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        SiameseEmbedder(epochs=1).fit(bad, y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.transform(bad)
    with pytest.raises(ValueError, match="X has 10 features, but SiameseEmbedder is expecting 64"):
        fitted.transform(sparse(X[:, :10]))
    with pytest.raises(ValueError, match="input_shape=\\(9, 9\\) holds 81 values per row"):
        SiameseEmbedder(input_shape=(9, 9), epochs=1).fit(sparse(X), y)


def test_verifier_and_gallery_refuse_sparse_input_clearly(small_digits, fitted):
    X, y = small_digits
    with pytest.raises(ValueError, match="pairs must be an array of shape \\(n_pairs, 2"):
        SiameseVerifier().fit(sparse(X[:100]), np.arange(100) % 2)
    with pytest.raises(TypeError, match="Sparse data was passed for X, but dense data is required"):
        GalleryClassifier().fit(sparse(X), y)
    gallery = GalleryClassifier().fit(fitted.transform(X), y)
    with pytest.raises(TypeError, match="Sparse data was passed for X, but dense data is required"):
        gallery.predict(sparse(fitted.transform(X)))
    # The embedder in front of a gallery takes the sparse rows.
    np.testing.assert_array_equal(
        gallery.predict(fitted.transform(sparse(X))), gallery.predict(fitted.transform(X))
    )
