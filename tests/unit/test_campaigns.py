"""Campaigns in the pipeline: every trigger, every policy outcome, erasure, determinism."""

from __future__ import annotations

from typing import Any

import pytest

from models.suite import suite_factory
from streams.core.config import PulseConfig, build_config
from streams.core.errors import ConfigError
from streams.core.pipeline import Pipeline
from streams.core.timefmt import parse_ts
from tests.helpers import DAY, HOUR, MINUTE, T0, click, profile, purchase, raw, search

NOON = T0 + 12 * HOUR
CONSENT = {"email": True, "push": True, "sms": False}


def pipeline(campaigns: list[dict[str, Any]], **policy: Any) -> Pipeline:
    config = build_config(
        {
            "stream": {"partitions": 1, "allowed_lateness_minutes": 0},
            "campaigns": {
                "policy": {"global_control": 0.0, "quiet_hours": {"start": 0, "end": 0}, **policy},
                "active": campaigns,
            },
        },
        "t.yaml",
    )
    return Pipeline(config, suite_factory(config))


def camp(name: str, trigger: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "trigger": trigger,
        "channels": ["email", "push"],
        "template": f"{name}_v1",
        "holdout": 0.0,
        **extra,
    }


def feed(p: Pipeline, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for number, event in enumerate(events, start=1):
        # (campaign-sends repeats each campaign_message: tested on its own below)
        out += [
            o.value for o in p.process(raw(event), {"line": number}) if o.topic != "campaign-sends"
        ]
    others = ("segment_change", "churn_risk", "campaign_stats", "user_profile")
    return [v for v in out if v["type"] not in others]


def kinds(values: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(v["type"], v.get("campaign", ""), v.get("reason", "")) for v in values]


def signup(user: str, ts: int, **consent: bool) -> dict[str, Any]:
    return profile(user, ts, consent=consent or CONSENT)


def test_entering_a_segment_sends_once_with_an_id_from_user_campaign_and_cause() -> None:
    p = pipeline([camp("welcome", {"segment": {"dimension": "lifecycle", "to": "new"}})])
    out = feed(
        p,
        [
            signup("a", NOON),
            click("a", NOON + MINUTE, event_id="first-click"),
            click("a", NOON + 2 * MINUTE),
        ],
    )
    assert kinds(out) == [("campaign_message", "welcome", "")]
    message = out[0]
    assert message["channel"] == "email" and message["template"] == "welcome_v1"
    assert message["cause_event_id"] == "first-click"
    again = feed(
        pipeline([camp("welcome", {"segment": {"dimension": "lifecycle", "to": "new"}})]),
        [
            signup("a", NOON),
            click("a", NOON + MINUTE, event_id="first-click"),
            click("a", NOON + 2 * MINUTE),
        ],
    )
    assert again[0]["id"] == message["id"]


def test_leaving_a_segment_and_a_watermark_driven_move_trigger_too() -> None:
    p = pipeline(
        [
            camp("graduated", {"segment": {"dimension": "lifecycle", "from": "new"}}, priority=1),
            camp(
                "reactivate", {"segment": {"dimension": "lifecycle", "to": "dormant"}}, priority=2
            ),
        ]
    )
    events = [signup("a", NOON), click("a", NOON + MINUTE)]
    events += [click("b", NOON + d * DAY) for d in range(1, 32)]  # only b moves event time on
    out = [v for v in feed(p, events) if v["user_id"] == "a"]
    assert kinds(out) == [
        ("campaign_message", "graduated", ""),
        ("campaign_message", "reactivate", ""),
    ]
    assert out[1]["cause_event_id"] is None  # fired by the watermark, not by a's events


def band_config(inactive: int | None, high: float) -> PulseConfig:
    winback: dict = {"churn_band": "high"}
    if inactive is not None:
        winback["min_days_inactive"] = inactive
    return build_config(
        {
            "stream": {"partitions": 1, "allowed_lateness_minutes": 0},
            "models": {"churn": {"bands": {"medium": 0.3, "high": high}}},
            "campaigns": {
                "policy": {"global_control": 0.0, "quiet_hours": {"start": 0, "end": 0}},
                "active": [
                    camp("thanks", {"event": "first_purchase"}, priority=5),
                    camp("winback", winback, priority=9, coupon={"base_percent": 10}),
                ],
            },
        },
        "t.yaml",
    )


def test_a_purchase_never_triggers_a_win_back_but_risk_rising_while_quiet_does() -> None:
    # A first order scores 0.5 (BG/NBD's weak prior): medium. Thirty quiet days later the
    # watermark rescores the customer (0.63): high, after 14+ days without a purchase.
    p = Pipeline(band_config(None, 0.55), suite_factory(band_config(None, 0.55)))
    out = feed(p, [signup("a", NOON), purchase("a", NOON + HOUR)])
    assert kinds(out) == [("campaign_message", "thanks", "")]
    later = [v for v in feed(p, [click("b", NOON + 31 * DAY)]) if v["user_id"] == "a"]
    assert kinds(later) == [("campaign_message", "winback", "")]
    assert later[0]["cause_event_id"] is None  # the watermark's rescoring, not an event


def test_first_purchase_and_churn_band_triggers_and_arbitration_by_priority() -> None:
    # With no inactivity asked for, the first order's score (0.5) is already "high".
    config = band_config(0, 0.5)
    p = Pipeline(config, suite_factory(config))
    out = feed(p, [signup("a", NOON), purchase("a", NOON + HOUR)])
    assert kinds(out) == [
        ("campaign_message", "winback", ""),
        ("message_suppressed", "thanks", "arbitration"),
    ]
    assert "winback has a higher priority" in out[1]["detail"]
    assert out[0]["content"]["coupon_percent"] == 10  # no discounts used: the base size


def test_cart_abandoned_fires_in_event_time_and_not_when_the_user_buys() -> None:
    campaigns = [camp("cart", {"event": "cart_abandoned", "minutes": 60})]
    left = feed(
        pipeline(campaigns),
        [
            signup("a", NOON),
            click("a", NOON + MINUTE, action="add_to_cart"),
            click("b", NOON + 30 * MINUTE),
            click("b", NOON + 2 * HOUR),
        ],
    )
    assert kinds(left) == [("campaign_message", "cart", "")]
    assert left[0]["trigger_ts"] == "2026-01-01T13:01:00.000Z"
    bought = feed(
        pipeline(campaigns),
        [
            signup("a", NOON),
            click("a", NOON + MINUTE, action="add_to_cart"),
            purchase("a", NOON + 20 * MINUTE),
            click("b", NOON + 3 * HOUR),
        ],
    )
    assert kinds(bought) == []


def test_browse_and_search_sessions_without_a_purchase() -> None:
    p = pipeline(
        [
            camp("browse", {"event": "browse_abandoned", "minutes": 30}),
            camp(
                "search",
                {"event": "search_abandoned", "minutes": 30, "min_searches": 2},
                channels=["push"],
            ),
        ],
        frequency_caps={"channel_per_day": 5, "channel_per_week": 10, "all_per_week": 10},
    )
    out = feed(
        p,
        [
            signup("a", NOON),
            signup("s", NOON),
            click("a", NOON + MINUTE),  # a views, then leaves
            search("s", NOON + MINUTE),  # s searches twice, then leaves
            search("s", NOON + 2 * MINUTE),
            signup("z", NOON + 3 * HOUR),
        ],
    )
    fired = sorted((v["user_id"], v["campaign"], v["type"]) for v in out)
    assert fired == [("a", "browse", "campaign_message"), ("s", "search", "campaign_message")]


def test_quiet_hours_defer_then_send_and_an_unsubscribe_in_between_wins() -> None:
    campaigns = [camp("welcome", {"segment": {"dimension": "lifecycle", "to": "new"}})]
    night = T0 + 23 * HOUR  # 23:00 UTC
    quiet = {"quiet_hours": {"start": 21, "end": 8}}
    sent = feed(
        pipeline(campaigns, **quiet),
        [signup("a", night), click("a", night + MINUTE), profile("z", T0 + DAY + 9 * HOUR)],
    )
    assert kinds(sent) == [
        ("message_deferred", "welcome", "quiet_hours"),
        ("campaign_message", "welcome", ""),
    ]
    assert sent[0]["send_at"] == "2026-01-02T08:00:00.000Z"
    assert sent[1]["ts"] == "2026-01-02T09:00:00.000Z"  # when event time showed 08:00 passed
    stopped = feed(
        pipeline(campaigns, **quiet),
        [
            signup("a", night),
            click("a", night + MINUTE),
            profile("a", night + HOUR, consent={"email": False, "push": False}),
            profile("z", T0 + DAY + 9 * HOUR),
        ],
    )
    assert kinds(stopped) == [
        ("message_deferred", "welcome", "quiet_hours"),
        ("message_suppressed", "welcome", "no_consent"),
    ]


def test_every_candidate_is_an_event_even_without_consent_and_caps_hold() -> None:
    p = pipeline(
        [
            camp(
                "browse",
                {"event": "browse_abandoned", "minutes": 10},
                cooldown_days=0,
                channels=["email"],
            )
        ],
        frequency_caps={"channel_per_day": 1, "channel_per_week": 3, "all_per_week": 5},
    )
    events = [signup("a", NOON), signup("n", NOON, email=False, push=False)]
    for d in range(4):
        for user in ("a", "n"):
            events.append(click(user, NOON + d * 26 * HOUR))
        # Someone else's visit moves event time on while the message is fresh (a decision
        # only made at the next visit, 26 h later, would be past the 24 h expiry).
        events.append(click("z", NOON + d * 26 * HOUR + 15 * MINUTE))
    out = feed(p, events)
    by_user = {u: kinds([v for v in out if v["user_id"] == u]) for u in ("a", "n")}
    assert by_user["n"] == [("message_suppressed", "browse", "no_consent")] * 4
    # Visits 26 hours apart: the rolling daily cap never bites, the weekly cap (3) does.
    assert by_user["a"] == [("campaign_message", "browse", "")] * 3 + [
        ("message_suppressed", "browse", "frequency_cap")
    ]
    assert len({v["id"] for v in out}) == len(out)  # one id per cause


def test_holdout_users_are_counted_and_converted_but_never_messaged() -> None:
    p = pipeline([camp("browse", {"event": "browse_abandoned", "minutes": 10}, holdout=0.5)])
    events = [signup(f"u{i}", NOON) for i in range(40)]
    events += [click(f"u{i}", NOON + MINUTE) for i in range(40)]
    events += [purchase(f"u{i}", NOON + 2 * HOUR) for i in range(40)]
    out = feed(p, events)
    held = {v["user_id"] for v in out if v.get("reason") == "holdout"}
    messaged = {v["user_id"] for v in out if v["type"] == "campaign_message"}
    assert held and messaged and not held & messaged and len(held | messaged) == 40
    groups = p.partitions[0].ledger.groups
    assert groups["browse|default|holdout"][:2] == [len(held), len(held)]
    assert groups["browse|default|treatment"][:2] == [len(messaged), len(messaged)]


def test_erasure_removes_state_and_pending_messages_and_confirms() -> None:
    campaigns = [camp("welcome", {"segment": {"dimension": "lifecycle", "to": "new"}})]
    p = pipeline(campaigns, quiet_hours={"start": 21, "end": 8})
    night = T0 + 23 * HOUR
    out = feed(
        p,
        [
            signup("a", night),
            click("a", night + MINUTE),
            profile("a", night + HOUR, erase=True),
            profile("z", T0 + DAY + 9 * HOUR),
        ],
    )
    assert kinds(out)[:1] == [("message_deferred", "welcome", "quiet_hours")]
    assert [v["type"] for v in out if v["user_id"] == "a"][-1] == "erasure_confirmed"
    assert not any(v["type"] == "campaign_message" and v["user_id"] == "a" for v in out)
    assert p.partitions[0].store.get("a") is None
    # Back without consent: a new, empty state and no message.
    later = feed(p, [click("a", T0 + 2 * DAY)])
    assert kinds(later) == [("message_suppressed", "welcome", "no_consent")]


@pytest.mark.parametrize(
    ("campaign", "message"),
    [
        (
            {
                "name": "x",
                "trigger": {"event": "cart_left"},
                "channels": ["email"],
                "template": "t",
            },
            "campaign 'x'",
        ),
        (
            {
                "name": "x",
                "trigger": {"event": "first_purchase"},
                "channels": ["fax"],
                "template": "t",
            },
            "'channels'",
        ),
        (
            {
                "name": "x",
                "trigger": {"segment": {"dimension": "lifecycle", "to": "asleep"}},
                "channels": ["email"],
                "template": "t",
            },
            "lifecycle has no value 'asleep'",
        ),
        (
            {
                "name": "x",
                "trigger": {"event": "first_purchase"},
                "channels": ["email"],
                "template": "t",
                "audience": "orders >>= 2",
            },
            "audience rule",
        ),
        (
            {"name": "x", "trigger": {"event": "first_purchase"}, "channels": ["email"]},
            "no 'template'",
        ),
    ],
)
def test_bad_campaigns_are_refused_at_start_up_naming_campaign_and_line(
    campaign: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=r"pulse\.yaml:42") as error:
        build_config(
            {"campaigns": {"active": [campaign]}}, "pulse.yaml", {("campaigns", "active", 0): 42}
        )
    assert message in str(error.value) and "fix:" in str(error.value)


def test_nothing_stays_due_behind_the_watermark_on_a_simulated_log() -> None:
    """Every timer a user has is in the past of the watermark only until it is handled: a
    trigger that reports a due time but never fires would be re-checked forever."""
    from streams.config_loader import load_config
    from streams.core.timefmt import parse_ts
    from streams.simulator.generator import SimulationSpec, simulate

    config = load_config(None)
    p = Pipeline(config, suite_factory(config))
    events, _ = simulate(SimulationSpec(150, 20, 3, parse_ts("2026-02-02T00:00:00Z")))
    for number, event in enumerate(events):
        p.process(raw(event), {"line": number})
    for partition in p.partitions:
        for state in partition.store.values():
            assert state.due > partition.watermark, (state.user_id, state.due, partition.watermark)


def test_a_deferred_message_released_after_a_quiet_spell_past_its_expiry_is_not_sent() -> None:
    campaigns = [
        camp("welcome", {"segment": {"dimension": "lifecycle", "to": "new"}}, expiry_hours=12)
    ]
    night = T0 + 23 * HOUR  # deferred to 08:00, expires at 11:00
    quiet = {"quiet_hours": {"start": 21, "end": 8}}
    out = feed(
        pipeline(campaigns, **quiet),
        [signup("a", night), click("a", night + MINUTE), profile("z", T0 + DAY + 14 * HOUR)],
    )
    assert kinds(out) == [
        ("message_deferred", "welcome", "quiet_hours"),
        ("message_suppressed", "welcome", "expired"),
    ]
    assert "after the message's expiry" in out[1]["detail"]


def test_with_consent_managed_by_the_provider_only_a_refusal_stops_a_message() -> None:
    campaigns = [camp("welcome", {"segment": {"dimension": "lifecycle", "to": "new"}})]
    p = pipeline(campaigns, consent_source="external")
    out = feed(
        p,
        [
            click("a", NOON),  # no profile event at all
            profile("b", NOON, consent={"email": False, "push": False}),
            click("b", NOON + MINUTE),
        ],
    )
    assert kinds(out) == [
        ("campaign_message", "welcome", ""),
        ("message_suppressed", "welcome", "no_consent"),
    ]
    assert out[0]["consent"] == "external" and out[0]["variant"] == "default"
    assert out[1]["detail"] == "unsubscribed from email, push"
    default = feed(pipeline(campaigns), [click("a", NOON)])
    assert kinds(default) == [("message_suppressed", "welcome", "no_consent")]
    assert "consent_source: pulse" in default[0]["detail"]


def test_a_vip_campaign_never_reaches_a_one_order_customer_by_default() -> None:
    vip = camp("vip", {"segment": {"dimension": "value_tier", "to": "champions"}})
    events = [signup(f"c{k}", NOON + k) for k in range(10)] + [signup("big", NOON + 10)]
    events += [purchase(f"c{k}", NOON + HOUR + k, total=20.0) for k in range(10)]
    events += [purchase("big", NOON + 2 * HOUR, total=20_000.0)]
    events += [click("big", NOON + d * DAY) for d in range(1, 60)]
    assert [v for v in feed(pipeline([vip]), events) if v["user_id"] == "big"] == []


def test_campaign_stats_come_once_a_day_and_only_for_campaigns_whose_figures_moved() -> None:
    p = pipeline(
        [
            camp("welcome", {"segment": {"dimension": "lifecycle", "to": "new"}}),
            camp("never", {"segment": {"dimension": "lifecycle", "to": "churned"}}),
        ]
    )
    out: list[dict[str, Any]] = []
    events = [signup("a", NOON), click("a", NOON + MINUTE)]
    events += [click("z", NOON + d * DAY) for d in range(1, 10)]
    for event in events:
        out += [o.value for o in p.process(raw(event), {})]
    stats = [v for v in out if v["type"] == "campaign_stats"]
    # a's message on day 1, z's (no consent) on day 2; then nothing moves for a week.
    assert [(v["campaign"], v["ts"][:10]) for v in stats] == [
        ("welcome", "2026-01-02"),
        ("welcome", "2026-01-03"),
    ]
    assert stats[0]["outcomes"] == {"sent:email": 1}
    assert stats[1]["outcomes"] == {"sent:email": 1, "suppressed:no_consent": 1}


def test_a_customer_forgotten_by_the_ttl_is_not_welcomed_or_thanked_again() -> None:
    config = build_config(
        {
            "stream": {"partitions": 1, "allowed_lateness_minutes": 0, "state_ttl_days": 30},
            "models": {"churn": {"horizon_days": 10}},
            "campaigns": {
                "policy": {"global_control": 0.0, "quiet_hours": {"start": 0, "end": 0}},
                "active": [
                    camp("welcome", {"segment": {"dimension": "lifecycle", "to": "new"}}),
                    camp("thanks", {"event": "first_purchase"}, priority=5),
                ],
            },
        },
        "t.yaml",
    )
    p = Pipeline(config, suite_factory(config))
    events = [signup("a", NOON), purchase("a", NOON + MINUTE)]
    events += [click("z", NOON + d * DAY) for d in range(1, 60)]  # time moves on: a expires
    events += [signup("a", NOON + 60 * DAY), purchase("a", NOON + 60 * DAY + MINUTE)]
    out: list[dict[str, Any]] = []
    for event in events:
        out += [o.value for o in p.process(raw(event), {})]
    mine = [v for v in out if v["user_id"] == "a"]
    lifecycle = [(v["from"], v["to"]) for v in mine if v.get("dimension") == "lifecycle"]
    assert lifecycle[-2][1] == "expired" and lifecycle[-1] == (None, "reactivated")
    decided = [v for v in mine if v.get("campaign") in ("welcome", "thanks")]
    first_visit = NOON + 2 * MINUTE
    assert decided and all(parse_ts(v["ts"]) < first_visit for v in decided)
    assert p.stats.users_expired >= 1


def test_attributed_revenue_is_kept_per_currency_never_summed_across_them() -> None:
    from streams.core.campaigns import METRIC_CURRENCIES, CampaignCounters
    from streams.core.uplift import campaign_table

    p = pipeline([camp("welcome", {"segment": {"dimension": "lifecycle", "to": "new"}})])
    out: list[dict[str, Any]] = []
    events = [signup("a", NOON), click("a", NOON + MINUTE)]
    events += [purchase("a", NOON + HOUR, total=30.0), purchase("a", NOON + 2 * HOUR, total=20.0)]
    events[-1]["currency"] = "USD"
    events += [click("z", NOON + d * DAY) for d in range(1, 3)]
    for event in events:
        out += [o.value for o in p.process(raw(event), {})]
    stats = [v for v in out if v["type"] == "campaign_stats"]
    treated = stats[-1]["groups"]["default"]["treatment"]
    assert treated["revenue_by_currency"] == {"EUR": 30.0, "USD": 20.0}
    (row,) = campaign_table(stats[-1:])
    assert row["currencies"] == ["EUR", "USD"]
    assert row["revenue_per_user_by_currency"]["USD"]["treatment"] == 20.0
    # Metrics name a bounded set of currencies, whatever producers send.
    counters = CampaignCounters()
    labels = {counters.currency_label(f"C{n:02d}") for n in range(20)}
    assert len(labels) == METRIC_CURRENCIES + 1 and "other" in labels


def test_campaign_sends_holds_exactly_the_messages_to_deliver_with_the_same_bytes() -> None:
    from streams.core.outputs import encode

    p = pipeline([camp("welcome", {"segment": {"dimension": "lifecycle", "to": "new"}})])
    outputs = []
    events = [signup("a", NOON), click("a", NOON + MINUTE), click("b", NOON + 2 * MINUTE)]
    for number, event in enumerate(events, start=1):
        outputs += p.process(raw(event), {"line": number})
    sends = [o for o in outputs if o.topic == "campaign-sends"]
    decisions = [o for o in outputs if o.topic == "campaign-messages"]
    sent = [o for o in decisions if o.value["type"] == "campaign_message"]
    assert len(sent) == 1 and len(decisions) == 2  # b has no consent: suppressed, not sent
    assert [encode(o.value) for o in sends] == [encode(o.value) for o in sent]
