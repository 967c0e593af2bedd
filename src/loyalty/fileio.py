"""Writing files so that a reader never sees half of one.

`write_atomic` writes a temporary file next to the target, flushes it to disk and
renames it over the target: after a crash the file holds either the old or the new
content, never a mix. Commands that rewrite or produce files (fmt, reports) use it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Iterator, Union


def _default_mode() -> int:
    # mkstemp creates files readable by the owner only; a new file should get the
    # permissions any other new file would get (0666 minus the umask).
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Union[str, os.PathLike], data: Union[str, bytes]) -> None:
    """Replace `path` with `data` (str is written as UTF-8) atomically.

    Keeps the permissions of an existing file; writes through a symlink to its target.
    Raises OSError (e.g. PermissionError) when the directory cannot be written.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with open_atomic(path, binary=True) as tmp:
        tmp.write(payload)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX; a no-op where directories cannot be opened)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def open_atomic(path: Union[str, os.PathLike], encoding: str = "utf-8", newline: str = "",
                binary: bool = False) -> Iterator[IO]:
    """A file to stream into (text, or bytes with `binary`); it replaces `path` only when the
    block ends without an exception: a temporary file in the same directory, fsynced, given
    the old file's permissions, then renamed over `path`. On an exception the temporary file
    is removed and `path` keeps its old content."""
    target = Path(os.path.realpath(path))
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = _default_mode()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding=encoding, newline=newline)) as tmp:
            yield tmp
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(target.parent)
