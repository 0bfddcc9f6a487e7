"""Value segments: RFM tiers against the live customer population, and membership tiers.

R, F and M are each scored 1..5 by the user's mid-rank among current customers (last
purchase date, order count, lifetime spend), using :class:`BucketRanks`. Their sum (3..15)
picks the RFM tier, among the tiers whose conditions the customer meets (repeat orders,
tenure, a recent purchase: see `Tier`). Membership tiers use fixed spend thresholds. Both
have hysteresis on the score: a user moves down only when clearly below the tier's
threshold, so users near a boundary do not flap.

Tiers move with event time, not only at the customer's own purchases (when R is always
high): a customer is re-scored every `rescore_days` of event time, and exactly when their
last purchase grows too old for their tier (`value_due`), so a champion who stops buying
falls tier by tier while others buy.

>>> from streams.core.config import Tier
>>> tiers = (Tier("gold", 1000), Tier("silver", 250), Tier("bronze", 0))
>>> tier_with_hysteresis(990.0, "gold", tiers, lambda tier: tier.minimum * 0.9)
'gold'
>>> tier_with_hysteresis(880.0, "gold", tiers, lambda tier: tier.minimum * 0.9)
'silver'
>>> tier_with_hysteresis(1000.0, "silver", tiers, lambda tier: tier.minimum * 0.9)
'gold'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from streams.core.changes import Change
from streams.core.config import Tier, ValueConfig
from streams.core.feature_view import VARIABLES
from streams.core.features import UserFeatures
from streams.core.ranks import (
    FREQUENCY_BUCKETS,
    MONETARY_BUCKETS,
    RECENCY_BUCKETS,
    BucketRanks,
    frequency_bucket,
    monetary_bucket,
    quintile,
    recency_bucket,
)
from streams.core.state import UserState
from streams.core.timefmt import MS_PER_DAY

VALUE_DIMENSION: Final = "value_tier"
MEMBERSHIP_DIMENSION: Final = "membership"
PROSPECT: Final = "prospect"

CustomerKey = tuple[int, int, float]


def customer_key(features: UserFeatures) -> CustomerKey | None:
    """What the population ranks hold for a customer: (last purchase day, orders, spend)."""
    if not features.orders:
        return None
    return features.last_purchase // MS_PER_DAY, features.orders, features.monetary


class PopulationRanks:
    """Live distributions of recency, frequency and monetary value over customers."""

    __slots__ = ("frequency", "monetary", "recency")

    def __init__(self) -> None:
        self.recency = BucketRanks(recency_bucket, RECENCY_BUCKETS)
        self.frequency = BucketRanks(frequency_bucket, FREQUENCY_BUCKETS)
        self.monetary = BucketRanks(monetary_bucket, MONETARY_BUCKETS)

    def replace(self, old: CustomerKey | None, new: CustomerKey | None) -> None:
        if old == new:
            return
        if old is not None:
            self.recency.remove(old[0])
            self.frequency.remove(old[1])
            self.monetary.remove(old[2])
        if new is not None:
            self.recency.add(new[0])
            self.frequency.add(new[1])
            self.monetary.add(new[2])

    def scores(self, key: CustomerKey) -> tuple[int, int, int]:
        return (
            quintile(self.recency.midrank(key[0])),
            quintile(self.frequency.midrank(key[1])),
            quintile(self.monetary.midrank(key[2])),
        )

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {
            "recency": self.recency.to_dict(),
            "frequency": self.frequency.to_dict(),
            "monetary": self.monetary.to_dict(),
        }

    def load(self, data: dict[str, dict[str, int]]) -> None:
        self.recency.load(data.get("recency", {}))
        self.frequency.load(data.get("frequency", {}))
        self.monetary.load(data.get("monetary", {}))


def tier_with_hysteresis(
    value: float, current: str, tiers: tuple[Tier, ...], floor: Callable[[Tier], float]
) -> str:
    """The tier for `value` (tiers best first); leaving `current` downwards needs value < floor."""
    plain = next((tier.name for tier in tiers if value >= tier.minimum), tiers[-1].name)
    names = [tier.name for tier in tiers]
    if current not in names or names.index(plain) <= names.index(current):
        return plain  # first assignment, same tier, or an upgrade: immediate
    held = tiers[names.index(current)]
    return plain if value < floor(held) else current


def unmet(tier: Tier, features: UserFeatures, now: int) -> str | None:
    """Why a customer cannot hold `tier` at `now`, or None when they can.

    >>> f = UserFeatures(orders=1, first_purchase=0, last_purchase=0)
    >>> unmet(Tier("champions", 13, min_orders=3), f, 0)
    'champions needs 3 orders (has 1)'
    >>> unmet(Tier("loyal", 10, max_days_since_purchase=30), f, 31 * MS_PER_DAY + 1)
    'loyal needs a purchase in the last 30 days (last 31 days ago)'
    """
    failed = _failed_condition(tier, features, now)
    if failed == _ORDERS:
        return f"{tier.name} needs {tier.min_orders} orders (has {features.orders})"
    if failed == _TENURE:
        tenure = (now - features.first_purchase) / MS_PER_DAY
        return (
            f"{tier.name} needs {tier.min_tenure_days} days since the first order "
            f"(has {int(tenure)})"
        )
    if failed == _RECENCY:
        quiet = (now - features.last_purchase) / MS_PER_DAY
        return (
            f"{tier.name} needs a purchase in the last {tier.max_days_since_purchase} days "
            f"(last {int(quiet)} days ago)"
        )
    return None


_MET, _ORDERS, _TENURE, _RECENCY = range(4)


def _failed_condition(tier: Tier, features: UserFeatures, now: int) -> int:
    """The first of a tier's conditions a customer fails at `now` (`_MET`: none). Checked
    for every tier at every re-score, so no reason is written here (`unmet` does that)."""
    if features.orders < tier.min_orders:
        return _ORDERS
    if (now - features.first_purchase) / MS_PER_DAY < tier.min_tenure_days:
        return _TENURE
    quiet = (now - features.last_purchase) / MS_PER_DAY
    if tier.max_days_since_purchase and quiet > tier.max_days_since_purchase:
        return _RECENCY
    return _MET


def _held_tier(state: UserState, cfg: ValueConfig) -> Tier | None:
    """The RFM tier the customer holds (None for a prospect or no tier yet)."""
    return next((tier for tier in cfg.rfm_tiers if tier.name == state.value_tier), None)


RHYTHM: Final = 1.5  # "late" = this many of the customer's usual gaps since their last order


def within_rhythm(features: UserFeatures, now: int) -> bool:
    """Still inside their usual gap between orders (× 1.5): a monthly buyer two weeks after
    an order has not lapsed, however many others bought since.

    >>> f = UserFeatures(orders=4, last_purchase=0, ipt_days=30.0)
    >>> within_rhythm(f, 14 * MS_PER_DAY), within_rhythm(f, 50 * MS_PER_DAY)
    (True, False)
    """
    return features.ipt_days > 0 and (now - features.last_purchase) / MS_PER_DAY <= (
        RHYTHM * features.ipt_days
    )


def value_due(state: UserState, cfg: ValueConfig) -> int | None:
    """When a quiet customer's tier is next re-scored (None: not a customer).

    `rescore_days` after their last purchase, then at doubling gaps (7, 14, 28, 56 … days
    by default): recency sinks fastest just after an order, and a customer gone for a year
    needs a look every few months, not every week. Also exactly when their last purchase
    grows too old for the tier they hold.

    >>> from streams.core.config import ValueConfig
    >>> state = UserState("u", value_checked_day=20, value_tier="low")
    >>> state.features.orders, state.features.last_purchase = 1, 10 * MS_PER_DAY
    >>> value_due(state, ValueConfig()) // MS_PER_DAY  # day 10 + 14: the first step after day 20
    24
    """
    features = state.features
    if not features.orders or state.value_checked_day < 0:
        return None
    checked = (state.value_checked_day + 1) * MS_PER_DAY  # due steps strictly after that day
    step = cfg.rescore_days * MS_PER_DAY
    due = features.last_purchase + step
    while due < checked:
        step *= 2
        due = features.last_purchase + step
    held = _held_tier(state, cfg)
    if held is not None and held.max_days_since_purchase:
        # The first millisecond at which the last purchase is too old for the tier.
        too_old = features.last_purchase + held.max_days_since_purchase * MS_PER_DAY + 1
        due = min(due, max(too_old, state.value_checked_day * MS_PER_DAY + 1))
    return due


def evaluate_value(
    state: UserState, ranks: PopulationRanks, cfg: ValueConfig, now: int, cause: str | None
) -> list[Change]:
    """Re-score the user's RFM tier and membership; returns the changes."""
    state.value_checked_day = now // MS_PER_DAY
    key = customer_key(state.features)
    if key is None:
        if state.value_tier:
            return []
        change = _change(state, VALUE_DIMENSION, PROSPECT, "no purchase yet", now, cause)
        state.value_tier = PROSPECT
        return [change]
    state.rfm = ranks.scores(key)
    return [
        change
        for change in (_rfm_tier(state, cfg, now, cause), _membership(state, cfg, now, cause))
        if change is not None
    ]


def _rfm_tier(state: UserState, cfg: ValueConfig, now: int, cause: str | None) -> Change | None:
    """The RFM tier from the score, among the tiers whose conditions hold."""
    score = sum(state.rfm)
    margin = cfg.rfm_hysteresis_points
    features = state.features
    # Which tiers' conditions hold; their reasons are written only for a change (below).
    eligible = tuple(
        tier for tier in cfg.rfm_tiers if _failed_condition(tier, features, now) == _MET
    )
    tier = tier_with_hysteresis(
        score, state.value_tier, eligible, lambda held: held.minimum - margin
    )
    held = _held_tier(state, cfg)
    held_blocked = held is not None and held not in eligible
    if cause is None and _lower(tier, state.value_tier, cfg) and not held_blocked:
        if within_rhythm(state.features, now):
            return None  # not yet late by their own buying rhythm: no vote to fall
        # A fall on the score alone, found by event time (R sinks as others buy), must
        # hold at `downgrade_after_checks` re-scorings in a row: a customer who buys
        # every ten days is re-scored a week after each order, and must not flap.
        state.value_votes += 1
        if state.value_votes < cfg.downgrade_after_checks:
            return None
        tier = _one_below(state.value_tier, eligible)  # tier by tier, never a sudden drop
    state.value_votes = 0
    if tier == state.value_tier:
        return None
    r, f, m = state.rfm
    reason = f"rfm score {score} (r{r} f{f} m{m})"
    # Say which condition kept the customer out of (or took them out of) a better tier.
    by_score = next(t for t in cfg.rfm_tiers if score >= t.minimum)
    why_not = (unmet(held, features, now) if held is not None else None) or (
        None if by_score.name == tier else unmet(by_score, features, now)
    )
    if why_not:
        reason += f"; {why_not}"
    change = _change(state, VALUE_DIMENSION, tier, reason, now, cause)
    state.value_tier = tier
    return change


def _membership(state: UserState, cfg: ValueConfig, now: int, cause: str | None) -> Change | None:
    """The membership tier from its metric (lifetime spend by default)."""
    metric = VARIABLES[cfg.membership_metric].compute(state, now)
    assert isinstance(metric, int | float)
    share = cfg.membership_hysteresis
    member = tier_with_hysteresis(
        float(metric),
        state.membership,
        cfg.membership_tiers,
        lambda held: held.minimum * (1.0 - share),
    )
    if member == state.membership:
        return None
    reason = f"{cfg.membership_metric} {metric:.2f}"
    change = _change(state, MEMBERSHIP_DIMENSION, member, reason, now, cause)
    state.membership = member
    return change


def _one_below(current: str, eligible: tuple[Tier, ...]) -> str:
    names = [tier.name for tier in eligible]
    below = [name for name in names if names.index(name) > names.index(current)]
    return below[0] if below else current


def _lower(tier: str, current: str, cfg: ValueConfig) -> bool:
    names = [t.name for t in cfg.rfm_tiers]
    return current in names and names.index(tier) > names.index(current)


def _change(
    state: UserState, dimension: str, new: str, reason: str, ts: int, cause: str | None
) -> Change:
    old = state.value_tier if dimension == VALUE_DIMENSION else state.membership
    return Change(state.user_id, dimension, old, new, reason, ts, cause)
