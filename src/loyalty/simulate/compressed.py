"""Compressed CSV histories (`.csv.gz`, `.csv.bz2`, `.csv.zst`), read as if they were plain.

The history reader works on a file it can scan more than once (the header, the shape of its records, the
rows in Arrow's parallel blocks, the lines of bad rows), so a compressed file is first decompressed, as a
stream, into a temporary file beside nothing else (the system's temporary folder), which is removed when
the reading is done. Messages name the compressed file, never the temporary one. gzip and bzip2 come with
Python; Zstandard comes with pyarrow (its `zstd` codec), so no other package is needed.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from loyalty.simulate.errors import InputError

# suffix -> (the codec's name in messages, how to open it)
CODECS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bzip2", ".zst": "Zstandard", ".zstd": "Zstandard"}


def compression_of(path: Path) -> str | None:
    return CODECS.get(path.suffix.lower())


def _open(path: Path, codec: str):
    if codec == "gzip":
        import gzip

        return gzip.open(path, "rb")
    if codec == "bzip2":
        import bz2

        return bz2.open(path, "rb")
    import pyarrow as pa

    return pa.input_stream(str(path), compression="zstd")


@contextlib.contextmanager
def decompressed(path: Path) -> Iterator[Path]:
    """A plain copy of a compressed file, for the length of the block. A file that is not what its suffix says
    (plain text named .gz, a truncated download) is an InputError naming the file and the codec."""
    codec = compression_of(path)
    if codec is None:
        yield path
        return
    import shutil  # (here: a plain history, the usual one, needs neither, nor random and bz2 and lzma with them)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="loyalty-history-") as tmp:
        suffix = Path(path.name).with_suffix("").suffix or ".csv"  # history.csv.gz -> .csv
        try:
            # a temporary file, in a folder of its own that goes when the block ends: not an output
            with _open(path, codec) as source, tempfile.NamedTemporaryFile(dir=tmp, suffix=suffix,
                                                                           delete=False) as target:
                shutil.copyfileobj(source, target, 1 << 20)
                plain = Path(target.name)
        except FileNotFoundError:
            raise InputError(f"{path}: no such file") from None
        except (OSError, EOFError, ValueError) as err:  # gzip.BadGzipFile and pyarrow's errors are OSErrors
            raise InputError(f"{path}: not a readable {codec} file ({err})",
                             hint=f"check that the file is {codec}-compressed and complete (its name ends in "
                                  f"{path.suffix}), or decompress it first") from None
        yield plain


def renamed(err: InputError, plain: Path, path: Path) -> InputError:
    """The error with the temporary file's name replaced by the compressed file's."""
    def fix(text):
        return None if text is None else text.replace(str(plain), str(path))

    err.message = fix(err.message)
    err.hint = fix(err.hint)
    err.also = tuple((fix(m), fix(h)) for m, h in err.also)
    err.args = (err.message,)
    return err
