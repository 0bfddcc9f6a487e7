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

from streams.core.events import BEHAVIOUR_KINDS, CLICK_ACTIONS
from streams.core.state import UserState
from streams.core.timefmt import MS_PER_DAY

Value = int | float | str | bool | list[str]


# What can change a variable: an event kind (a click's action, or the event type), or
# TIME (its value drifts as event time passes: decayed windows, recency).
TIME: Final = "time"
CLICKS: Final = CLICK_ACTIONS
BEHAVIOUR: Final = frozenset(BEHAVIOUR_KINDS)
PURCHASE: Final = frozenset({"purchase"})


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    kind: type
    description: str
    compute: Callable[[UserState, int], Value]
    changes_on: frozenset[str]


def _days_since(ts: int, now: int) -> float:
    return -1.0 if ts == 0 else max(0.0, (now - ts) / MS_PER_DAY)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


_DEFINITIONS: Final[
    list[tuple[str, type, str, Callable[[UserState, int], Value], frozenset[str]]]
] = [
    (
        "recency_days",
        float,
        "days since the last event of any kind (-1 before the first)",
        lambda s, now: _days_since(s.features.last_seen, now),
        frozenset(BEHAVIOUR | {TIME}),
    ),
    (
        "purchase_recency_days",
        float,
        "days since the last purchase (-1 if never purchased)",
        lambda s, now: _days_since(s.features.last_purchase, now),
        frozenset(PURCHASE | {TIME}),
    ),
    (
        "tenure_days",
        float,
        "days since first seen",
        lambda s, now: _days_since(s.features.first_seen, now),
        frozenset(BEHAVIOUR | {TIME}),
    ),
    (
        "events",
        int,
        "events seen (lifetime)",
        lambda s, now: s.features.events,
        frozenset(BEHAVIOUR),
    ),
    (
        "active_days",
        int,
        "distinct UTC days with activity",
        lambda s, now: s.features.active_days,
        frozenset(BEHAVIOUR),
    ),
    (
        "sessions",
        int,
        "sessions (30-minute inactivity gap)",
        lambda s, now: s.features.sessions,
        frozenset(BEHAVIOUR),
    ),
    ("views", int, "product views", lambda s, now: s.features.views, frozenset({"view"})),
    (
        "carts",
        int,
        "add-to-cart clicks",
        lambda s, now: s.features.carts,
        frozenset({"add_to_cart"}),
    ),
    (
        "cart_removals",
        int,
        "remove-from-cart clicks",
        lambda s, now: s.features.cart_removals,
        frozenset({"remove_from_cart"}),
    ),
    (
        "wishlists",
        int,
        "wishlist clicks",
        lambda s, now: s.features.wishlists,
        frozenset({"wishlist"}),
    ),
    (
        "campaign_clicks",
        int,
        "clicks on campaign messages",
        lambda s, now: s.features.campaign_clicks,
        frozenset({"campaign_click"}),
    ),
    ("searches", int, "searches", lambda s, now: s.features.searches, frozenset({"search"})),
    (
        "searches_no_results",
        int,
        "searches that found nothing",
        lambda s, now: s.features.searches_no_results,
        frozenset({"search"}),
    ),
    (
        "search_no_result_share",
        float,
        "share of searches that found nothing, among those reporting a result count (0..1)",
        lambda s, now: _ratio(s.features.searches_no_results, s.features.searches_counted),
        frozenset({"search"}),
    ),
    (
        "cart_open",
        bool,
        "items added to the cart since the last purchase",
        lambda s, now: s.features.cart_open,
        frozenset({"add_to_cart", "purchase"}),
    ),
    (
        "cart_abandonments",
        int,
        "sessions ended with a cart and no purchase",
        lambda s, now: s.features.cart_abandonments,
        frozenset(BEHAVIOUR),
    ),
    (
        "cart_abandonment_rate",
        float,
        "abandoned share of sessions with a cart (0..1)",
        lambda s, now: _ratio(s.features.cart_abandonments, s.features.sessions_with_cart),
        frozenset(BEHAVIOUR),
    ),
    ("orders", int, "purchases (lifetime)", lambda s, now: s.features.orders, frozenset(PURCHASE)),
    (
        "monetary",
        float,
        "spend (lifetime, order totals)",
        lambda s, now: s.features.monetary,
        frozenset(PURCHASE),
    ),
    (
        "orders_7d",
        float,
        "orders, decayed over 7 days",
        lambda s, now: s.features.decayed(s.features.orders_7d, 0, now),
        frozenset(PURCHASE | {TIME}),
    ),
    (
        "orders_30d",
        float,
        "orders, decayed over 30 days",
        lambda s, now: s.features.decayed(s.features.orders_30d, 1, now),
        frozenset(PURCHASE | {TIME}),
    ),
    (
        "orders_90d",
        float,
        "orders, decayed over 90 days",
        lambda s, now: s.features.decayed(s.features.orders_90d, 2, now),
        frozenset(PURCHASE | {TIME}),
    ),
    (
        "monetary_7d",
        float,
        "spend, decayed over 7 days",
        lambda s, now: s.features.decayed(s.features.monetary_7d, 0, now),
        frozenset(PURCHASE | {TIME}),
    ),
    (
        "monetary_30d",
        float,
        "spend, decayed over 30 days",
        lambda s, now: s.features.decayed(s.features.monetary_30d, 1, now),
        frozenset(PURCHASE | {TIME}),
    ),
    (
        "monetary_90d",
        float,
        "spend, decayed over 90 days",
        lambda s, now: s.features.decayed(s.features.monetary_90d, 2, now),
        frozenset(PURCHASE | {TIME}),
    ),
    (
        "avg_order_value",
        float,
        "average order total (0 before the first order)",
        lambda s, now: _ratio(s.features.monetary, s.features.orders),
        frozenset(PURCHASE),
    ),
    (
        "discount_share",
        float,
        "share of orders with a discount or coupon (price sensitivity)",
        lambda s, now: _ratio(s.features.discounted_orders, s.features.orders),
        frozenset(PURCHASE),
    ),
    (
        "discount_rate",
        float,
        "discount as a share of gross spend",
        lambda s, now: _ratio(
            s.features.discount_total, s.features.monetary + s.features.discount_total
        ),
        frozenset(PURCHASE),
    ),
    (
        "ipt_days",
        float,
        "inter-purchase gap in days, EWMA (-1 before the second order)",
        lambda s, now: s.features.ipt_days,
        frozenset(PURCHASE),
    ),
    (
        "top_category",
        str,
        "category with the highest decayed interest ('' if none)",
        lambda s, now: s.features.top_category(),
        frozenset(BEHAVIOUR),
    ),
    (
        "top_categories",
        list,
        "up to 5 categories by decayed interest",
        lambda s, now: s.features.top_categories(),
        frozenset(BEHAVIOUR),
    ),
    (
        "lifecycle",
        str,
        "lifecycle segment: new, active, dormant, churned, reactivated",
        lambda s, now: s.lifecycle,
        frozenset(BEHAVIOUR | {TIME}),
    ),
    (
        "value_tier",
        str,
        "RFM value tier (see config), 'prospect' before the first order",
        lambda s, now: s.value_tier,
        frozenset(PURCHASE | {TIME}),
    ),
    (
        "membership",
        str,
        "membership tier by spend (see config), '' before the first order",
        lambda s, now: s.membership,
        frozenset(PURCHASE | {TIME}),
    ),
    (
        "rfm_score",
        int,
        "R+F+M quintile scores (3..15, 0 before the first order)",
        lambda s, now: sum(s.rfm),
        frozenset(PURCHASE | {TIME}),
    ),
    (
        "consent_email",
        bool,
        "consents to email",
        lambda s, now: s.features.consent.get("email", False),
        frozenset({"profile"}),
    ),
    (
        "consent_sms",
        bool,
        "consents to SMS",
        lambda s, now: s.features.consent.get("sms", False),
        frozenset({"profile"}),
    ),
    (
        "consent_push",
        bool,
        "consents to push",
        lambda s, now: s.features.consent.get("push", False),
        frozenset({"profile"}),
    ),
]

VARIABLES: Final = {
    name: Variable(name, kind, text, fn, changes_on)
    for name, kind, text, fn, changes_on in _DEFINITIONS
}


def markdown_table() -> str:
    """The variables as a Markdown table, for docs/features.md."""
    rows = ["| name | type | meaning |", "|---|---|---|"]
    names = {int: "int", float: "double", str: "string", bool: "bool", list: "list<string>"}
    rows += [f"| `{v.name}` | {names[v.kind]} | {v.description} |" for v in VARIABLES.values()]
    return "\n".join(rows)
