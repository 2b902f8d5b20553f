"""The save format's members: arrays as .npy, checks before reading, version 1 files, scale."""

import io
import json
import os
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from test_persistence import edit_json, rewrite

import sksiamese
from sksiamese import GalleryClassifier
from sksiamese._io import _members

DATA = Path(__file__).parent / "data"


def clustered(n_identities, per_identity, n_features, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_identities, n_features)).astype(np.float32)
    rows = np.repeat(centres, per_identity, axis=0)
    rows += 0.1 * rng.normal(size=rows.shape).astype(np.float32)
    return rows, np.repeat(np.arange(n_identities), per_identity)


def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def saved_gallery(tmp_path_factory):
    rows, labels = clustered(50, 4, 8)
    names = np.array([f"person {label}" for label in labels])
    gallery = GalleryClassifier(far=0.1, random_state=0, unknown_label="nobody").fit(rows, names)
    path = gallery.save(tmp_path_factory.mktemp("saved") / "gallery.sksiamese")
    return gallery, Path(path), rows


# The layout -----------------------------------------------------------------


def test_arrays_are_npy_members_and_the_json_holds_references(saved_gallery):
    gallery, path, rows = saved_gallery
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == [
            "classes.npy",
            "enrolled_codes.npy",
            "estimator.json",
            "index.rows.npy",
        ]
        document = json.loads(archive.read("estimator.json"))
        assert document["format_version"] == 2
        assert document["fitted"]["index_"] == {
            "type": "search_index",
            "algorithm": "exact",
            "distance": "euclidean",
            "rows": {"type": "ndarray", "member": "index.rows.npy"},
        }
        # Stored as they are: arrays barely compress, and stored members stream.
        assert archive.getinfo("index.rows.npy").compress_type == zipfile.ZIP_STORED
        stored = np.load(io.BytesIO(archive.read("index.rows.npy")), allow_pickle=False)
        assert_array_equal(stored, rows)
        assert archive.getinfo("estimator.json").file_size < 4000
        # Text identities are stored as text, never as pickled objects.
        classes = np.load(io.BytesIO(archive.read("classes.npy")), allow_pickle=False)
        assert classes.dtype.kind == "U"


def test_saving_twice_writes_the_same_bytes(saved_gallery, tmp_path):
    gallery, path, _ = saved_gallery
    again = gallery.save(tmp_path / "again.sksiamese")
    assert Path(again).read_bytes() == path.read_bytes()


def test_object_arrays_keep_their_dtype(tmp_path):
    rows, labels = clustered(5, 2, 3)
    gallery = GalleryClassifier().fit(rows, np.array(["a", "b"], dtype=object)[labels % 2])
    # Text as objects is stored as text; text mixed with numbers, in the JSON.
    gallery.mixed_ = np.array([["a", 7], [2.5, True]], dtype=object)
    loaded = sksiamese.load(gallery.save(tmp_path / "objects.sksiamese"))
    for name in ("classes_", "mixed_"):
        assert getattr(loaded, name).dtype == object
        assert getattr(loaded, name).tolist() == getattr(gallery, name).tolist()


# Members checked before they are read ----------------------------------------

FORGED_ARRAYS = [
    ("object dtype (pickle)", npy(np.array([{"a": 1}], dtype=object)), "only booleans, integers"),
    ("structured dtype", npy(np.zeros(3, dtype=[("a", "<i4")])), "only booleans, integers"),
    ("void dtype", npy(np.zeros(3, dtype="V8")), "only booleans, integers"),
    ("not an npy file", b"PK\x03\x04 not numpy", "no valid .npy header"),
    (
        "negative shape",
        npy(np.zeros(3, np.int64)).replace(b"(3,)", b"(-3,)"),
        r"declares the shape \(-3,\)",
    ),
    (
        "shape larger than the data",
        npy(np.zeros(3, np.int64)).replace(b"(3,)", b"(9,)"),
        "declares .* but holds 24",
    ),
    (
        "header that is code",
        npy(np.zeros(3, np.int64)).replace(b"'shape': (3,)", b"'shape': f(3)  "),
        "no valid .npy header",
    ),
]


@pytest.mark.parametrize(
    "data, message", [pytest.param(d, m, id=name) for name, d, m in FORGED_ARRAYS]
)
def test_forged_array_members_are_refused(saved_gallery, tmp_path, data, message):
    _, path, _ = saved_gallery
    forged = rewrite(path, tmp_path / "forged.sksiamese", {"enrolled_codes.npy": data})
    with pytest.raises(ValueError, match=message) as error:
        sksiamese.load(forged)
    assert type(error.value) is ValueError and "forged.sksiamese" in str(error.value)


def _rename(member, name):
    def edit(document):
        document["fitted"]["enrolled_codes_"]["member"] = name

    return edit


@pytest.mark.parametrize(
    "name", ["../enrolled_codes.npy", "/etc/passwd.npy", "estimator.json", "other/x.npy", 3]
)
def test_references_outside_the_estimators_folder_are_refused(saved_gallery, tmp_path, name):
    _, path, _ = saved_gallery
    edited = edit_json(path, tmp_path / "edited.sksiamese", _rename("enrolled_codes_", name))
    with pytest.raises(ValueError, match="enrolled_codes_ names the member"):
        sksiamese.load(edited)


def _raw_zip(target, members):
    """A zip written without the checks of zipfile's writer: names as given."""
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data)
    return target


@pytest.mark.parametrize("name", ["../evil.npy", "/abs.npy", "a\\b.npy", "a/../../b.npy"])
def test_member_names_that_leave_the_archive_are_refused(saved_gallery, tmp_path, name):
    _, path, _ = saved_gallery
    with zipfile.ZipFile(path) as archive:
        members = {member: archive.read(member) for member in archive.namelist()}
    forged = _raw_zip(tmp_path / "names.sksiamese", {**members, name: b"x"})
    with pytest.raises(ValueError, match="is not a plain relative path"):
        sksiamese.load(forged)
    with pytest.raises(ValueError, match="is not a plain relative path"):
        sksiamese.get_untrusted_types(forged)


def _patch_central_size(path, member, size):
    """Set the uncompressed size the central directory declares for ``member``."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    start = 0
    while True:
        entry = data.index(b"PK\x01\x02", start)
        name_length = int.from_bytes(data[entry + 28 : entry + 30], "little")
        if data[entry + 46 : entry + 46 + name_length].decode() == info.filename:
            break
        start = entry + 4
    data[entry + 24 : entry + 28] = size.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_a_member_claiming_more_than_deflate_can_expand_is_refused(saved_gallery, tmp_path):
    _, path, _ = saved_gallery
    bomb = tmp_path / "bomb.sksiamese"
    bomb.write_bytes(path.read_bytes())
    _patch_central_size(bomb, "estimator.json", 2**31)
    with pytest.raises(ValueError, match="'estimator.json' claims 2147483648 bytes"):
        sksiamese.load(bomb)


def test_a_truncated_array_member_is_refused(saved_gallery, tmp_path):
    _, path, _ = saved_gallery
    data = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("index.rows.npy")
    # Bytes removed inside the member, the rest of the file intact.
    cut = info.header_offset + 200
    damaged = tmp_path / "cut.sksiamese"
    damaged.write_bytes(data[:cut] + data[cut + 64 :])
    with pytest.raises(ValueError, match="Cannot load .*cut.sksiamese"):
        sksiamese.load(damaged)


def test_save_refuses_what_load_would_refuse(tmp_path, monkeypatch):
    gallery = GalleryClassifier().fit(*clustered(5, 2, 3))
    gallery.extra_ = list(range(100))
    monkeypatch.setattr(_members, "MAX_JSON_BYTES", 500)
    target = tmp_path / "big.sksiamese"
    target.write_bytes(b"what was there")
    with pytest.raises(ValueError, match="more than the 500 bytes loading accepts"):
        gallery.save(target)
    # The file that was there is left as it was, and no partial file remains.
    assert target.read_bytes() == b"what was there"
    assert os.listdir(tmp_path) == ["big.sksiamese"]


# Files of format version 1 -------------------------------------------------------


@pytest.fixture(scope="module")
def expected():
    with np.load(DATA / "v1_expected.npz", allow_pickle=False) as outputs:
        return dict(outputs)


def test_version_1_embedder_and_verifier_still_load(expected):
    embedder = sksiamese.load(DATA / "v1_embedder.sksiamese")
    # The outputs were written when float64 rows ran through a float64 copy
    # of the encoder; they reach it in float32 now.
    assert_allclose(embedder.transform(expected["digits"]), expected["embedding"], atol=1e-6)
    assert embedder.classes_.dtype.kind == "U" and len(embedder.classes_) == 10
    assert embedder.optimizer.get_config()["learning_rate"] == pytest.approx(0.01)
    verifier = sksiamese.load(DATA / "v1_verifier.sksiamese")
    assert_allclose(verifier.decision_function(expected["pairs"]), expected["decision"], atol=1e-5)


@pytest.mark.parametrize("name", ["exact", "hnsw", "pipeline"])
def test_version_1_galleries_and_pipelines_still_load(expected, name):
    file = "v1_pipeline.sksiamese" if name == "pipeline" else f"v1_gallery_{name}.sksiamese"
    loaded = sksiamese.load(DATA / file)
    assert_array_equal(loaded.predict(expected["queries"]), expected[f"{name}_predict"])


def test_a_version_1_file_saves_again_as_version_2(expected, tmp_path):
    gallery = sksiamese.load(DATA / "v1_gallery_exact.sksiamese")
    again = sksiamese.load(gallery.save(tmp_path / "v2.sksiamese"))
    assert_array_equal(again.predict(expected["queries"]), expected["exact_predict"])
    with zipfile.ZipFile(tmp_path / "v2.sksiamese") as archive:
        assert json.loads(archive.read("estimator.json"))["format_version"] == 2


V1_FORGED = [
    ("object dtype array of dicts", ["data"], [{"type": "tuple"}] * 10, "array of unexpected"),
    ("unsupported dtype", ["dtype"], "V8", "unsupported dtype"),
    ("shape not matching data", ["shape"], [1000], "shape does not match"),
]


@pytest.mark.parametrize(
    "keys, value, message", [pytest.param(k, v, m, id=n) for n, k, v, m in V1_FORGED]
)
def test_forged_version_1_arrays_are_refused(tmp_path, keys, value, message):
    def edit(document):
        document["fitted"]["classes_"][keys[0]] = value

    edited = edit_json(DATA / "v1_embedder.sksiamese", tmp_path / "v1.sksiamese", edit)
    with pytest.raises(ValueError, match=message):
        sksiamese.load(edited)


# Scale ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_large_exact_gallery_loads_within_one_and_a_half_times_its_arrays(tmp_path):
    rows, labels = clustered(50_000, 4, 64)
    gallery = GalleryClassifier().fit(rows, labels)
    path = gallery.save(tmp_path / "large.sksiamese")
    arrays = rows.nbytes + gallery.enrolled_codes_.nbytes + gallery.classes_.nbytes
    tracemalloc.start()
    try:
        loaded = sksiamese.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= 1.5 * arrays, (peak, arrays)
    queries = rows[::997] + 0.01
    assert_array_equal(loaded.kneighbors(queries, 5)[1], gallery.kneighbors(queries, 5)[1])


@pytest.mark.slow
def test_an_hnsw_gallery_round_trips_with_identical_answers(tmp_path):
    pytest.importorskip("faiss")
    rows, labels = clustered(5_000, 4, 32)
    gallery = GalleryClassifier(algorithm="hnsw", hnsw_m=16).fit(rows, labels)
    loaded = sksiamese.load(gallery.save(tmp_path / "hnsw.sksiamese"))
    queries = rows[::97] + 0.01
    for got, want in zip(loaded.kneighbors(queries, 5), gallery.kneighbors(queries, 5)):
        assert_array_equal(got, want)
