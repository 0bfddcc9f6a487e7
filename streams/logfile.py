"""Read recorded event logs: JSON Lines, plain or gzipped, one record per line.

A damaged file is a `LogError` that says where, never a traceback; `sniff` names what a
file that is not a Pulse log looks like, so a command can say how to convert it.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast


class LogError(ValueError):
    """A log file that cannot be read to its end (a cut-short or damaged gzip file)."""


class LogReader:
    """Iterate raw lines (without the newline) and report progress in compressed bytes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.size = self.path.stat().st_size
        self._raw: IO[bytes] = self.path.open("rb")
        self._stream = (
            cast(IO[bytes], gzip.GzipFile(fileobj=self._raw, mode="rb"))
            if _is_gzip(self.path)
            else self._raw
        )

    def position(self) -> int:
        return self._raw.tell()

    def __iter__(self) -> Iterator[bytes]:
        """Every line, blank ones included (each is a record: an empty one is dead-lettered
        as malformed, so line numbers stay right and nothing vanishes). A UTF-8 BOM opening
        the file is dropped: spreadsheet exports write one, and it is not part of a record."""
        first = True
        lines = iter(self._stream)
        while True:
            try:
                line = next(lines)
            except StopIteration:
                return
            except (EOFError, OSError, zlib.error) as exc:  # BadGzipFile is an OSError
                raise LogError(
                    f"{self.path} is damaged or cut short near byte {self.position():,} of "
                    f"{self.size:,} ({exc})"
                ) from None
            if first:
                first = False
                line = line.removeprefix(b"\xef\xbb\xbf")
            yield line.rstrip(b"\r\n")

    def close(self) -> None:
        self._stream.close()
        self._raw.close()

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def sniff(path: str | Path) -> str:
    r"""What the start of a file looks like: "JSON Lines", "empty", "CSV (header: …)", …

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as f:
    ...     _ = f.write(b"event_time,event_type,product_id\n2019-10-01,view,1\n")
    >>> sniff(f.name)
    'CSV (header: event_time,event_type,product_id)'
    >>> os.unlink(f.name)
    """
    try:
        with LogReader(path) as reader:
            head: list[bytes] = []
            for line in reader:
                if line.strip():
                    head.append(line)
                if len(head) >= 3:
                    break
    except LogError:
        return "a damaged gzip file"
    if not head:
        return "empty"
    first = head[0].lstrip()
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data (not UTF-8 text)"
    if "\x00" in text or sum(not ch.isprintable() for ch in text) > len(text) // 10:
        return "binary data"
    if text.startswith("{"):
        return "JSON Lines"
    if text.startswith("["):
        return "a JSON array (Pulse reads one JSON object per line)"
    for separator, name in ((",", "CSV"), ("\t", "TSV"), (";", "CSV (;-separated)")):
        if separator in text:
            return f"{name} (header: {text[:120]})"
    return f"text that is not JSON (first line: {text[:80]!r})"
