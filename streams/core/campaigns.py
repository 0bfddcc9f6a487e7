"""The campaign engine: triggers → candidates → policy → arbitration → messages, and attribution.

Triggers: a segment entered or left (any dimension, including time-driven ones fired by
the watermark), the churn band reaching a level, a first purchase, and event patterns in
event time — a cart left without a purchase for N minutes, a session of views (or of
searches) that ended without a purchase N minutes ago. Each trigger firing for a
campaign is a candidate; its id comes from the user, the campaign and the cause, so a
replay or a restart never sends a different second message.

Every candidate ends as an event on `campaign-messages`: `campaign_message`,
`message_deferred` (quiet hours; sent or suppressed later at the deferred time) or
`message_suppressed` with the reason. Candidates that pass consent are *assigned* to
the campaign's holdout or treatment group (intent to treat) and their purchases within
the attribution window are counted per group and variant, for the uplift.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from streams.core.campaign_config import Campaign, CampaignsConfig
from streams.core.campaign_policy import (
    DEFER,
    SEND,
    SUPPRESS,
    Decision,
    decide,
    in_global_control,
    in_holdout,
    suppress,
    variant_of,
)
from streams.core.changes import Change
from streams.core.churn import Scored
from streams.core.events import AnyEvent, ClickEvent, PurchaseEvent
from streams.core.feature_view import VARIABLES
from streams.core.ids import derive_id
from streams.core.outputs import (
    Decided,
    Output,
    campaign_message,
    campaign_stats,
    message_deferred,
    message_suppressed,
    with_send,
)
from streams.core.state import UserState
from streams.core.timefmt import MS_PER_DAY
from streams.core.triggers import TRIGGERS, Candidate, Moment

HOUR_MS: Final = 3_600_000
_CURRENCY: Final = re.compile(r"^[^|]*\|[^|]*\|[^|]*\|[A-Z]{3}$")  # a revenue key's shape
# Currencies named in metrics: the first few seen, then "other" (a label set stays bounded
# whatever a producer sends).
METRIC_CURRENCIES: Final = 8
TREATMENT, HOLDOUT, GLOBAL_CONTROL = "treatment", "holdout", "global_control"
TOP_TIERS: Final = 2  # the best RFM tiers get smaller coupons: they buy anyway


@dataclass
class Ledger:
    """One partition's campaign figures, saved with its users (they feed `campaign_stats`)."""

    # "campaign|variant|group" -> [assigned, converted, revenue]
    groups: dict[str, list[float]] = field(default_factory=dict)
    # "campaign|outcome|reason|channel" -> count
    outcomes: dict[str, int] = field(default_factory=dict)
    clicks: dict[str, int] = field(default_factory=dict)  # campaign -> message clicks
    next_stats: int = 0
    # Campaigns whose figures moved since their last `campaign_stats`: only those report.
    changed: set[str] = field(default_factory=set)
    sent: dict[str, int] = field(default_factory=dict)  # "campaign|variant" -> messages sent
    # "campaign|variant|group|CUR" -> attributed revenue in that currency: a shop selling in
    # several currencies is never summed across them (the groups' "revenue" is, and says so).
    revenue: dict[str, float] = field(default_factory=dict)
    dirty: bool = False

    def count(self, campaign: str, outcome: str, reason: str, channel: str) -> None:
        key = f"{campaign}|{outcome}|{reason}|{channel}"
        self.outcomes[key] = self.outcomes.get(key, 0) + 1
        self.touch(campaign)

    def group(self, campaign: str, variant: str, group: str) -> list[float]:
        key = f"{campaign}|{variant}|{group}"
        row = self.groups.get(key)
        if row is None:
            row = self.groups[key] = [0, 0, 0.0]
        self.touch(campaign)
        return row

    def add_revenue(
        self, campaign: str, variant: str, group: str, currency: str, amount: float
    ) -> None:
        key = f"{campaign}|{variant}|{group}|{currency}"
        self.revenue[key] = round(self.revenue.get(key, 0.0) + amount, 2)
        self.touch(campaign)

    def count_sent(self, campaign: str, variant: str) -> None:
        key = f"{campaign}|{variant}"
        self.sent[key] = self.sent.get(key, 0) + 1
        self.touch(campaign)

    def click(self, campaign: str) -> None:
        self.clicks[campaign] = self.clicks.get(campaign, 0) + 1
        self.touch(campaign)

    def touch(self, campaign: str) -> None:
        self.changed.add(campaign)
        self.dirty = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "groups": self.groups,
            "outcomes": self.outcomes,
            "clicks": self.clicks,
            "next_stats": self.next_stats,
            "changed": sorted(self.changed),
            "sent": self.sent,
            "revenue": self.revenue,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ledger:
        """A saved ledger, checked: ValueError names what is wrong (the worker then starts
        the figures afresh rather than fail on every record)."""
        groups = data.get("groups", {})
        outcomes = data.get("outcomes", {})
        clicks = data.get("clicks", {})
        changed = data.get("changed", [])
        sent = data.get("sent", {})
        revenue = data.get("revenue", {})  # (absent in ledgers saved before currencies)
        next_stats = data.get("next_stats", 0)
        rows_ok = isinstance(groups, dict) and all(
            isinstance(row, list)
            and len(row) == 3
            and all(type(v) in (int, float) for v in row)
            and key.count("|") == 2
            for key, row in groups.items()
        )
        counts_ok = all(
            isinstance(table, dict) and all(type(v) is int for v in table.values())
            for table in (outcomes, clicks, sent)
        ) and all(key.count("|") == 3 for key in outcomes)
        revenue_ok = isinstance(revenue, dict) and all(
            type(v) in (int, float) and key.count("|") == 3 and _CURRENCY.match(key) is not None
            for key, v in revenue.items()
        )
        if not rows_ok or not counts_ok or not revenue_ok or type(next_stats) is not int:
            raise ValueError("saved campaign ledger does not have the ledger's shape")
        if not isinstance(changed, list) or not all(isinstance(n, str) for n in changed):
            raise ValueError("saved campaign ledger lists changed campaigns wrongly")
        return cls(
            {key: list(row) for key, row in groups.items()},
            dict(outcomes),
            dict(clicks),
            next_stats,
            set(changed),
            dict(sent),
            {key: float(v) for key, v in revenue.items()},
        )


@dataclass
class CampaignCounters:
    """Process-lifetime counts for metrics, never per user."""

    outcomes: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    conversions: Counter[tuple[str, str]] = field(default_factory=Counter)
    # (campaign, group, currency) -> attributed revenue
    revenue: defaultdict[tuple[str, str, str], float] = field(
        default_factory=lambda: defaultdict(float)
    )
    currencies: set[str] = field(default_factory=set)

    def currency_label(self, currency: str) -> str:
        if currency in self.currencies:
            return currency
        if len(self.currencies) < METRIC_CURRENCIES:
            self.currencies.add(currency)
            return currency
        return "other"

    backfill_skipped: int = 0  # candidates from history being backfilled: not decided


class CampaignEngine:
    def __init__(
        self,
        config: CampaignsConfig,
        ledger: Ledger,
        recommend: Callable[[UserState], list[str]] | None = None,
        counters: CampaignCounters | None = None,
    ) -> None:
        self.config = config
        # Lifetime counters for metrics (the ledger moves with its partition; these do not).
        self.counters = counters if counters is not None else CampaignCounters()
        self.policy = config.policy
        self.ledger = ledger
        self.recommend = recommend
        self.attribution = int(config.policy.attribution_days * MS_PER_DAY)
        # Each trigger kind with its campaigns (configuration order), in the registry's order;
        # timed kinds (event patterns) fire from due times, one campaign at a time.
        self.moment_triggers = [
            (kind, campaigns)
            for name, kind in TRIGGERS.items()
            if not kind.timed
            and (campaigns := [c for c in config.campaigns if c.trigger.kind == name])
        ]
        self.timed = [
            (c, TRIGGERS[c.trigger.kind])
            for c in config.campaigns
            if TRIGGERS[c.trigger.kind].timed
        ]
        self.tier_names: tuple[str, ...] = ()
        self.campaign_names = [c.name for c in config.campaigns]
        self.backfill_until = 0  # set by the pipeline from stream.backfill_until

    # -- entry points ---------------------------------------------------------------------

    def on_event(
        self, state: UserState, event: AnyEvent, changes: list[Change], scored: Scored | None
    ) -> list[Output]:
        """After the user's event was applied: attribution, then event-driven triggers."""
        is_purchase = isinstance(event, PurchaseEvent)
        if state.exposures and (is_purchase or isinstance(event, ClickEvent)):
            self._attribute(state, event)
        if not changes and not is_purchase and (scored is None or not scored.band_changed):
            return []  # most events: nothing here can trigger a campaign
        moment = Moment(state, event.ts, event, changes, scored)
        return self._run(state, self._candidates(moment), event.ts)

    def on_time(
        self, state: UserState, now: int, changes: list[Change], scored: Scored | None = None
    ) -> list[Output]:
        """Event time reached `now`: time-driven segment moves, churn rescorings, event
        patterns, deferrals."""
        moment = Moment(state, now, None, changes, scored)
        candidates = self._candidates(moment) if changes or scored is not None else []
        outputs = self._run(state, candidates, now) if candidates else []
        if self.timed and _pattern_open(state):
            for campaign, kind in self.timed:
                # Each pattern decided alone: one campaign's message never arbitrates another's.
                for candidate in kind.candidates(moment, (campaign,)):
                    outputs += self._run(state, [candidate], now)
        if state.deferred:
            outputs += self._release(state, now)
        return outputs

    def due(self, state: UserState) -> int | None:
        """The earliest deferred message or event-pattern trigger of this user."""
        earliest = min(row[0] for row in state.deferred) if state.deferred else None
        if not self.timed or not _pattern_open(state):
            return earliest
        for campaign, kind in self.timed:
            fire = kind.due(state, campaign)
            if fire is not None and (earliest is None or fire < earliest):
                earliest = fire
        return earliest

    def stats_due(self, now: int, partition: int) -> list[Output]:
        """`campaign_stats` events when event time passes the next reporting time."""
        ledger = self.ledger
        every = int(self.policy.stats_every_hours * HOUR_MS)
        if not self.config.campaigns:
            return []
        if ledger.next_stats == 0:
            ledger.next_stats = (now // every + 1) * every
            ledger.dirty = True
            return []
        if now < ledger.next_stats:
            return []
        period = ledger.next_stats
        ledger.next_stats = (now // every + 1) * every
        ledger.dirty = True
        # Only campaigns whose figures moved: the latest stats of the others still hold.
        names = [name for name in self.campaign_names if name in ledger.changed]
        ledger.changed.clear()
        return all_campaign_stats(ledger, names, partition, period) if names else []

    # -- triggers ---------------------------------------------------------------------------

    def _candidates(self, moment: Moment) -> list[Candidate]:
        """What the moment's triggers propose (streams/core/triggers/), in registry order."""
        candidates: list[Candidate] = []
        for kind, campaigns in self.moment_triggers:
            candidates += kind.candidates(moment, campaigns)
        return candidates

    # -- decisions --------------------------------------------------------------------------

    def _run(self, state: UserState, candidates: list[Candidate], now: int) -> list[Output]:
        if self.backfill_until and candidates:
            # History being loaded: no campaign decides on it (nothing is sent, suppressed
            # or assigned), so a shop starts with its customers known, not messaged.
            current = [c for c in candidates if c.ts >= self.backfill_until]
            self.counters.backfill_skipped += len(candidates) - len(current)
            candidates = current
        if not candidates:
            return []
        decided: list[tuple[Candidate, Decision]] = []
        for candidate in candidates:
            campaign = candidate.campaign
            if campaign.audience is not None and not _holds(campaign, state, now):
                decided.append(
                    (candidate, suppress("not_in_audience", "audience rule does not hold"))
                )
                continue
            expires = candidate.ts + int(campaign.expiry_hours * HOUR_MS)
            decision = decide(campaign, state, self.policy, now, expires)
            if decision.reason != "no_consent":
                self._assign(state, candidate, now)
            decided.append((candidate, decision))
        # Arbitration: of the messages that would go out now or later, the highest
        # priority wins; the others are suppressed, naming the winner.
        live = [pair for pair in decided if pair[1].outcome in (SEND, DEFER)]
        if len(live) > 1:
            winner = max(live, key=lambda pair: (pair[0].campaign.priority, pair[0].campaign.name))
            name = winner[0].campaign.name
            decided = [
                pair
                if pair is winner or pair[1].outcome == SUPPRESS
                else (pair[0], suppress("arbitration", f"{name} has a higher priority"))
                for pair in decided
            ]
        outputs = []
        for candidate, decision in decided:
            outputs.extend(with_send(self._emit(state, candidate, decision, now)))
        return outputs

    def _release(self, state: UserState, now: int) -> list[Output]:
        """Deferred messages whose time has come: decided again (an unsubscribe wins)."""
        outputs = []
        keep = []
        by_name = {c.name: c for c in self.config.campaigns}
        for row in sorted(state.deferred):
            send_at, name, cause_key, cause_event_id, expires, trigger, ts = row
            campaign = by_name.get(name)
            if send_at > now:
                keep.append(row)
                continue
            if campaign is None:
                continue  # the campaign was removed from the configuration
            candidate = Candidate(campaign, cause_key, cause_event_id, trigger, ts)
            # Decided when event time shows the moment has passed, not at `send_at`: after a
            # quiet spell (a holiday, a small shop's night) that can be past the expiry.
            at = max(send_at, now)
            decision = decide(campaign, state, self.policy, at, expires)
            if decision.outcome == DEFER:  # quiet hours again: one deferral per message
                decision = suppress("expired", "in quiet hours again when released")
            outputs.extend(with_send(self._emit(state, candidate, decision, at)))
        state.deferred = keep
        return outputs

    def _assign(self, state: UserState, candidate: Candidate, now: int) -> None:
        """Put the user in the campaign's treatment or holdout group (once per campaign).

        The unit of the uplift is the user: one row per campaign they were a candidate
        for, with the latest decision time (the attribution window runs from it) and
        whether they converted in a window.
        """
        campaign = candidate.campaign
        message_id = message_id_of(state.user_id, campaign.name, candidate.cause_key)
        for row in state.exposures:
            if row[1] == campaign.name:
                row[0], row[4] = now, message_id
                return
        if in_holdout(state.user_id, campaign):
            group = HOLDOUT
        elif in_global_control(state.user_id, self.policy):
            group = GLOBAL_CONTROL
        else:
            group = TREATMENT
        variant = variant_of(state.user_id, campaign)
        self.ledger.group(campaign.name, variant, group)[0] += 1
        state.exposures.append([now, campaign.name, variant, group, message_id, 0])

    def _attribute(self, state: UserState, event: AnyEvent) -> None:
        if isinstance(event, ClickEvent) and event.action == "campaign_click" and event.message_id:
            for row in state.exposures:
                if row[4] == event.message_id:
                    self.ledger.click(row[1])
        if isinstance(event, PurchaseEvent):
            for row in state.exposures:
                if row[0] <= event.ts <= row[0] + self.attribution:
                    counts = self.ledger.group(row[1], row[2], row[3])
                    if not row[5]:
                        row[5] = 1
                        counts[1] += 1
                        self.counters.conversions[(row[1], row[3])] += 1
                    counts[2] = round(counts[2] + event.total, 2)
                    self.ledger.add_revenue(row[1], row[2], row[3], event.currency, event.total)
                    label = self.counters.currency_label(event.currency)
                    self.counters.revenue[(row[1], row[3], label)] += event.total

    def _emit(self, state: UserState, candidate: Candidate, decision: Decision, now: int) -> Output:
        campaign = candidate.campaign
        user = state.user_id
        variant = variant_of(user, campaign)
        decided = Decided(
            user,
            campaign.name,
            variant,
            candidate.trigger,
            candidate.ts,
            candidate.cause_event_id,
            now,
            candidate.cause_key,
        )
        expires = candidate.ts + int(campaign.expiry_hours * HOUR_MS)
        if decision.outcome == SEND:
            state.sends = [row for row in state.sends if row[0] > now - 7 * MS_PER_DAY]
            state.sends.append([now, decision.channel, campaign.name])
            state.last_sent[campaign.name] = now
            self._count(campaign.name, "sent", "", decision.channel)
            self.ledger.count_sent(campaign.name, variant)
            return campaign_message(
                decided,
                message_id_of(user, campaign.name, candidate.cause_key),
                decision.channel,
                campaign.template,
                campaign.priority,
                expires,
                self.policy.consent_source,
                self._content(state, campaign, now),
            )
        if decision.outcome == DEFER:
            state.deferred.append(
                [
                    decision.send_at,
                    campaign.name,
                    candidate.cause_key,
                    candidate.cause_event_id,
                    expires,
                    candidate.trigger,
                    candidate.ts,
                ]
            )
            self._count(campaign.name, "deferred", decision.reason, decision.channel)
            return message_deferred(decided, decision.reason, decision.detail, decision.send_at)
        self._count(campaign.name, "suppressed", decision.reason, "")
        return message_suppressed(decided, decision.reason, decision.detail)

    def _count(self, campaign: str, outcome: str, reason: str, channel: str) -> None:
        self.ledger.count(campaign, outcome, reason, channel)
        self.counters.outcomes[(campaign, outcome, reason, channel)] += 1

    def _content(self, state: UserState, campaign: Campaign, now: int) -> dict[str, Any]:
        """Personal fields: ids and derived values only, never raw personal data."""
        content: dict[str, Any] = {
            "recommended_items": self.recommend(state) if self.recommend is not None else [],
            "top_category": state.features.top_category() or None,
        }
        if campaign.coupon is not None:
            share = float(VARIABLES["discount_share"].compute(state, now))  # type: ignore[arg-type]
            percent = campaign.coupon.base_percent + 10.0 * share
            if state.value_tier in self.tier_names[:TOP_TIERS]:
                percent -= 5.0
            content["coupon_percent"] = int(min(max(percent, 0.0), campaign.coupon.max_percent))
        return content


def _pattern_open(state: UserState) -> bool:
    """An open cart or an open session without a purchase: an event pattern may fire."""
    f = state.features
    return f.cart_open or (f.sessions > 0 and not f.session_purchased)


def _holds(campaign: Campaign, state: UserState, now: int) -> bool:
    assert campaign.audience is not None
    try:
        return campaign.audience.evaluate(state, now)
    except Exception:  # noqa: BLE001 - a failing audience rule excludes, it never crashes
        return False


@lru_cache(maxsize=4096)  # asked at assignment and again when the message is emitted
def message_id_of(user_id: str, campaign: str, cause_key: str) -> str:
    return derive_id("campaign_message", user_id, campaign, cause_key)


def all_campaign_stats(
    ledger: Ledger, campaigns: list[str], partition: int, period: int
) -> list[Output]:
    """One `campaign_stats` output per campaign, from one pass over the ledger."""
    groups: dict[str, dict[str, dict[str, dict[str, Any]]]] = {name: {} for name in campaigns}
    by_currency: dict[str, dict[str, float]] = {}
    for key, amount in sorted(ledger.revenue.items()):
        group_key, currency = key.rsplit("|", 1)
        by_currency.setdefault(group_key, {})[currency] = round(amount, 2)
    for key, (assigned, converted, revenue) in sorted(ledger.groups.items()):
        name, variant, group = key.split("|")
        if name in groups:
            groups[name].setdefault(variant, {})[group] = {
                "assigned": int(assigned),
                "converted": int(converted),
                "revenue": round(revenue, 2),
                "revenue_by_currency": by_currency.get(key, {}),
            }
    outcomes: dict[str, dict[str, int]] = {name: {} for name in campaigns}
    for key, count in sorted(ledger.outcomes.items()):
        name, outcome, reason, channel = key.split("|")
        if name in outcomes:
            label = f"sent:{channel}" if outcome == "sent" else f"{outcome}:{reason}"
            outcomes[name][label] = outcomes[name].get(label, 0) + count
    return [
        _stats_output(ledger, name, partition, period, groups[name], outcomes[name])
        for name in campaigns
    ]


def _stats_output(
    ledger: Ledger,
    campaign: str,
    partition: int,
    period: int,
    groups: dict[str, dict[str, dict[str, Any]]],
    outcomes: dict[str, int],
) -> Output:
    sent_by_variant = {
        key.split("|", 1)[1]: count
        for key, count in sorted(ledger.sent.items())
        if key.split("|", 1)[0] == campaign
    }
    clicks = ledger.clicks.get(campaign, 0)
    return campaign_stats(campaign, partition, period, groups, outcomes, sent_by_variant, clicks)
