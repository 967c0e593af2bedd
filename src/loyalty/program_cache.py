"""Compiled programs kept between runs, so a command that loads an unchanged program skips the parser.

Parsing, checking and compiling a program costs ~0.13 s of CPU in a fresh process (importing Lark and the
checker, building the parser from its tables, compiling the scanner's regexes: docs/performance.md), every
`loyalty simulate` run. A program that compiled without errors is written here as its compiled JSON (the
document `loyalty compile` prints, read back by `CompiledProgram.from_json` in ~2 ms, the way workers of a
`--jobs` run receive it). The key is a hash of the program file's bytes, the path it was given as, loyalty's
version, Python's and the time zone database's, and the size and modification time of every file of the loyalty
package: an edited program, another loyalty or an edited loyalty source tree is a miss, never a stale program.
Programs with errors are never stored, so their diagnostics are always printed as the checker finds them.

Where: `$LOYALTY_CACHE_DIR`, else `$XDG_CACHE_HOME/loyalty`, else `~/.cache/loyalty` (a `programs` folder).
`LOYALTY_NO_CACHE=1` turns it off. A folder that cannot be written is simply not used.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from loyalty.runtime.program import CompiledProgram

FORMAT = "loyalty-program-cache/1"  # part of every key: a new layout never reads an old entry
KEEP = 256  # entries kept; more are pruned, oldest first (each is a few kB)


def cache_dir() -> Optional[Path]:
    """The folder of compiled programs, or None when the cache is off."""
    if os.environ.get("LOYALTY_NO_CACHE", "") not in ("", "0"):
        return None
    base = os.environ.get("LOYALTY_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = os.path.join(xdg, "loyalty") if xdg else os.path.join(os.path.expanduser("~"), ".cache", "loyalty")
    return Path(base) / "programs"


_fingerprint: Optional[bytes] = None


def code_fingerprint() -> bytes:
    """What identifies the code that compiles: loyalty's version and every package file's path, size and
    modification time (and the source tree's grammar/, which the parser falls back to). ~1 ms."""
    global _fingerprint
    if _fingerprint is None:
        from loyalty import __version__

        package = Path(__file__).resolve().parent
        # the checker also reads the time zone database (is a zone known?) and Python's Unicode tables
        try:
            import tzdata

            zones = getattr(tzdata, "IANA_VERSION", "")
        except ImportError:
            zones = "no tzdata"
        parts = [FORMAT, __version__, sys.version, zones]
        for root in (package, package.parents[1] / "grammar"):
            if not root.is_dir():
                continue
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                for name in sorted(files):
                    if name.endswith((".py", ".lark", ".json")):
                        stat = os.stat(os.path.join(folder, name))
                        parts.append(f"{os.path.relpath(os.path.join(folder, name), root)}:{stat.st_size}:"
                                     f"{stat.st_mtime_ns}")
        _fingerprint = "\n".join(parts).encode("utf-8")
    return _fingerprint


def key_of(path: str, data: bytes) -> str:
    digest = hashlib.sha256(code_fingerprint())
    digest.update(b"\0" + str(path).encode("utf-8", "surrogatepass") + b"\0")
    digest.update(data)
    return digest.hexdigest()


def load_cached(path: str, compile_program: Callable[[], "CompiledProgram"]) -> "CompiledProgram":
    """The compiled program of the file at `path`: from the cache when this file (its bytes, as named) was
    compiled by this code before, else `compile_program()`, whose result is stored. A file that cannot be read
    is left to `compile_program`, which names the problem."""
    folder = cache_dir()
    if folder is None:
        return compile_program()
    try:
        data = Path(path).read_bytes()
    except OSError:
        return compile_program()
    entry = folder / f"{key_of(path, data)}.json"
    from loyalty.runtime.program import CompiledProgram  # noqa: F811 (at run time; above for the type checker)

    try:
        return CompiledProgram.from_json(entry.read_text(encoding="utf-8"))
    except Exception:  # not there, or unreadable (a damaged entry is never an error): compile, store it afresh
        pass
    program = compile_program()
    _store(folder, entry, program.to_json(indent=None))
    return program


def _store(folder: Path, entry: Path, text: str) -> None:
    """Write `entry` whole (a temporary file renamed over it), then prune; any OSError leaves the cache as it was."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, entry)
        except BaseException:
            with _quiet():
                os.unlink(tmp)
            raise
        entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        for old in entries[:max(0, len(entries) - KEEP)]:
            with _quiet():
                old.unlink()
    except OSError:
        pass


def _quiet():
    import contextlib

    return contextlib.suppress(OSError)
