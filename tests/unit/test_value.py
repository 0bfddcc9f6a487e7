"""Value tiers: RFM against the live population, membership by spend, both with hysteresis."""

from __future__ import annotations

from streams.core.config import Tier, build_config
from streams.core.pipeline import Pipeline
from streams.core.ranks import BucketRanks, monetary_bucket, quintile
from streams.core.value import tier_with_hysteresis
from tests.helpers import DAY, T0, purchase, raw

GOLD = (Tier("gold", 1000), Tier("silver", 250), Tier("bronze", 0))


def floor_10pct(tier: Tier) -> float:
    return tier.minimum * 0.9


def test_membership_near_a_threshold_does_not_flap() -> None:
    tier = "silver"
    history = []
    for spend in (1000, 980, 1005, 960, 999, 905):  # hovering just under gold's threshold
        tier = tier_with_hysteresis(spend, tier, GOLD, floor_10pct)
        history.append(tier)
    assert history == ["gold"] * 6
    assert tier_with_hysteresis(899, "gold", GOLD, floor_10pct) == "silver"


def test_bucket_ranks_add_remove_and_midrank() -> None:
    ranks = BucketRanks(monetary_bucket, 600)
    for amount in (10, 20, 30, 40, 1000):
        ranks.add(amount)
    assert quintile(ranks.midrank(1000)) == 5
    assert quintile(ranks.midrank(10)) == 1
    ranks.remove(1000)
    ranks.add(5)
    assert ranks.count == 5 and quintile(ranks.midrank(40)) == 5


def value_changes(outputs: list[dict], user: str, dimension: str) -> list[str]:
    return [o["to"] for o in outputs if o.get("dimension") == dimension and o["user_id"] == user]


def test_rfm_tiers_rank_users_against_each_other() -> None:
    pipeline = Pipeline(build_config({"stream": {"partitions": 1}}, "t.yaml"))
    events = []
    for index in range(10):  # ten customers spending 10, 20, ... 100, once
        events.append(purchase(f"c{index}", T0 + index, total=10.0 * (index + 1)))
    events += [purchase("whale", T0 + DAY + n, total=900.0) for n in range(5)]
    outputs = [o.value for e in events for o in pipeline.process(raw(e), {})]
    assert value_changes(outputs, "whale", "value_tier")[-1] == "champions"
    assert value_changes(outputs, "c0", "value_tier") == ["promising"]  # alone: all mid-ranks
    assert pipeline.partitions[0].ranks.monetary.count == 11


def test_membership_follows_lifetime_spend() -> None:
    pipeline = Pipeline(build_config({}, "t.yaml"))
    events = [purchase("u", T0 + n * DAY, total=300.0) for n in range(4)]
    outputs = [o.value for e in events for o in pipeline.process(raw(e), {})]
    assert value_changes(outputs, "u", "membership") == ["silver", "gold"]
