"""Writing files so that a reader never sees half of one.

`write_atomic` writes a temporary file next to the target, flushes it to disk and
renames it over the target: after a crash the file holds either the old or the new
content, never a mix. Commands that rewrite or produce files (fmt, reports) use it.
`replace_directory` does the same for a folder of files (`simulate --out DIR`): every
file is written into a temporary folder beside DIR, which then takes DIR's place.

While a temporary file or folder exists, SIGTERM raises `Terminated` (a SystemExit with
code 143) and SIGINT KeyboardInterrupt as usual, so the clean-up runs and removes it;
only SIGKILL (or a power cut) can leave a `.NAME.*.tmp` behind.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Iterator, Union


def _default_mode() -> int:
    # mkstemp creates files readable by the owner only; a new file should get the
    # permissions any other new file would get (0666 minus the umask).
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class Terminated(SystemExit):
    """SIGTERM arrived while a file was being written: the clean-up has run; exit with 128 + 15."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


def _on_sigterm(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM does not cut the clean-up short
    raise Terminated()


@contextmanager
def cleanup_on_signals() -> Iterator[None]:
    """Within the block SIGTERM raises `Terminated` instead of killing the process outright, so `except` and
    `finally` clauses run (SIGINT already raises KeyboardInterrupt). Only in the main thread, and only when
    SIGTERM has its default action (an embedding application that handles it keeps its handler)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGTERM and SIGINT wait until the block ends (the renames that put a folder in place run whole)."""
    held = {signal.SIGTERM, signal.SIGINT}
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def pause_for_tests() -> None:
    """For tests only: with LOYALTY_TEST_PAUSE_WRITING=FILE, create FILE and wait (up to a minute) so that a
    test can send a signal while an output is half written. Does nothing otherwise."""
    marker = os.environ.get("LOYALTY_TEST_PAUSE_WRITING")
    if not marker:
        return
    with open_atomic(marker) as fh:
        fh.write("writing\n")
    time.sleep(60)


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
        st = target.stat()
    except FileNotFoundError:
        mode = _default_mode()
    else:
        if not stat.S_ISREG(st.st_mode):  # a folder, /dev/null, a pipe: renaming over it would be wrong
            raise IsADirectoryError(21 if stat.S_ISDIR(st.st_mode) else 22,
                                    "is a folder" if stat.S_ISDIR(st.st_mode) else "is not a regular file", str(path))
        mode = stat.S_IMODE(st.st_mode)
    with cleanup_on_signals():
        import tempfile

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


# ------------------------------------------------------------------ a folder written as a whole


class FolderInUse(Exception):
    """The folder to replace holds files that are not among those the writer owns."""

    def __init__(self, path: Path, foreign: list[str]) -> None:
        self.path, self.foreign = path, foreign
        super().__init__(f"{path}: holds {', '.join(foreign[:3])}{' ...' if len(foreign) > 3 else ''}")


def check_replaceable(path: Union[str, os.PathLike], owned: frozenset[str]) -> None:
    """Raise NotADirectoryError when `path` exists and is not a folder, FolderInUse when it holds anything
    but files named in `owned` (what an earlier run wrote): replacing it must not delete someone's files."""
    target = Path(os.path.realpath(path))
    if not target.exists():
        return
    if not target.is_dir():
        raise NotADirectoryError(20, "is not a folder", str(path))
    foreign = sorted(p.name for p in target.iterdir() if p.name not in owned or not p.is_file())
    if foreign:
        raise FolderInUse(Path(path), foreign)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 with RENAME_EXCHANGE); False where the OS or the file
    system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    from loyalty.clib import c_function

    renameat2 = c_function("renameat2", use_errno=True)
    if renameat2 is None:
        return False
    import ctypes

    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _put_in_place(new: Path, target: Path) -> None:
    """`new` (a complete folder) takes `target`'s place; the old folder is removed."""
    import shutil
    import tempfile

    if not target.exists():
        os.rename(new, target)  # atomic: the folder appears whole
        return
    if _exchange(new, target):  # atomic: readers see the old folder or the new one, never none
        shutil.rmtree(new, ignore_errors=True)
        return
    # Elsewhere two renames: between them `target` is briefly absent; the old folder is kept until the
    # new one is in place, and put back if that fails.
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old.tmp", dir=target.parent))
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def replace_directory(path: Union[str, os.PathLike], owned: frozenset[str] = frozenset()) -> Iterator[Path]:
    """A new, empty folder to write files into; when the block ends without an exception it replaces `path`
    as a whole (created with its parents if missing). A reader of `path` sees the previous files or the new
    ones, never a mix: on Linux the two folders are swapped in one step (renameat2 RENAME_EXCHANGE); where
    that is not available the old folder is renamed aside and the new one into place, so `path` is absent
    for the moment between the two renames. On an exception, SIGTERM or SIGINT the temporary folder is
    removed and `path` is left as it was. An existing `path` must hold only files named in `owned`
    (`check_replaceable`)."""
    import shutil  # (here, not at the top: ~5 ms of imports a run that writes no folder need not pay)
    import tempfile

    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    check_replaceable(target, owned)
    with cleanup_on_signals():
        new = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        placed = False
        try:
            os.chmod(new, _default_dir_mode())  # mkdtemp makes it private; a folder gets what mkdir gives
            yield new
            _fsync_directory(new)
            with _signals_held():
                check_replaceable(target, owned)
                _put_in_place(new, target)
                placed = True
        except BaseException:
            if not placed:
                shutil.rmtree(new, ignore_errors=True)
            raise
    _fsync_directory(target.parent)


def _default_dir_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask
