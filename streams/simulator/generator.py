"""Generate a realistic, seeded event log: one generator per user, merged in time order.

Each user gets a persona, a sign-up time, a time zone and consent, then visits the shop
day by day. A visit is a session of searches, views, cart changes and maybe a purchase.
Churners stop visiting at a churn time recorded in the ground truth. Everything comes
from `random.Random` seeded by (seed, user), so the same arguments give the same log.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from streams.core.timefmt import MS_PER_DAY, MS_PER_HOUR, format_ts
from streams.simulator.catalog import Catalog
from streams.simulator.personas import PERSONAS, Persona

TIMEZONES = (
    ("Europe/London", 0),
    ("Europe/Berlin", 1),
    ("America/New_York", -5),
    ("America/Los_Angeles", -8),
    ("Asia/Tokyo", 9),
    ("Australia/Sydney", 10),
)
# Local hour-of-day weights: quiet nights, a lunch bump, busy evenings.
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 6, 8, 7, 5, 5, 5, 6, 8, 10, 11, 10, 7, 3)
QUERIES = (
    "shoes",
    "wireless headphones",
    "coffee beans",
    "gift",
    "sale",
    "dress",
    "laptop stand",
    "yoga mat",
    "face cream",
    "lego",
    "garden hose",
    "phone case",
)


@dataclass(frozen=True, slots=True)
class GroundTruth:
    user_id: str
    persona: str
    signup_ts: int
    churn_ts: int | None  # after this event time the user never comes back

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "persona": self.persona,
            "signup_ts": format_ts(self.signup_ts),
            "churn_ts": None if self.churn_ts is None else format_ts(self.churn_ts),
        }


@dataclass(frozen=True, slots=True)
class SimulationSpec:
    users: int
    days: int
    seed: int
    start_ms: int


def assign_persona(rng: random.Random) -> Persona:
    draw = rng.random()
    for persona in PERSONAS:
        draw -= persona.share
        if draw < 0:
            return persona
    return PERSONAS[-1]


class UserSimulation:
    """One simulated shopper; iterate to get their events in time order."""

    def __init__(self, spec: SimulationSpec, index: int, catalog: Catalog) -> None:
        self.spec = spec
        self.catalog = catalog
        self.rng = rng = random.Random(f"user:{spec.seed}:{index}")
        self.user_id = f"u{index:06d}"
        self.persona = assign_persona(rng)
        # 40% are existing customers at the start; the rest sign up over the first 70%.
        signup_day = 0.0 if rng.random() < 0.4 else rng.uniform(0.0, spec.days * 0.7)
        self.signup_ts = spec.start_ms + int(signup_day * MS_PER_DAY)
        self.timezone, self.utc_offset = rng.choice(TIMEZONES)
        self.favourites = rng.sample(catalog.categories, 3)
        self.churn_ts = self._draw_churn_time()
        self.activity = rng.lognormvariate(0.0, 0.5)  # some people just shop more
        self.counter = 0
        self.orders = 0

    def _draw_churn_time(self) -> int | None:
        if self.persona.churn != "gradual":
            return None
        return self.signup_ts + int(self.rng.uniform(20.0, 100.0) * MS_PER_DAY)

    def truth(self) -> GroundTruth:
        return GroundTruth(self.user_id, self.persona.name, self.signup_ts, self.churn_ts)

    def _event(self, kind: str, ts: int, **fields: Any) -> tuple[int, str, dict[str, Any]]:
        self.counter += 1
        event_id = f"sim-{self.user_id}-{self.counter}"
        return (
            ts,
            event_id,
            {
                "type": kind,
                "event_id": event_id,
                "user_id": self.user_id,
                "ts": format_ts(ts),
                **fields,
            },
        )

    def events(self) -> Iterator[tuple[int, str, dict[str, Any]]]:
        rng = self.rng
        yield self._event(
            "profile",
            self.signup_ts,
            consent={
                "email": rng.random() < 0.8,
                "sms": rng.random() < 0.3,
                "push": rng.random() < 0.5,
            },
            timezone=self.timezone,
            attributes={
                "age_band": rng.choice(("18-24", "25-34", "35-44", "45-54", "55+")),
                "region": self.timezone.split("/")[0].lower(),
                "signup_ts": format_ts(self.signup_ts),
            },
        )
        end_ms = self.spec.start_ms + self.spec.days * MS_PER_DAY
        day_start = self.signup_ts - (self.signup_ts - self.spec.start_ms) % MS_PER_DAY
        unsubscribe_at = (
            self.signup_ts + int(rng.uniform(5, 200) * MS_PER_DAY) if rng.random() < 0.03 else None
        )
        last_ts = self.signup_ts
        while day_start < end_ms:
            if unsubscribe_at is not None and unsubscribe_at < day_start + MS_PER_DAY:
                last_ts = max(unsubscribe_at, last_ts + 1_000)
                yield self._event("profile", last_ts, consent={"email": False})
                unsubscribe_at = None
            rate = self._visit_rate(day_start)
            if rate <= 0.0:
                break
            offsets = sorted(self._visit_offset() for _ in range(_poisson(rng, rate)))
            for offset in offsets:
                # Visits never overlap: a visit starts after the previous one ended.
                visit_ts = max(day_start + offset, last_ts + 60_000)
                if visit_ts < self.signup_ts or visit_ts >= end_ms:
                    continue
                if self.churn_ts is not None and visit_ts > self.churn_ts:
                    continue
                for entry in self._visit(visit_ts):
                    last_ts = entry[0]
                    yield entry
            day_start += MS_PER_DAY

    def _visit_rate(self, day_start: int) -> float:
        persona = self.persona
        rate = persona.visits_per_day * self.activity
        if persona.churn == "after_first_purchase" and self.orders:
            if self.churn_ts is None:
                # After the one order they linger a little, then leave for good.
                self.churn_ts = day_start + int(self.rng.uniform(0.0, 14.0) * MS_PER_DAY)
            if day_start > self.churn_ts:
                return 0.0
        if persona.churn == "gradual" and self.churn_ts is not None:
            if day_start > self.churn_ts:
                return 0.0
            # Interest fades towards the churn time.
            remaining = (self.churn_ts - day_start) / max(1, self.churn_ts - self.signup_ts)
            rate *= 0.25 + 0.75 * remaining
        return rate

    def _visit_offset(self) -> int:
        local_hour = self.rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        utc_hour = (local_hour - self.utc_offset) % 24
        return utc_hour * MS_PER_HOUR + int(self.rng.random() * MS_PER_HOUR)

    def _visit(self, ts: int) -> Iterator[tuple[int, str, dict[str, Any]]]:
        rng, persona = self.rng, self.persona
        session_id = f"s-{self.user_id}-{self.counter}"
        cart: list[tuple[str, str, float]] = []
        if rng.random() < persona.search_prob:
            for _ in range(1 + int(rng.random() < 0.4)):
                ts += int(rng.uniform(5_000, 40_000))
                empty = rng.random() < persona.no_result_prob
                yield self._event(
                    "search",
                    ts,
                    query=rng.choice(QUERIES),
                    results=0 if empty else rng.randint(1, 240),
                    category=rng.choice(self.favourites) if rng.random() < 0.5 else None,
                )
        for _ in range(1 + _poisson(rng, max(0.0, persona.views_per_visit - 1.0))):
            ts += int(rng.uniform(8_000, 120_000))
            category = (
                rng.choice(self.favourites)
                if rng.random() < 0.75
                else rng.choice(self.catalog.categories)
            )
            item = self.catalog.pick(rng, category)
            price = round(item.price * persona.price_scale, 2)
            yield self._event(
                "click",
                ts,
                action="view",
                item_id=item.item_id,
                category=category,
                price=price,
                session_id=session_id,
            )
            if rng.random() < persona.cart_prob:
                ts += int(rng.uniform(3_000, 30_000))
                cart.append((item.item_id, category, price))
                yield self._event(
                    "click",
                    ts,
                    action="add_to_cart",
                    item_id=item.item_id,
                    category=category,
                    price=price,
                    session_id=session_id,
                )
            elif rng.random() < 0.03:
                ts += int(rng.uniform(2_000, 10_000))
                yield self._event(
                    "click",
                    ts,
                    action="wishlist",
                    item_id=item.item_id,
                    category=category,
                    price=price,
                    session_id=session_id,
                )
        if cart and rng.random() < 0.1:
            item_id, category, price = cart.pop()
            ts += int(rng.uniform(3_000, 30_000))
            yield self._event(
                "click",
                ts,
                action="remove_from_cart",
                item_id=item_id,
                category=category,
                price=price,
                session_id=session_id,
            )
        if cart and rng.random() < persona.purchase_prob:
            yield self._purchase(ts + int(rng.uniform(20_000, 180_000)), cart)

    def _purchase(
        self, ts: int, cart: list[tuple[str, str, float]]
    ) -> tuple[int, str, dict[str, Any]]:
        rng = self.rng
        self.orders += 1
        items: list[dict[str, Any]] = [
            {
                "item_id": item_id,
                "category": category,
                "price": price,
                "quantity": 1 + int(rng.random() < 0.15),
            }
            for item_id, category, price in cart
        ]
        gross = sum(item["price"] * item["quantity"] for item in items)
        fields: dict[str, Any] = {
            "order_id": f"o-{self.user_id}-{self.orders}",
            "items": items,
            "currency": "EUR",
        }
        if rng.random() < self.persona.discount_prob:
            discount = round(gross * rng.choice((0.05, 0.1, 0.15, 0.2, 0.3)), 2)
            fields["discount"] = discount
            fields["coupon"] = rng.choice(("WELCOME10", "SPRING", "FLASH20", "VIP"))
        else:
            discount = 0.0
        fields["total"] = round(gross - discount, 2)
        return self._event("purchase", ts, **fields)


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; fine for the small means used here."""
    if mean <= 0.0:
        return 0
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def simulate(spec: SimulationSpec) -> tuple[Iterator[dict[str, Any]], list[UserSimulation]]:
    """All users' events merged by time (ties broken by event id), and the users."""
    catalog = Catalog(spec.seed)
    users = [UserSimulation(spec, index, catalog) for index in range(spec.users)]
    merged = heapq.merge(*(user.events() for user in users), key=lambda entry: entry[:2])
    return (event for _, _, event in merged), users
