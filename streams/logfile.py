"""Read recorded event logs: JSON Lines, plain or gzipped, one record per line."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast


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
        for line in self._stream:
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
