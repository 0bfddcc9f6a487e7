"""Any CSV of shop events, described by a mapping file (YAML), onto Pulse's contract.

A mapping says which column holds the user, the time (and its format), the kind of event
and how each kind maps (`types:`), and where items, categories and prices are. Two ship
with Pulse (`streams/defaults/mappings/`): `rees46` (the REES46 store log) and `taobao`
(Alibaba's UserBehavior). Each row becomes one event, with the id `<id_prefix>-<line>`;
a purchase row is a one-line order.

>>> mapping = Mapping.from_dict({"user_id": "u", "ts": {"column": "t", "format": "epoch_seconds"},
...     "type": "k", "types": {"pv": {"type": "click", "action": "view"}}, "item_id": "i"}, "m")
>>> convert_row(mapping, {"u": "7", "t": "1511544070", "k": "pv", "i": "42"}, 2).event["ts"]
'2017-11-24T17:21:10.000Z'
>>> convert_row(mapping, {"u": "7", "t": "1511544070", "k": "buy", "i": "42"}, 3).detail
"type 'buy' has no mapping"
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from streams.convert.result import Converted, Unmapped, iso
from streams.core.errors import ConfigError
from streams.core.events import CLICK_ACTIONS
from streams.core.timefmt import TimestampError, parse_ts

SHIPPED = ("rees46", "taobao")
_TS_FORMATS = ("epoch_seconds", "epoch_ms", "iso")


@dataclass(frozen=True)
class Mapping:
    name: str
    header: bool
    columns: tuple[str, ...]
    delimiter: str
    id_prefix: str
    user_id: str
    ts_column: str
    ts_format: str
    type_column: str
    types: dict[str, dict[str, str]]
    item_id: str
    category: tuple[str, ...]
    price: str
    currency: str
    session_id: str

    @classmethod
    def from_dict(cls, data: Any, name: str) -> Mapping:
        def need(key: str) -> Any:
            if not isinstance(data, dict) or key not in data:
                raise ConfigError(name, None, f"the mapping has no '{key}'", _HINT)
            return data[key]

        ts = need("ts")
        ts_column, ts_format = (
            (ts.get("column"), ts.get("format", "iso")) if isinstance(ts, dict) else (ts, "iso")
        )
        if not isinstance(ts_column, str) or not (
            ts_format in _TS_FORMATS or (isinstance(ts_format, str) and "%" in ts_format)
        ):
            raise ConfigError(
                name,
                None,
                f"'ts' must name a column and a format ({', '.join(_TS_FORMATS)} or a strptime "
                f"pattern such as '%Y-%m-%d %H:%M:%S UTC'), got {ts!r}",
                _HINT,
            )
        types = need("types")
        if not isinstance(types, dict) or not types:
            raise ConfigError(name, None, "'types' must map source kinds to Pulse events", _HINT)
        for value, target in types.items():
            kind = target.get("type") if isinstance(target, dict) else None
            action = target.get("action") if isinstance(target, dict) else None
            if kind not in ("click", "purchase") or (
                kind == "click" and action not in CLICK_ACTIONS
            ):
                raise ConfigError(
                    name,
                    None,
                    f"types.{value}: {target!r} is not {{type: purchase}} or "
                    f"{{type: click, action: one of {', '.join(sorted(CLICK_ACTIONS))}}}",
                    _HINT,
                )
        category = data.get("category", ())
        header = bool(data.get("header", True))
        columns = tuple(str(c) for c in data.get("columns", ()))
        if not header and not columns:
            raise ConfigError(name, None, "a CSV without a header needs 'columns'", _HINT)
        return cls(
            name=name,
            header=header,
            columns=columns,
            delimiter=str(data.get("delimiter", ",")),
            id_prefix=str(data.get("id_prefix", Path(name).stem)),
            user_id=str(need("user_id")),
            ts_column=ts_column,
            ts_format=str(ts_format),
            type_column=str(need("type")),
            types={str(k): {str(a): str(b) for a, b in v.items()} for k, v in types.items()},
            item_id=str(need("item_id")),
            category=(category,) if isinstance(category, str) else tuple(category),
            price=str(data.get("price", "")),
            currency=str(data.get("currency", "USD")).upper(),
            session_id=str(data.get("session_id", "")),
        )


_HINT = "see streams/defaults/mappings/rees46.yaml for a complete mapping"


def load_mapping(name_or_path: str) -> Mapping:
    """A shipped mapping by name (`rees46`, `taobao`) or a mapping file."""
    if name_or_path in SHIPPED:
        text = (
            resources.files("streams") / "defaults" / "mappings" / f"{name_or_path}.yaml"
        ).read_text()
        return Mapping.from_dict(yaml.safe_load(text), name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(
            name_or_path,
            None,
            "no such mapping file",
            f"use one of {', '.join(SHIPPED)} or a YAML file",
        )
    return Mapping.from_dict(yaml.safe_load(path.read_text()), str(path))


def _ts(mapping: Mapping, text: str) -> int:
    if mapping.ts_format == "epoch_seconds":
        return int(float(text) * 1000)
    if mapping.ts_format == "epoch_ms":
        return int(float(text))
    if mapping.ts_format == "iso":
        return parse_ts(text)
    parsed = datetime.strptime(text, mapping.ts_format)  # noqa: DTZ007 - UTC unless it says
    if parsed.tzinfo is None:  # a pattern without an offset reads as UTC (say so in it)
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _price(text: str) -> float | None:
    if not text:
        return None
    value = float(text)
    return value if value >= 0 else None


def convert_row(mapping: Mapping, row: dict[str, str], line: int) -> Converted | Unmapped:
    record = mapping.delimiter.join(row.values())
    kind = row.get(mapping.type_column, "")
    target = mapping.types.get(kind)
    if target is None:
        return Unmapped("unmapped", f"type {kind[:40]!r} has no mapping", line, record)
    try:
        user = row[mapping.user_id]
        ts = _ts(mapping, row[mapping.ts_column])
        item = row[mapping.item_id]
        price = _price(row.get(mapping.price, "")) if mapping.price else None
    except (KeyError, ValueError, TimestampError, OverflowError) as exc:
        return Unmapped("bad_record", f"{type(exc).__name__}: {exc}"[:200], line, record)
    if not user or not item:
        return Unmapped("bad_record", "no user or item", line, record)
    category = next((row[c] for c in mapping.category if row.get(c)), None)
    event_id = f"{mapping.id_prefix}-{line}"
    base: dict[str, Any] = {"event_id": event_id, "user_id": user, "ts": iso(ts)}
    if target["type"] == "purchase":
        amount = price or 0.0
        event = {
            "type": "purchase",
            **base,
            "order_id": event_id,
            "items": [{"item_id": item, "category": category, "price": amount, "quantity": 1}],
            "total": amount,
            "currency": mapping.currency,
        }
    else:
        event = {
            "type": "click",
            **base,
            "action": target["action"],
            "item_id": item,
            "category": category,
            "price": price,
        }
        if mapping.session_id and row.get(mapping.session_id):
            event["session_id"] = row[mapping.session_id]
    return Converted(ts, event)


def convert(mapping: Mapping, lines: Iterator[str]) -> Iterator[Converted | Unmapped]:
    """Every data row of a CSV (an iterator of its text lines)."""
    reader = csv.reader(lines, delimiter=mapping.delimiter)
    columns = list(mapping.columns)
    line = 0
    for line, values in enumerate(reader, start=1):
        if line == 1 and mapping.header:
            columns = columns or values
            continue
        if not values or not any(values):
            continue
        if len(values) != len(columns):  # a cut-off last line, a stray delimiter
            record = mapping.delimiter.join(values)
            yield Unmapped(
                "bad_record", f"{len(values)} fields, expected {len(columns)}", line, record
            )
            continue
        yield convert_row(mapping, dict(zip(columns, values, strict=True)), line)


def read_text_lines(path: Path) -> Iterator[str]:
    """A CSV's lines as text (plain or gzipped), a UTF-8 BOM dropped."""
    from streams.logfile import LogReader

    with LogReader(path) as reader:
        for raw in reader:
            yield raw.decode("utf-8", "replace") if raw else ""
