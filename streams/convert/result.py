"""What a converter yields per source record, and writing the converted log."""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import orjson

from streams.core.timefmt import format_ts


@dataclass(frozen=True, slots=True)
class Converted:
    """A Pulse event (with its event time in ms, for sorting)."""

    ts: int
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Unmapped:
    """A source record that has no Pulse event: why, and where it was."""

    reason: str  # "unmapped" (a kind Pulse has no event for) or "bad_record"
    detail: str
    line: int
    record: str


@dataclass
class Outcome:
    events: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)  # by reason: detail


def _open(path: Path) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "wb")) if path.suffix == ".gz" else path.open("wb")


def unmapped_path(out: Path) -> Path:
    """`shop.jsonl.gz` → `shop.unmapped.jsonl`."""
    name = out.name.removesuffix(".gz").removesuffix(".jsonl")
    return out.with_name(f"{name}.unmapped.jsonl")


def write(results: Iterable[Converted | Unmapped], out: Path) -> Outcome:
    """Events sorted by event time (stable: ties keep the source's order) into `out`;
    unmapped records, with their reasons, into `unmapped_path(out)`."""
    outcome = Outcome()
    events: list[Converted] = []
    with unmapped_path(out).open("wb") as rejected:
        for result in results:
            if isinstance(result, Converted):
                events.append(result)
                continue
            outcome.unmapped[f"{result.reason}: {result.detail}"] += 1
            rejected.write(
                orjson.dumps(
                    {
                        "reason": result.reason,
                        "detail": result.detail,
                        "line": result.line,
                        "record": result.record[:2000],
                    }
                )
                + b"\n"
            )
    events.sort(key=lambda converted: converted.ts)
    with _open(out) as handle:
        for converted in events:
            handle.write(orjson.dumps(converted.event) + b"\n")
            outcome.by_type[converted.event["type"]] += 1
    outcome.events = len(events)
    return outcome


def iso(ms: int) -> str:
    return format_ts(ms)


def purchase(
    base: dict[str, Any], order_id: str, items: list[dict[str, Any]], total: Any, currency: str
) -> dict[str, Any]:
    """A Pulse purchase from a converted order: `total` as the source gave it, or (absent,
    not a number, negative) the sum of its lines.

    >>> order = purchase({"event_id": "e1"}, "o1", [{"price": 2.5, "quantity": 2}], None, "eur")
    >>> order["total"], order["currency"]
    (5.0, 'EUR')
    """
    if not isinstance(total, int | float) or isinstance(total, bool) or total < 0:
        total = round(sum(item["price"] * item["quantity"] for item in items), 2)
    return {
        "type": "purchase",
        **base,
        "order_id": order_id,
        "items": items,
        "total": float(total),
        "currency": currency.upper(),
    }


def parse_object(line: str, number: int) -> dict[str, Any] | Unmapped:
    """One source line as a JSON object, or why it is not one (`bad_record`)."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Unmapped("bad_record", f"not JSON: {exc}"[:200], number, line)
    if not isinstance(data, dict):
        return Unmapped("bad_record", "not a JSON object", number, line)
    return data


def line_item(item_id: Any, category: Any, price: Any, quantity: Any) -> dict[str, Any]:
    """A purchase line or a click's product: a negative or non-numeric price counts as 0, a
    missing or non-positive quantity as 1 (the category as the source gave it).

    >>> line_item("p1", "shoes", -2, 0)
    {'item_id': 'p1', 'category': 'shoes', 'price': 0.0, 'quantity': 1}
    """
    return {
        "item_id": str(item_id or ""),
        "category": category,
        "price": float(price) if isinstance(price, int | float) and price >= 0 else 0.0,
        "quantity": quantity if isinstance(quantity, int) and quantity >= 1 else 1,
    }
