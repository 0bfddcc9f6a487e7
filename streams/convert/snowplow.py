"""Snowplow's enriched events (as the Analytics SDKs' JSON) onto Pulse's contract.

One JSON object per line, as Snowplow's Analytics SDKs and Snowbridge's
`spEnrichedToJson` turn an enriched event into: atomic fields (`event_id`, `user_id`,
`domain_userid`, `derived_tstamp`, `collector_tstamp`), one key per self-describing event
(`unstruct_event_<vendor>_<name>_<major>`) and one per entity
(`contexts_<vendor>_<name>_<major>`, a list).

Mapped: the ecommerce plugin's action event (`product_view`, `add_to_cart`,
`remove_from_cart` become clicks on the first `product` entity; `transaction` becomes a
purchase of every `product` entity, totalled by the `transaction` entity) and
`site_search` (its `terms` joined as the query, `totalResults` as the result count).
The user is `user_id`, else `domain_userid`. Everything else (page views, list and promo
events, checkout steps, refunds, consent events) is unmapped with its name: send consent as
Pulse `profile` events.

>>> line = ('{"event_id":"e1","user_id":"u1","derived_tstamp":"2024-05-01T10:00:00.000Z",'
...   '"unstruct_event_com_snowplowanalytics_snowplow_ecommerce_snowplow_ecommerce_action_1":'
...   '{"type":"add_to_cart"},"contexts_com_snowplowanalytics_snowplow_ecommerce_product_1":'
...   '[{"id":"p1","category":"shoes","price":30,"currency":"EUR"}]}')
>>> event = convert_line(line, 1, "USD").event
>>> event["action"], event["item_id"], event["price"]
('add_to_cart', 'p1', 30.0)
"""

from __future__ import annotations

from typing import Any, Final

from streams.convert.result import (
    Converted,
    Unmapped,
    iso,
    line_item,
    parse_object,
    purchase,
)
from streams.core.timefmt import TimestampError, parse_ts

ACTION: Final = (
    "unstruct_event_com_snowplowanalytics_snowplow_ecommerce_snowplow_ecommerce_action_1"
)
SEARCH: Final = "unstruct_event_com_snowplowanalytics_snowplow_site_search_1"
PRODUCTS: Final = "contexts_com_snowplowanalytics_snowplow_ecommerce_product_1"
TRANSACTION: Final = "contexts_com_snowplowanalytics_snowplow_ecommerce_transaction_1"
CLICKS: Final = {
    "product_view": "view",
    "add_to_cart": "add_to_cart",
    "remove_from_cart": "remove_from_cart",
}


def _entities(event: dict[str, Any], key: str) -> list[dict[str, Any]]:
    found = event.get(key)
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


def _product(entity: dict[str, Any]) -> dict[str, Any]:
    category = entity.get("category") if isinstance(entity.get("category"), str) else None
    quantity = entity.get("quantity", 1)
    return line_item(entity.get("id"), category, entity.get("price"), quantity)


def _name(event: dict[str, Any]) -> str:
    """What kind of event it is, for an `unmapped` reason."""
    return str(event.get("event_name") or event.get("event") or "unknown")[:60]


def convert_line(line: str, number: int, currency: str) -> Converted | Unmapped:
    event = parse_object(line, number)
    if isinstance(event, Unmapped):
        return event
    user = event.get("user_id") or event.get("domain_userid")
    event_id = event.get("event_id")
    try:
        ts = parse_ts(event.get("derived_tstamp") or event.get("collector_tstamp"))
    except TimestampError as exc:
        return Unmapped("bad_record", str(exc)[:200], number, line)
    if not isinstance(user, str) or not user or not isinstance(event_id, str) or not event_id:
        return Unmapped("bad_record", "no user_id/domain_userid or event_id", number, line)
    base = {"event_id": event_id, "user_id": user, "ts": iso(ts)}
    action = event.get(ACTION)
    kind = action.get("type") if isinstance(action, dict) else None
    products = [p for p in map(_product, _entities(event, PRODUCTS)) if p["item_id"]]
    if kind in CLICKS:
        if not products:
            return Unmapped("bad_record", f"{kind} without a product entity", number, line)
        product = products[0]
        click = {"type": "click", **base, "action": CLICKS[kind], "item_id": product["item_id"]}
        click.update(category=product["category"], price=product["price"])
        return Converted(ts, click)
    if kind == "transaction":
        if not products:
            return Unmapped("bad_record", "transaction without product entities", number, line)
        found = _entities(event, TRANSACTION)
        transaction = found[0] if found else {}
        order_id = str(transaction.get("transaction_id") or event_id)
        order_currency = str(transaction.get("currency") or currency)
        order = purchase(base, order_id, products, transaction.get("revenue"), order_currency)
        return Converted(ts, order)
    if kind is not None:
        return Unmapped(
            "unmapped", f"ecommerce action {str(kind)[:40]!r} has no Pulse event", number, line
        )
    search = event.get(SEARCH)
    if isinstance(search, dict):
        terms = search.get("terms")
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
            return Unmapped("bad_record", "site_search without terms", number, line)
        found_search: dict[str, Any] = {"type": "search", **base, "query": " ".join(terms)[:1024]}
        if isinstance(search.get("totalResults"), int):
            found_search["results"] = search["totalResults"]
        return Converted(ts, found_search)
    return Unmapped("unmapped", f"{_name(event)} events have no Pulse event", number, line)
