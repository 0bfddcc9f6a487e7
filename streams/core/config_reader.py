"""Reading typed values out of nested plain data, with every problem naming its line.

>>> reader = Reader("pulse.yaml", {("stream", "partitions"): 4})
>>> reader.number({"partitions": 0}, ("stream",), "partitions", 4, 1, True)
Traceback (most recent call last):
...
streams.core.errors.ConfigError: pulse.yaml:4: 'stream.partitions' must be >= 1, got 0 (fix: use a value of at least 1)
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from streams.core.errors import ConfigError

Path = tuple[str | int, ...]


class Reader:
    """Reads typed values from nested plain data, reporting problems with their line."""

    def __init__(self, file: str, lines: Mapping[Path, int]) -> None:
        self.file = file
        self.lines = lines

    def line(self, path: Path) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def fail(self, path: Path, problem: str, fix: str) -> ConfigError:
        return ConfigError(self.file, self.line(path), problem, fix)

    def mapping(self, data: object, path: Path, allowed: tuple[str, ...]) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise self.fail(path, f"'{dotted(path)}' must be a mapping", "use 'key: value' lines")
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                fix = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else f"allowed keys: {', '.join(allowed)}"
                )
                raise self.fail((*path, key), f"unknown key '{dotted((*path, key))}'", fix)
        return data

    def number(
        self,
        data: dict[str, Any],
        path: Path,
        key: str,
        default: float,
        minimum: float,
        integer: bool,
    ) -> Any:
        value = data.get(key, default)
        where = (*path, key)
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type:
            kind = "a whole number" if integer else "a number"
            raise self.fail(
                where,
                f"'{dotted(where)}' must be {kind}, got {value!r}",
                f"write e.g. {key}: {default}",
            )
        if value < minimum:
            raise self.fail(
                where,
                f"'{dotted(where)}' must be >= {minimum}, got {value}",
                f"use a value of at least {minimum}",
            )
        return value

    def share(self, data: dict[str, Any], path: Path, key: str, default: float, fix: str) -> float:
        """A number in [0, 1): a probability or a share of users."""
        value = float(self.number(data, path, key, default, 0, False))
        if value >= 1:
            where = (*path, key)
            raise self.fail(where, f"'{dotted(where)}' must be below 1, got {value}", fix)
        return value


def dotted(path: Path) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")
