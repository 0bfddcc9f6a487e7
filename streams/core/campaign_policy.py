"""The policy step: for one candidate message, send, defer or suppress — and why.

Checked in this order, the first that fails decides:

0. expiry — a decision made after the message's `expires_at` (a deferred message released
   late, a trigger noticed after a quiet spell) → `expired`;
1. consent — with `consent_source: pulse` (default), the campaign's channels the user has
   opted in to in a `profile` event; with `consent_source: external` (the shop's email or
   push provider enforces consent), every channel the user has not refused. An
   unsubscribe takes effect with its event; none left → `no_consent`;
2. campaign holdout — a stable hash of user and campaign below the holdout share →
   `holdout` (the control group the uplift is measured against);
3. global control group — a stable hash of the user below `global_control` → `global_control`;
4. frequency caps on rolling windows of event time — per channel per day and per week,
   and all campaigns per week; the first channel (in the campaign's order) still under
   its caps is used, none → `frequency_cap`;
5. per-campaign cooldown since the user's last message of that campaign → `cooldown`;
6. quiet hours in the user's time zone → `defer` to the end of the quiet hours (event
   time), or `expired` if that is past the message's expiry.

Arbitration between campaigns firing at once comes after (streams/core/campaigns.py).

>>> from streams.core.campaign_config import Campaign, Policy, Trigger
>>> from streams.core.state import UserState
>>> user = UserState("u1")
>>> welcome = Campaign("welcome", Trigger("first_purchase"), ("email", "push"), "w1", holdout=0.0)
>>> decide(welcome, user, Policy(global_control=0.0), 0, 10**12).reason
'no_consent'
>>> user.features.consent = {"push": True}
>>> d = decide(welcome, user, Policy(global_control=0.0), 12 * 3_600_000, 10**12)
>>> d.outcome, d.channel
('send', 'push')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

from streams.core.campaign_config import Campaign, Policy
from streams.core.ids import stable_fraction
from streams.core.state import UserState
from streams.core.timefmt import MS_PER_DAY

SEND: Final = "send"
DEFER: Final = "defer"
SUPPRESS: Final = "suppress"
WEEK_MS: Final = 7 * MS_PER_DAY


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: str  # send / defer / suppress
    reason: str  # why (for suppress and defer), "" for send
    detail: str
    channel: str = ""
    send_at: int = 0  # for defer: event time to try again


def suppress(reason: str, detail: str) -> Decision:
    return Decision(SUPPRESS, reason, detail)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def in_holdout(user_id: str, campaign: Campaign) -> bool:
    return stable_fraction(user_id, campaign.name, "holdout") < campaign.holdout


def in_global_control(user_id: str, policy: Policy) -> bool:
    return stable_fraction(user_id, "global-control") < policy.global_control


def variant_of(user_id: str, campaign: Campaign) -> str:
    """The user's variant: a stable weighted draw (the same in treatment and holdout)."""
    total = sum(v.weight for v in campaign.variants)
    point = stable_fraction(user_id, campaign.name, "variant") * total
    for variant in campaign.variants:
        point -= variant.weight
        if point < 0:
            return variant.name
    return campaign.variants[-1].name


def quiet_until(state: UserState, policy: Policy, now: int) -> int | None:
    """End of the quiet hours (epoch ms) if `now` falls in them in the user's zone."""
    start, end = policy.quiet_start_hour, policy.quiet_end_hour
    if start == end:
        return None
    zone = _zone(state.features.timezone or policy.default_timezone)
    local = datetime.fromtimestamp(now / 1000, tz=zone)
    hour = local.hour
    quiet = (start <= hour or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return None
    day = local.date() if hour < end else local.date() + timedelta(days=1)
    resume = datetime(day.year, day.month, day.day, end, tzinfo=zone)
    return int(resume.timestamp() * 1000)


def decide(
    campaign: Campaign, state: UserState, policy: Policy, now: int, expires_at: int
) -> Decision:
    if now > expires_at:
        late = (now - expires_at) / 3_600_000
        return suppress("expired", f"decided {late:.1f} h after the message's expiry")
    if expires_at < policy.expired_before:
        return suppress(
            "expired",
            "already expired when this replay ran (pass --send-expired to decide it in the "
            "log's own time)",
        )
    consent = state.features.consent
    if policy.consent_source == "external":
        channels = [channel for channel in campaign.channels if consent.get(channel) is not False]
        if not channels:
            return suppress("no_consent", f"unsubscribed from {', '.join(campaign.channels)}")
    else:
        channels = [channel for channel in campaign.channels if consent.get(channel) is True]
        if not channels:
            return suppress(
                "no_consent",
                f"no opt-in for {', '.join(campaign.channels)} (consent_source: pulse)",
            )
    if in_holdout(state.user_id, campaign):
        return suppress("holdout", f"in the {campaign.holdout:.0%} holdout of {campaign.name}")
    if in_global_control(state.user_id, policy):
        return suppress(
            "global_control", f"in the {policy.global_control:.0%} global control group"
        )
    week = [row for row in state.sends if row[0] > now - WEEK_MS]
    if len(week) >= policy.all_per_week:
        return suppress(
            "frequency_cap", f"{len(week)} messages in the last 7 days (cap {policy.all_per_week})"
        )
    chosen = ""
    for channel in channels:
        on_channel = [row for row in week if row[1] == channel]
        today = [row for row in on_channel if row[0] > now - MS_PER_DAY]
        if len(today) < policy.channel_per_day and len(on_channel) < policy.channel_per_week:
            chosen = channel
            break
    if not chosen:
        return suppress(
            "frequency_cap",
            f"every consented channel is at its cap ({policy.channel_per_day}/day, "
            f"{policy.channel_per_week}/week)",
        )
    last = state.last_sent.get(campaign.name)
    if last is not None and now - last < campaign.cooldown_days * MS_PER_DAY:
        return suppress(
            "cooldown", f"last {campaign.name} message {(now - last) / MS_PER_DAY:.1f} days ago"
        )
    resume = quiet_until(state, policy, now)
    if resume is not None:
        if resume > expires_at:
            return suppress("expired", "quiet hours last past the message's expiry")
        return Decision(DEFER, "quiet_hours", "quiet hours in the user's time zone", chosen, resume)
    return Decision(SEND, "", "", chosen)
