"""Segment's (and RudderStack's, which follows it) e-commerce spec onto Pulse's contract.

One JSON object per line, as Segment's and RudderStack's warehouse and S3 exports write
them. `track` calls of the e-commerce spec become clicks, searches and purchases;
`identify` becomes a profile (time zone from `context.timezone`; consent only from an
explicit `traits.consent: {email: true, ...}` — nothing else from traits, which hold
personal data). Page, screen, group and alias calls, and other track events, are
unmapped, with their name.

>>> line = ('{"type":"track","event":"Product Added","userId":"u1","messageId":"m1",'
...         '"timestamp":"2024-05-01T10:00:00Z","properties":{"product_id":"p1","price":9.5}}')
>>> converted = convert_line(line, 1, "USD")
>>> converted.event["action"], converted.event["item_id"], converted.event["price"]
('add_to_cart', 'p1', 9.5)
"""

from __future__ import annotations

from typing import Any

from streams.convert.result import (
    Converted,
    Unmapped,
    iso,
    line_item,
    parse_object,
    purchase,
)
from streams.core.timefmt import TimestampError, parse_ts

# Spec event name -> click action (names as Segment and RudderStack write them).
CLICKS = {
    "Product Viewed": "view",
    "Product Clicked": "view",
    "Product Added": "add_to_cart",
    "Product Added to Cart": "add_to_cart",
    "Product Removed": "remove_from_cart",
    "Product Removed from Cart": "remove_from_cart",
    "Product Added to Wishlist": "wishlist",
}
SEARCHES = ("Products Searched", "Product Searched")
ORDERS = ("Order Completed",)


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _product(props: dict[str, Any]) -> dict[str, Any]:
    item_id = props.get("product_id") or props.get("sku") or props.get("id")
    quantity = props.get("quantity", 1)
    return line_item(item_id, props.get("category"), props.get("price"), quantity)


def convert_line(line: str, number: int, currency: str) -> Converted | Unmapped:
    call = parse_object(line, number)
    if isinstance(call, Unmapped):
        return call
    kind = call.get("type")
    user = call.get("userId") or call.get("anonymousId")
    event_id = call.get("messageId")
    try:
        ts = parse_ts(call.get("timestamp") or call.get("originalTimestamp"))
    except TimestampError as exc:
        return Unmapped("bad_record", str(exc)[:200], number, line)
    if not isinstance(user, str | int) or not isinstance(event_id, str) or not event_id:
        return Unmapped("bad_record", "no userId/anonymousId or messageId", number, line)
    base = {"event_id": event_id, "user_id": str(user), "ts": iso(ts)}
    props = _object(call, "properties")
    context = _object(call, "context")
    if kind == "identify":
        traits = _object(call, "traits")
        profile: dict[str, Any] = {"type": "profile", **base}
        if isinstance(context.get("timezone"), str):
            profile["timezone"] = context["timezone"]
        consent = traits.get("consent")
        if isinstance(consent, dict):
            profile["consent"] = {k: v for k, v in consent.items() if isinstance(v, bool)}
        return Converted(ts, profile)
    if kind != "track":
        return Unmapped("unmapped", f"{kind!s:.20} calls have no Pulse event", number, line)
    name = str(call.get("event", ""))
    if name in CLICKS:
        product = _product(props)
        if not product["item_id"]:
            return Unmapped("bad_record", f"{name} without product_id", number, line)
        event = {
            "type": "click",
            **base,
            "action": CLICKS[name],
            "item_id": product["item_id"],
            "category": product["category"],
            "price": product["price"],
        }
        return Converted(ts, event)
    if name in SEARCHES:
        query = props.get("query")
        if not isinstance(query, str):
            return Unmapped("bad_record", f"{name} without a query", number, line)
        search: dict[str, Any] = {"type": "search", **base, "query": query[:1024]}
        if isinstance(props.get("results"), int):  # the spec has no count: usually absent
            search["results"] = props["results"]
        return Converted(ts, search)
    if name in ORDERS:
        listed = props.get("products")
        products: list[Any] = listed if isinstance(listed, list) else []
        items = [_product(p) for p in products if isinstance(p, dict)]
        items = [item for item in items if item["item_id"]]
        if not items:
            return Unmapped("bad_record", "Order Completed without products", number, line)
        order_id = str(props.get("order_id") or event_id)
        total = props.get("total", props.get("revenue"))
        order_currency = str(props.get("currency") or currency)
        return Converted(ts, purchase(base, order_id, items, total, order_currency))
    return Unmapped("unmapped", f"track event {name[:60]!r} has no Pulse event", number, line)
