"""Purchase logs shaped like real shops', for checking decisions off our own persona simulator.

Real transaction logs (a 1990s CD retailer, a 2010s gift wholesaler, …) share a shape the
persona simulator does not have, and decisions tuned without it do not transfer:

* **heterogeneous buyers** — each customer buys at their own Poisson rate λ ~ Gamma and
  lives for their own exponential lifetime with rate μ ~ Gamma (the Pareto/NBD story of
  Schmittlein, Morrison & Colombo 1987; note that this is *not* BG/NBD's drop-out-at-a-
  purchase story, so BG/NBD is a good but misspecified baseline here, as on real data);
* **one-off buyers dominate** — a large share never buys again;
* **wholesale baskets** — a few business customers buy often, with hundreds or thousands
  of lines per order;
* **seasons and holiday gaps** — a peak before Christmas, and the shop closed over the
  holidays (no events at all for about ten days);
* **same-day repeat orders** — a forgotten item bought minutes later;
* **any decade** — `start_ms` may be 1997 as well as 2026.

Everything comes from `random.Random` seeded by (seed, customer): the same arguments give
the same log. The ground truth records when each customer truly stopped.

>>> spec = RetailSpec(customers=50, days=200, seed=3, start_ms=852_076_800_000)  # 1997-01-01
>>> events = list(retail_events(spec)[0])
>>> all(e["type"] == "purchase" for e in events), events[0]["ts"][:4]
(True, '1997')
>>> [e["ts"] for e in events] == sorted(e["ts"] for e in events)
True
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streams.core.timefmt import MS_PER_DAY, MS_PER_MINUTE, format_ts

Entry = tuple[int, str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RetailSpec:
    customers: int
    days: int
    seed: int
    start_ms: int
    acquisition_share: float = 0.6  # customers' first orders fall in this share of the days
    one_off_share: float = 0.45  # customers who never buy again
    wholesale_share: float = 0.04  # business customers: frequent, very wide baskets
    views_per_order: float = 0.0  # product views around each order (0: a purchase-only log)
    currency: str = "GBP"


@dataclass(frozen=True, slots=True)
class RetailTruth:
    user_id: str
    kind: str  # "one_off", "retail" or "wholesale"
    first_ts: int
    churn_ts: int | None  # the end of their lifetime, when it falls inside the log

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "persona": self.kind,
            "signup_ts": format_ts(self.first_ts),
            "churn_ts": None if self.churn_ts is None else format_ts(self.churn_ts),
        }


def closed(ts: int) -> bool:
    """The shop is closed from 24 December to 2 January (no orders, no visits)."""
    day = datetime.fromtimestamp(ts / 1000, tz=UTC)
    return (day.month == 12 and day.day >= 24) or (day.month == 1 and day.day <= 2)


def season(ts: int) -> float:
    """Relative demand: 1 most of the year, up to 2.2 in the weeks before Christmas."""
    day_of_year = datetime.fromtimestamp(ts / 1000, tz=UTC).timetuple().tm_yday
    return 1.0 + 1.2 * math.exp(-(((day_of_year - 335) / 18.0) ** 2))


SEASON_PEAK = 2.2


class Customer:
    """One customer's orders, in time order (iterate)."""

    def __init__(self, spec: RetailSpec, index: int) -> None:
        self.spec = spec
        self.rng = rng = random.Random(f"retail:{spec.seed}:{index}")
        self.user_id = f"c{index:06d}"
        draw = rng.random()
        if draw < spec.wholesale_share:
            self.kind = "wholesale"
            self.rate = rng.gammavariate(2.0, 1 / 2.0 / 12.0)  # mean: an order every 12 days
            lifetime_rate = rng.gammavariate(1.0, 1 / 800.0)
        elif draw < spec.wholesale_share + spec.one_off_share:
            self.kind = "one_off"
            self.rate = 0.0
            lifetime_rate = math.inf
        else:
            self.kind = "retail"
            # Shape 0.6: most buy rarely, a few very often (mean one order per 50 days).
            self.rate = rng.gammavariate(0.6, 1 / 0.6 / 50.0)
            lifetime_rate = rng.gammavariate(0.9, 1 / 0.9 / 250.0)
        end = spec.start_ms + spec.days * MS_PER_DAY
        first = spec.start_ms + int(rng.uniform(0, spec.days * spec.acquisition_share) * MS_PER_DAY)
        while closed(first):
            first += MS_PER_DAY
        self.first_ts = first
        lifetime = 0.0 if math.isinf(lifetime_rate) else rng.expovariate(lifetime_rate)
        death = first + int(lifetime * MS_PER_DAY)
        self.death_ts = death if death < end else None
        self.end_ts = min(end, death)
        self.orders = 0
        self.counter = 0

    def truth(self) -> RetailTruth:
        return RetailTruth(self.user_id, self.kind, self.first_ts, self.death_ts)

    def events(self) -> Iterator[Entry]:
        yield from self._order(self.first_ts)
        if self.rate <= 0.0:
            return
        ts = self.first_ts
        while True:
            # Thinning: candidate times at the peak rate, kept with season / peak.
            ts += int(self.rng.expovariate(self.rate * SEASON_PEAK) * MS_PER_DAY) + MS_PER_MINUTE
            if ts >= self.end_ts:
                return
            if closed(ts) or self.rng.random() > season(ts) / SEASON_PEAK:
                continue
            yield from self._order(ts)
            if self.rng.random() < 0.05:  # a forgotten item, bought minutes later
                ts += int(self.rng.uniform(2, 90) * MS_PER_MINUTE)
                if ts < self.end_ts:
                    yield from self._order(ts)

    def _event(self, kind: str, ts: int, **fields: Any) -> Entry:
        self.counter += 1
        event_id = f"rt-{self.user_id}-{self.counter}"
        body = {"type": kind, "event_id": event_id, "user_id": self.user_id, "ts": format_ts(ts)}
        return ts, event_id, {**body, **fields}

    def _order(self, ts: int) -> Iterator[Entry]:
        rng = self.rng
        lines = self._lines()
        for item_id, category, price, _ in lines[: round(self.spec.views_per_order)]:
            ts += int(rng.uniform(10_000, 120_000))
            yield self._event(
                "click", ts, action="view", item_id=item_id, category=category, price=price
            )
        ts += int(rng.uniform(10_000, 60_000))
        self.orders += 1
        items = [
            {"item_id": item_id, "category": category, "price": price, "quantity": quantity}
            for item_id, category, price, quantity in lines
        ]
        total = round(sum(price * quantity for _, _, price, quantity in lines), 2)
        yield self._event(
            "purchase",
            ts,
            order_id=f"o-{self.user_id}-{self.orders}",
            items=items,
            total=total,
            currency=self.spec.currency,
        )

    def _lines(self) -> list[tuple[str, str, float, int]]:
        rng = self.rng
        if self.kind == "wholesale":
            # Median ~40 lines; one order in fifty is a stock-up of 1,000+ lines.
            width = int(rng.lognormvariate(math.log(40), 0.8))
            if rng.random() < 0.02:
                width = rng.randint(1000, 2500)
            quantity_range = (6, 48)
        else:
            width = 1 + int(rng.expovariate(1 / 2.0))
            quantity_range = (1, 3)
        lines = []
        for _ in range(max(1, min(width, 3000))):
            # Item popularity is heavy-tailed (Zipf-like over 4,000 items).
            rank = min(int(rng.paretovariate(1.1)), 4000)
            category = f"cat{rank % 40:02d}"
            price = round(0.5 + rng.lognormvariate(math.log(4.0 + rank % 17), 0.6), 2)
            lines.append((f"i{rank:05d}", category, price, rng.randint(*quantity_range)))
        return lines


def retail_events(spec: RetailSpec) -> tuple[Iterator[dict[str, Any]], list[Customer]]:
    """Every customer's events merged by time (ties by event id), and the customers."""
    customers = [Customer(spec, index) for index in range(spec.customers)]
    merged = heapq.merge(*(c.events() for c in customers), key=lambda entry: entry[:2])
    return (event for _, _, event in merged), customers
