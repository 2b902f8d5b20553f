"""The members of a saved file: JSON documents, ``.npy`` arrays and binary blobs.

Writing streams each member into the zip; reading checks a member before it
reads it, and reads arrays in chunks straight into the array they fill:

- every member name is a plain relative path (no ``..``, no absolute path,
  no backslash, no duplicate), checked for the whole archive when it opens;
- every member's declared sizes fit the file: its compressed data lies inside
  the file, and it does not claim more than deflate can expand (a zip bomb);
- a JSON member is at most :data:`MAX_JSON_BYTES`;
- an ``.npy`` member is read with ``allow_pickle=False`` semantics: its header
  is parsed by NumPy's literal parser, its dtype must be a plain number,
  boolean or text dtype, its shape non-negative ints, and header plus data
  must fill the member exactly, before any array is allocated.

Arrays and blobs are stored uncompressed: embeddings and weights barely
compress, and a stored member reads at the speed of the disk.
"""

import json
import math
import re
import zipfile
import zlib

import numpy as np

# estimator.json holds parameters, small fitted values and references to the
# other members; anything larger is not a file save wrote.
MAX_JSON_BYTES = 64 * 2**20

# Deflate expands at most 1032 times; a member claiming more is a zip bomb.
_MAX_RATIO = 1100
# Arrays are written in slices of this size, and read in chunks of the
# smaller one: each read chunk is briefly held twice by zipfile's buffers.
_WRITE_BYTES = 16 * 2**20
_READ_BYTES = 2**20
_MEMBER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*/?\Z")
# The dtypes an array member may hold: booleans, integers, floats and text.
_ARRAY_KINDS = "biufU"


class FileError(ValueError):
    """A problem with the file being read; the loader adds the file's name."""


def is_member_name(name):
    """Whether ``name`` is a plain relative path inside the archive."""
    return isinstance(name, str) and bool(_MEMBER.match(name)) and ".." not in name.split("/")


# Writing ----------------------------------------------------------------------


def _info(name, compress_type):
    # A fixed date: saving the same estimator twice writes the same bytes.
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = compress_type
    info.external_attr = 0o644 << 16
    return info


def write_json(archive, name, document):
    """Write ``document`` as the JSON member ``name``; refuse one that loading would."""
    data = json.dumps(document, indent=2, allow_nan=True).encode("utf-8")
    if len(data) > MAX_JSON_BYTES:
        raise ValueError(
            f"{name} would be {len(data)} bytes, more than the {MAX_JSON_BYTES} bytes "
            "loading accepts: a parameter or fitted attribute holds a very long list. "
            "Store such values as NumPy arrays, which are saved as binary members."
        )
    archive.writestr(_info(name, zipfile.ZIP_DEFLATED), data)


def write_bytes(archive, name, write):
    """Write a binary member ``name`` by calling ``write(stream)``."""
    with archive.open(_info(name, zipfile.ZIP_STORED), "w", force_zip64=True) as stream:
        write(stream)


def write_array(archive, name, array):
    """Write ``array`` as the ``.npy`` member ``name``, in chunks, without pickle."""
    if not (array.flags.c_contiguous or array.flags.f_contiguous):
        array = np.ascontiguousarray(array)
    header = np.lib.format.header_data_from_array_1_0(array)

    def write(stream):
        np.lib.format.write_array_header_1_0(stream, header)
        # In memory order, which the header's fortran_order describes.
        flat = array.ravel(order="K").view(np.uint8)
        for start in range(0, flat.size, _WRITE_BYTES):
            stream.write(flat[start : start + _WRITE_BYTES].data)

    write_bytes(archive, name, write)


# Reading ----------------------------------------------------------------------


def check_archive(archive, size):
    """Refuse an archive with unsafe member names or sizes that do not fit its ``size`` bytes."""
    seen = set()
    for info in archive.infolist():
        name = info.filename
        if not is_member_name(name) or name in seen:
            problem = "appears twice" if name in seen else "is not a plain relative path"
            raise FileError(f"the member name {name!r} {problem}; no file save wrote has it.")
        seen.add(name)
        if info.header_offset < 0 or info.header_offset + info.compress_size > size:
            raise FileError(
                f"the member {name!r} does not lie inside the file: it is truncated or damaged."
            )
        stored = info.compress_type == zipfile.ZIP_STORED
        if (stored and info.file_size != info.compress_size) or (
            info.file_size > _MAX_RATIO * max(info.compress_size, 1)
        ):
            raise FileError(
                f"the member {name!r} claims {info.file_size} bytes from {info.compress_size} "
                "stored: its sizes are damaged or forged."
            )


def member_info(archive, name, what):
    """The ``ZipInfo`` of ``name``, or an error saying that ``what`` is missing."""
    try:
        return archive.getinfo(name)
    except KeyError:
        raise FileError(f"the {what} member {name!r} is missing.") from None


def read_json(archive, name):
    """The JSON document ``name``, its size checked before it is read."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise FileError(f"it has no {name!r}, so it was not written by sksiamese's save") from None
    if info.file_size > MAX_JSON_BYTES:
        raise FileError(f"{name!r} is {info.file_size} bytes, too large to be one.")
    data = read_bytes(archive, name)
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise FileError(f"{name!r} is not valid JSON ({error}).") from None


class _Damaged:
    """Turns the errors of reading a damaged member into a FileError naming it."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        # OSError: zipfile seeking to where a damaged directory points.
        if isinstance(error, (zipfile.BadZipFile, zlib.error, EOFError, OSError)):
            raise FileError(f"the member {self.name!r} is damaged ({error}).") from None
        return False


def read_bytes(archive, name):
    """The whole member ``name``: for small members (JSON, Keras archives of one model)."""
    with _Damaged(name):
        return archive.read(name)


class open_member:
    """Context: the member ``name`` opened for streaming; reading errors become a FileError."""

    def __init__(self, archive, name):
        self.archive, self.name = archive, name

    def __enter__(self):
        self.stream = self.archive.open(self.name)
        return self.stream

    def __exit__(self, kind, error, traceback):
        self.stream.close()
        return _Damaged(self.name).__exit__(kind, error, traceback)


class ArrayHeader:
    """What the header of an ``.npy`` member declares, checked against the member."""

    def __init__(self, archive, name):
        info = member_info(archive, name, "array")
        with _Damaged(name), archive.open(name) as stream:
            try:
                version = np.lib.format.read_magic(stream)
                read = {
                    (1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0,
                }.get(version)
                if read is None:
                    raise ValueError(f"npy version {version}")
                shape, fortran_order, dtype = read(stream)
            except (ValueError, TypeError, SyntaxError) as error:
                raise FileError(
                    f"the array member {name!r} has no valid .npy header ({error})."
                ) from None
            self.offset = stream.tell()
        if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None or dtype.subdtype:
            raise FileError(
                f"the array member {name!r} holds dtype {dtype}; only booleans, integers, "
                "floats and text are loaded (never objects, which would need pickle)."
            )
        if not all(type(size) is int and size >= 0 for size in shape):
            raise FileError(f"the array member {name!r} declares the shape {shape}.")
        self.name, self.shape, self.dtype, self.fortran_order = name, shape, dtype, fortran_order
        self.nbytes = math.prod(shape) * dtype.itemsize
        if self.offset + self.nbytes != info.file_size:
            raise FileError(
                f"the array member {name!r} declares {shape} {dtype} ({self.nbytes} bytes) "
                f"but holds {info.file_size - self.offset}."
            )

    def read(self, archive):
        """The array, read in chunks into its own memory: no copy of the member is held."""
        shape = self.shape[::-1] if self.fortran_order else self.shape
        array = np.empty(shape, self.dtype)
        flat = array.reshape(-1).view(np.uint8)
        with _Damaged(self.name), archive.open(self.name) as stream:
            stream.read(self.offset)
            filled = 0
            while filled < self.nbytes:
                chunk = stream.read(min(_READ_BYTES, self.nbytes - filled))
                if not chunk:
                    raise FileError(f"the array member {self.name!r} is truncated.")
                flat[filled : filled + len(chunk)] = np.frombuffer(chunk, np.uint8)
                filled += len(chunk)
            # Reading to the end checks the member's CRC.
            if stream.read(1):
                raise FileError(f"the array member {self.name!r} holds data past its array.")
        return array.T if self.fortran_order else array
