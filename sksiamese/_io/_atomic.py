"""Files written atomically: complete under their name, or not there at all."""

import contextlib
import os
import secrets


@contextlib.contextmanager
def replacing(path):
    """Open a new file beside ``path`` for writing; it replaces ``path`` on success.

    The body writes to the yielded binary file. When it finishes, the file is
    closed and renamed over ``path`` in one step; when it raises (a failed
    check, an error, Ctrl-C), the partial file is removed and ``path`` keeps
    what it held before. The file gets the usual permissions of new files.
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, f".{name}.{secrets.token_hex(8)}.part")
    try:
        with open(temporary, "xb") as file:
            yield file
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
