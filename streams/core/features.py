"""Per-user online features, updated one event at a time in bounded space.

Windows "over the last N days" are exponentially decayed sums with time constant N days:
an order N days old weighs e^-1 (0.37), one a day old weighs e^(-1/N). They need two
numbers per window instead of a list of events, so state per user stays small and fixed.

>>> from streams.core.events import decode_event
>>> f = UserFeatures()
>>> f.update(decode_event(b'{"type":"click","event_id":"1","user_id":"u","ts":1700000000000,'
...     b'"action":"add_to_cart","item_id":"i1","category":"shoes","price":40.0}'))
>>> (f.sessions, f.carts, f.cart_open, f.top_category())
(1, 1, True, 'shoes')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Final

from streams.core.events import (
    ITEM_WORK_LINES,
    AnyEvent,
    ClickEvent,
    ProfileEvent,
    PurchaseEvent,
    SearchEvent,
)
from streams.core.timefmt import MS_PER_DAY, MS_PER_MINUTE

SESSION_GAP_MS: Final = 30 * MS_PER_MINUTE
WINDOW_DAYS: Final = (7, 30, 90)
_TAU_MS: Final = tuple(days * MS_PER_DAY for days in WINDOW_DAYS)
TOP_CATEGORIES: Final = 5
CATEGORY_TAU_MS: Final = 30 * MS_PER_DAY
# Interest a behaviour shows in a category: a purchase says more than a view.
CATEGORY_WEIGHTS: Final = {
    "view": 1.0,
    "wishlist": 2.0,
    "add_to_cart": 3.0,
    "remove_from_cart": 0.0,
    "campaign_click": 1.0,
    "search": 1.0,
    "purchase": 5.0,
}
IPT_ALPHA: Final = 0.3
MAX_ATTRIBUTES: Final = 32


@dataclass(slots=True)
class UserFeatures:
    """Everything Pulse knows about one user's behaviour; times are epoch ms (0 = never)."""

    first_seen: int = 0
    last_seen: int = 0
    events: int = 0
    active_days: int = 0
    last_active_day: int = -1
    # Sessions: a gap of more than 30 minutes starts a new one.
    sessions: int = 0
    session_start: int = 0
    session_last: int = 0
    session_has_cart: bool = False
    session_purchased: bool = False
    session_views: int = 0
    session_searches: int = 0
    sessions_with_cart: int = 0
    cart_abandonments: int = 0
    cart_open: bool = False
    cart_opened_at: int = 0
    # Engagement counters (lifetime).
    views: int = 0
    carts: int = 0
    cart_removals: int = 0
    wishlists: int = 0
    campaign_clicks: int = 0
    searches: int = 0
    searches_no_results: int = 0
    searches_counted: int = 0  # searches that reported a result count (the share's base)
    # Purchases: lifetime, and decayed over 7/30/90 days as of `decay_ts`.
    orders: int = 0
    monetary: float = 0.0
    first_purchase: int = 0
    last_purchase: int = 0
    decay_ts: int = 0
    orders_7d: float = 0.0
    orders_30d: float = 0.0
    orders_90d: float = 0.0
    monetary_7d: float = 0.0
    monetary_30d: float = 0.0
    monetary_90d: float = 0.0
    discounted_orders: int = 0
    discount_total: float = 0.0
    ipt_days: float = -1.0
    # Top categories: decayed interest scores as of `category_ts`, at most TOP_CATEGORIES.
    category_ts: int = 0
    categories: dict[str, float] = field(default_factory=dict)
    # Profile (kept for campaigns): consent per channel, time zone, a few attributes.
    consent: dict[str, bool] = field(default_factory=dict)
    timezone: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def update(self, event: AnyEvent) -> None:
        """Fold one validated event into the features."""
        ts = event.ts
        if isinstance(event, ProfileEvent):
            self._update_profile(event)
            return
        if self.events == 0 or ts < self.first_seen:
            self.first_seen = ts
        self.last_seen = max(self.last_seen, ts)
        self.events += 1
        day = ts // MS_PER_DAY
        if day > self.last_active_day:
            self.active_days += 1
            self.last_active_day = day
        self._track_session(ts)
        if isinstance(event, ClickEvent):
            self._update_click(event)
        elif isinstance(event, SearchEvent):
            self.searches += 1
            self.session_searches += 1
            if event.results is not None:
                self.searches_counted += 1
                if event.results == 0:
                    self.searches_no_results += 1
            if event.category:
                self._add_interest(event.category, CATEGORY_WEIGHTS["search"], ts)
        else:
            self._update_purchase(event)

    def _track_session(self, ts: int) -> None:
        if self.sessions and ts - self.session_last <= SESSION_GAP_MS:
            if ts > self.session_last:
                self.session_last = ts
            return
        if self.sessions and ts < self.session_start:
            return  # a late event from an earlier session: counted, session state untouched
        if self.session_has_cart and not self.session_purchased:
            self.cart_abandonments += 1
        self.sessions += 1
        self.session_start = self.session_last = ts
        self.session_has_cart = self.session_purchased = False
        self.session_views = self.session_searches = 0

    def _update_click(self, event: ClickEvent) -> None:
        action = event.action
        if action == "view":
            self.views += 1
            self.session_views += 1
        elif action == "add_to_cart":
            self.carts += 1
            if not self.session_has_cart:
                self.session_has_cart = True
                self.sessions_with_cart += 1
            if not self.cart_open:
                self.cart_open = True
                self.cart_opened_at = event.ts
        elif action == "remove_from_cart":
            self.cart_removals += 1
        elif action == "wishlist":
            self.wishlists += 1
        else:
            self.campaign_clicks += 1
        if event.category:
            self._add_interest(event.category, CATEGORY_WEIGHTS[action], event.ts)

    def _update_purchase(self, event: PurchaseEvent) -> None:
        ts = event.ts
        if self.orders and ts > self.last_purchase:
            gap_days = (ts - self.last_purchase) / MS_PER_DAY
            self.ipt_days = (
                gap_days
                if self.ipt_days < 0
                else (IPT_ALPHA * gap_days + (1.0 - IPT_ALPHA) * self.ipt_days)
            )
        self.orders += 1
        self.monetary += event.total
        if self.first_purchase == 0 or ts < self.first_purchase:
            self.first_purchase = ts
        self.last_purchase = max(self.last_purchase, ts)
        self._add_decayed_purchase(event.total, ts)
        if event.discount > 0 or event.coupon:
            self.discounted_orders += 1
            self.discount_total += event.discount
        self.session_purchased = True
        self.cart_open = False
        self.cart_opened_at = 0
        weight = CATEGORY_WEIGHTS["purchase"]
        for item in event.items[:ITEM_WORK_LINES]:
            if item.category:
                self._add_interest(item.category, weight, ts)

    def _add_decayed_purchase(self, amount: float, ts: int) -> None:
        if ts >= self.decay_ts:
            if self.decay_ts:
                f7, f30, f90 = (math.exp((self.decay_ts - ts) / tau) for tau in _TAU_MS)
                self.orders_7d *= f7
                self.orders_30d *= f30
                self.orders_90d *= f90
                self.monetary_7d *= f7
                self.monetary_30d *= f30
                self.monetary_90d *= f90
            self.decay_ts = ts
            w7 = w30 = w90 = 1.0
        else:  # late purchase: add it with the weight it has as of decay_ts
            w7, w30, w90 = (math.exp((ts - self.decay_ts) / tau) for tau in _TAU_MS)
        self.orders_7d += w7
        self.orders_30d += w30
        self.orders_90d += w90
        self.monetary_7d += amount * w7
        self.monetary_30d += amount * w30
        self.monetary_90d += amount * w90

    def _add_interest(self, category: str, weight: float, ts: int) -> None:
        if weight <= 0.0:
            return
        scores = self.categories
        if ts > self.category_ts:
            if self.category_ts and scores:
                factor = math.exp((self.category_ts - ts) / CATEGORY_TAU_MS)
                for name in scores:
                    scores[name] *= factor
            self.category_ts = ts
        else:
            weight *= math.exp((ts - self.category_ts) / CATEGORY_TAU_MS)
        if category in scores:
            scores[category] += weight
        elif len(scores) < TOP_CATEGORIES:
            scores[category] = weight
        else:
            # Full: the newcomer takes the weakest slot only if it would rank above it.
            weakest = min(scores, key=lambda name: (scores[name], name))
            if weight > scores[weakest]:
                del scores[weakest]
                scores[category] = weight

    def _update_profile(self, event: ProfileEvent) -> None:
        self.consent.update(event.consent)
        if event.timezone is not None:
            self.timezone = event.timezone
        for key, value in event.attributes.items():
            if key in self.attributes or len(self.attributes) < MAX_ATTRIBUTES:
                self.attributes[key] = value

    # -- derived values, as of event time `now` -------------------------------------------

    def top_category(self) -> str:
        """The category with the highest decayed interest ('' when none)."""
        if not self.categories:
            return ""
        return max(self.categories, key=lambda name: (self.categories[name], name))

    def top_categories(self) -> list[str]:
        """Categories by decayed interest, strongest first."""
        return sorted(self.categories, key=lambda name: (-self.categories[name], name))

    def decayed(self, value: float, window_index: int, now: int) -> float:
        """A decayed window value brought forward from `decay_ts` to `now`."""
        if not value or now <= self.decay_ts:
            return value
        return value * math.exp((self.decay_ts - now) / _TAU_MS[window_index])

    # -- serialisation for tables and checkpoints ------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (copies the nested dicts, so the result owns its data)."""
        out = {name: getattr(self, name) for name in _FIELD_NAMES}
        out["categories"] = dict(self.categories)
        out["consent"] = dict(self.consent)
        out["attributes"] = dict(self.attributes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserFeatures:
        """Inverse of :meth:`to_dict`; unknown keys (from newer versions) are ignored."""
        known = {name: data[name] for name in _FIELD_NAMES if name in data}
        for name in ("categories", "consent", "attributes"):
            if name in known:
                known[name] = dict(known[name])
        return cls(**known)


_FIELD_NAMES: Final = tuple(f.name for f in fields(UserFeatures))
