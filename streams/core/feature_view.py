"""The variables rule expressions can use: names, types, meanings and how to compute them.

Each variable is computed on demand, as of the event time being processed, so a rule only
pays for the variables it mentions. `docs/features.md` is generated from this table.

>>> from streams.core.state import UserState
>>> state = UserState("u1")
>>> state.features.orders, VARIABLES["orders"].compute(state, 0)
(0, 0)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from streams.core.state import UserState
from streams.core.timefmt import MS_PER_DAY

Value = int | float | str | bool | list[str]


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    kind: type
    description: str
    compute: Callable[[UserState, int], Value]


def _days_since(ts: int, now: int) -> float:
    return -1.0 if ts == 0 else max(0.0, (now - ts) / MS_PER_DAY)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


_DEFINITIONS: Final[list[tuple[str, type, str, Callable[[UserState, int], Value]]]] = [
    ("recency_days", float, "days since the last event of any kind (-1 before the first)",
     lambda s, now: _days_since(s.features.last_seen, now)),
    ("purchase_recency_days", float, "days since the last purchase (-1 if never purchased)",
     lambda s, now: _days_since(s.features.last_purchase, now)),
    ("tenure_days", float, "days since first seen",
     lambda s, now: _days_since(s.features.first_seen, now)),
    ("events", int, "events seen (lifetime)", lambda s, now: s.features.events),
    ("active_days", int, "distinct UTC days with activity", lambda s, now: s.features.active_days),
    ("sessions", int, "sessions (30-minute inactivity gap)", lambda s, now: s.features.sessions),
    ("views", int, "product views", lambda s, now: s.features.views),
    ("carts", int, "add-to-cart clicks", lambda s, now: s.features.carts),
    ("cart_removals", int, "remove-from-cart clicks", lambda s, now: s.features.cart_removals),
    ("wishlists", int, "wishlist clicks", lambda s, now: s.features.wishlists),
    ("campaign_clicks", int, "clicks on campaign messages",
     lambda s, now: s.features.campaign_clicks),
    ("searches", int, "searches", lambda s, now: s.features.searches),
    ("searches_no_results", int, "searches that found nothing",
     lambda s, now: s.features.searches_no_results),
    ("search_no_result_share", float, "share of searches that found nothing (0..1)",
     lambda s, now: _ratio(s.features.searches_no_results, s.features.searches)),
    ("cart_open", bool, "items added to the cart since the last purchase",
     lambda s, now: s.features.cart_open),
    ("cart_abandonments", int, "sessions ended with a cart and no purchase",
     lambda s, now: s.features.cart_abandonments),
    ("cart_abandonment_rate", float, "abandoned share of sessions with a cart (0..1)",
     lambda s, now: _ratio(s.features.cart_abandonments, s.features.sessions_with_cart)),
    ("orders", int, "purchases (lifetime)", lambda s, now: s.features.orders),
    ("monetary", float, "spend (lifetime, order totals)", lambda s, now: s.features.monetary),
    ("orders_7d", float, "orders, decayed over 7 days",
     lambda s, now: s.features.decayed(s.features.orders_7d, 0, now)),
    ("orders_30d", float, "orders, decayed over 30 days",
     lambda s, now: s.features.decayed(s.features.orders_30d, 1, now)),
    ("orders_90d", float, "orders, decayed over 90 days",
     lambda s, now: s.features.decayed(s.features.orders_90d, 2, now)),
    ("monetary_7d", float, "spend, decayed over 7 days",
     lambda s, now: s.features.decayed(s.features.monetary_7d, 0, now)),
    ("monetary_30d", float, "spend, decayed over 30 days",
     lambda s, now: s.features.decayed(s.features.monetary_30d, 1, now)),
    ("monetary_90d", float, "spend, decayed over 90 days",
     lambda s, now: s.features.decayed(s.features.monetary_90d, 2, now)),
    ("avg_order_value", float, "average order total (0 before the first order)",
     lambda s, now: _ratio(s.features.monetary, s.features.orders)),
    ("discount_share", float, "share of orders with a discount or coupon (price sensitivity)",
     lambda s, now: _ratio(s.features.discounted_orders, s.features.orders)),
    ("discount_rate", float, "discount as a share of gross spend",
     lambda s, now: _ratio(s.features.discount_total,
                           s.features.monetary + s.features.discount_total)),
    ("ipt_days", float, "inter-purchase gap in days, EWMA (-1 before the second order)",
     lambda s, now: s.features.ipt_days),
    ("top_category", str, "category with the highest decayed interest ('' if none)",
     lambda s, now: s.features.top_category()),
    ("top_categories", list, "up to 5 categories by decayed interest",
     lambda s, now: s.features.top_categories()),
    ("lifecycle", str, "lifecycle segment: new, active, dormant, churned, reactivated",
     lambda s, now: s.lifecycle),
    ("value_tier", str, "RFM value tier (see config), 'prospect' before the first order",
     lambda s, now: s.value_tier),
    ("membership", str, "membership tier by spend (see config), '' before the first order",
     lambda s, now: s.membership),
    ("rfm_score", int, "R+F+M quintile scores (3..15, 0 before the first order)",
     lambda s, now: sum(s.rfm)),
    ("consent_email", bool, "consents to email", lambda s, now: s.features.consent.get("email", False)),
    ("consent_sms", bool, "consents to SMS", lambda s, now: s.features.consent.get("sms", False)),
    ("consent_push", bool, "consents to push", lambda s, now: s.features.consent.get("push", False)),
]

VARIABLES: Final = {name: Variable(name, kind, text, fn) for name, kind, text, fn in _DEFINITIONS}


def markdown_table() -> str:
    """The variables as a Markdown table, for docs/features.md."""
    rows = ["| name | type | meaning |", "|---|---|---|"]
    names = {int: "int", float: "double", str: "string", bool: "bool", list: "list<string>"}
    rows += [f"| `{v.name}` | {names[v.kind]} | {v.description} |" for v in VARIABLES.values()]
    return "\n".join(rows)
