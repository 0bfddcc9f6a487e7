"""The policy step, rule by rule and in order, plus properties that must always hold."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.campaign_config import Campaign, Policy, Trigger
from streams.core.campaign_policy import (
    DEFER,
    SEND,
    decide,
    in_global_control,
    in_holdout,
    quiet_until,
)
from streams.core.state import UserState
from tests.helpers import DAY, HOUR, T0

NOON = T0 + 12 * HOUR  # 2026-01-01 12:00 UTC
OPEN = Policy(global_control=0.0)


def campaign(**overrides: object) -> Campaign:
    base: dict[str, object] = {
        "name": "promo",
        "trigger": Trigger("first_purchase"),
        "channels": ("email", "push"),
        "template": "t",
        "holdout": 0.0,
        "cooldown_days": 7.0,
    }
    return Campaign(**{**base, **overrides})  # type: ignore[arg-type]


def user(name: str = "u1", **consent: bool) -> UserState:
    state = UserState(name)
    state.features.consent = dict(consent)
    return state


def test_consent_comes_first_and_an_unsubscribe_wins() -> None:
    state = user(email=False, push=False)
    # Even a user in the holdout is reported as "no consent": consent is checked first.
    d = decide(campaign(holdout=0.99), state, OPEN, NOON, NOON + DAY)
    assert d.reason == "no_consent"
    state.features.consent["push"] = True
    assert decide(campaign(), state, OPEN, NOON, NOON + DAY).channel == "push"


def test_holdout_and_global_control_are_stable_hashes_checked_in_order() -> None:
    users = [user(f"u{i}", email=True) for i in range(400)]
    held = [
        u
        for u in users
        if decide(campaign(holdout=0.3), u, OPEN, NOON, NOON + DAY).reason == "holdout"
    ]
    assert 80 < len(held) < 160  # about 30 %
    assert all(in_holdout(u.user_id, campaign(holdout=0.3)) for u in held)
    policy = Policy(global_control=0.2)
    controls = [
        u
        for u in users
        if decide(campaign(), u, policy, NOON, NOON + DAY).reason == "global_control"
    ]
    assert controls and all(in_global_control(u.user_id, policy) for u in controls)


def test_channel_caps_pick_the_next_channel_then_suppress() -> None:
    state = user(email=True, push=True)
    state.sends = [[NOON - HOUR, "email", "other"]]
    d = decide(campaign(), state, Policy(global_control=0.0, channel_per_day=1), NOON, NOON + DAY)
    assert (d.outcome, d.channel) == (SEND, "push")
    state.sends.append([NOON - HOUR, "push", "other"])
    d = decide(campaign(), state, Policy(global_control=0.0, channel_per_day=1), NOON, NOON + DAY)
    assert d.reason == "frequency_cap"
    # A day later the daily window has rolled on.
    assert decide(campaign(), state, OPEN, NOON + DAY, NOON + 2 * DAY).outcome == SEND


def test_the_weekly_cap_across_campaigns() -> None:
    state = user(email=True)
    state.sends = [[NOON - d * DAY - HOUR, "email", f"c{d}"] for d in range(5)]
    policy = Policy(global_control=0.0, channel_per_week=99, all_per_week=5)
    assert decide(campaign(), state, policy, NOON, NOON + DAY).reason == "frequency_cap"
    assert decide(campaign(), state, policy, NOON + 3 * DAY, NOON + 4 * DAY).outcome == SEND


def test_cooldown_after_caps() -> None:
    state = user(email=True)
    state.last_sent["promo"] = NOON - 3 * DAY
    assert decide(campaign(), state, OPEN, NOON, NOON + DAY).reason == "cooldown"
    assert decide(campaign(cooldown_days=2.0), state, OPEN, NOON, NOON + DAY).outcome == SEND


def test_quiet_hours_defer_to_the_morning_in_the_users_time_zone() -> None:
    state = user(email=True)
    state.features.timezone = "Asia/Tokyo"  # UTC+9: 13:00 UTC is 22:00 in Tokyo
    late = T0 + 13 * HOUR
    d = decide(campaign(), state, OPEN, late, late + DAY)
    assert d.outcome == DEFER and d.reason == "quiet_hours"
    assert d.send_at == T0 + 23 * HOUR  # 08:00 in Tokyo the next day
    assert decide(campaign(), state, OPEN, late, late + HOUR).reason == "expired"
    state.features.timezone = None  # default UTC: 13:00 is fine
    assert quiet_until(state, OPEN, late) is None


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.integers(min_value=1, max_value=36 * 60), min_size=1, max_size=60),
    per_day=st.integers(min_value=1, max_value=3),
    per_week=st.integers(min_value=1, max_value=6),
)
def test_no_rolling_window_ever_holds_more_than_the_cap(
    gaps: list[int], per_day: int, per_week: int
) -> None:
    policy = Policy(global_control=0.0, channel_per_day=per_day, channel_per_week=per_week)
    state = user(email=True)
    now = NOON
    for minutes in gaps:
        now += minutes * 60_000
        d = decide(campaign(cooldown_days=0.0), state, policy, now, now + DAY)
        if d.outcome == SEND:
            state.sends.append([now, d.channel, "promo"])
    times = [row[0] for row in state.sends]
    for t in times:
        assert sum(1 for u in times if t - DAY < u <= t) <= per_day
        assert sum(1 for u in times if t - 7 * DAY < u <= t) <= per_week


@settings(max_examples=40, deadline=None)
@given(name=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12))
def test_holdout_users_never_get_that_campaigns_message(name: str) -> None:
    promo = campaign(holdout=0.5)
    state = user(name, email=True, push=True)
    d = decide(promo, state, OPEN, NOON, NOON + DAY)
    assert (d.outcome == SEND) == (not in_holdout(name, promo))
