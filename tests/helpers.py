"""Small builders for test events (plain dicts → bytes), so tests read like the contract."""

from __future__ import annotations

from typing import Any

import orjson

DAY = 86_400_000
HOUR = 3_600_000
MINUTE = 60_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z

_counter = 0


def _next_id() -> str:
    global _counter
    _counter += 1
    return f"t{_counter}"


def click(
    user: str,
    ts: int,
    action: str = "view",
    item: str = "i1",
    category: str = "shoes",
    price: float | None = 10.0,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": "click",
        "event_id": extra.pop("event_id", _next_id()),
        "user_id": user,
        "ts": ts,
        "action": action,
        "item_id": item,
        "category": category,
        "price": price,
        **extra,
    }


def search(
    user: str, ts: int, query: str = "shoes", results: int = 3, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "search",
        "event_id": extra.pop("event_id", _next_id()),
        "user_id": user,
        "ts": ts,
        "query": query,
        "results": results,
        **extra,
    }


def purchase(
    user: str, ts: int, total: float = 50.0, category: str = "shoes", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "purchase",
        "event_id": extra.pop("event_id", _next_id()),
        "user_id": user,
        "ts": ts,
        "order_id": extra.pop("order_id", _next_id()),
        "items": [{"item_id": "i1", "category": category, "price": total, "quantity": 1}],
        "total": total,
        "currency": "EUR",
        **extra,
    }


def profile(user: str, ts: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "profile",
        "event_id": extra.pop("event_id", _next_id()),
        "user_id": user,
        "ts": ts,
        **extra,
    }


def raw(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)
