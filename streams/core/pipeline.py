"""The deterministic pipeline: raw records in, output events out, all on event time.

Users are split into partitions exactly as Kafka's default partitioner splits a topic keyed
by user id. Each partition has its own clock (the highest event time seen), watermark
(clock minus the allowed lateness), duplicate window, due-time index and population ranks,
just as a worker owning that partition would. So running a log through this class gives
the same outputs as running it through topics with the same partition count.

Per record, in order:
1. decode and validate (bad input → dead letter with the reason);
2. reject events older than the partition's watermark (`too_late`) and repeated ids;
3. advance the clock; fire every user's time-driven changes now due (watermark);
4. for the event's user: fire their own overdue changes (their event proves the time has
   passed), then the ordered steps of `PartitionPipeline.steps`, each a small method on
   one shared `EventStep`: features → lifecycle → value tiers → rule segments →
   recommendations → personas → churn → outputs → campaigns → save and schedule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from streams.core import lifecycle
from streams.core.campaigns import CampaignCounters, CampaignEngine, Ledger
from streams.core.changes import Change
from streams.core.churn import ChurnStats, ChurnTracker, Scored
from streams.core.config import PulseConfig
from streams.core.dedup import remember
from streams.core.errors import InvalidEvent
from streams.core.events import (
    ABSURD_TIMESTAMP,
    DUPLICATE_EVENT,
    EPOCH_SECONDS_BELOW,
    IS_ACTIVITY,
    MAX_TS,
    PROCESSING_ERROR,
    TOO_LATE,
    AnyEvent,
    ClickEvent,
    ProfileEvent,
    PurchaseEvent,
    decode_event,
)
from streams.core.ids import partition_for
from streams.core.model_api import ModelSuite, SuiteFactory
from streams.core.outputs import (
    Output,
    churn_risk,
    dead_letter,
    erasure_confirmed,
    segment_change,
    user_profile,
)
from streams.core.personas import DIMENSION as PERSONA
from streams.core.personas import PersonaTracker
from streams.core.recommend import RecommendTracker
from streams.core.rule_segments import OUT, evaluate_rules
from streams.core.seen import SeenBefore
from streams.core.state import UserState
from streams.core.ticks import TickClock, read_tick
from streams.core.timefmt import MS_PER_DAY, MS_PER_MINUTE, format_ts, parse_ts
from streams.core.timers import DueIndex
from streams.core.value import PopulationRanks, customer_key, evaluate_value, value_due

EXPIRED = "expired"
ERASED = "erased"
NO_CLOCK = -(1 << 62)


class UserStore(Protocol):
    """Where user states live: a dict in-process, a Faust table in the worker."""

    def get(self, user_id: str) -> UserState | None: ...

    def put(self, state: UserState) -> None: ...

    def delete(self, user_id: str) -> None: ...

    def values(self) -> Iterable[UserState]: ...

    def __len__(self) -> int: ...


class DictStore:
    """In-memory user store."""

    def __init__(self) -> None:
        self.users: dict[str, UserState] = {}

    def get(self, user_id: str) -> UserState | None:
        return self.users.get(user_id)

    def put(self, state: UserState) -> None:
        self.users[state.user_id] = state

    def delete(self, user_id: str) -> None:
        self.users.pop(user_id, None)

    def values(self) -> Iterable[UserState]:
        return self.users.values()

    def __len__(self) -> int:
        return len(self.users)


@dataclass
class Stats:
    """Counts for the summary and metrics (never per user)."""

    records: int = 0
    accepted: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    outputs: Counter[str] = field(default_factory=Counter)
    changes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    rule_errors: int = 0
    last_rule_error: str = ""
    users_expired: int = 0
    users_erased: int = 0
    ticks_ignored: int = 0  # tick records met in a log replayed in-process
    churn: ChurnStats = field(default_factory=ChurnStats)
    campaigns: CampaignCounters = field(default_factory=CampaignCounters)

    def count_outputs(self, outputs: list[Output]) -> None:
        for output in outputs:
            self.outputs[output.topic] += 1

    def mostly_rejected(self) -> tuple[int, str] | None:
        """(records rejected, "reason: n, …" of the top three) when more than half of the
        records were: a log in the wrong format, whose figures would mean nothing."""
        rejected = sum(self.rejected.values())
        if rejected * 2 <= self.records:
            return None
        top = ", ".join(f"{reason}: {n:,}" for reason, n in self.rejected.most_common(3))
        return rejected, top


@dataclass(slots=True)
class EventStep:
    """What the steps of one event share: the event, its user's state, what it changed."""

    event: AnyEvent
    state: UserState
    first_event: bool  # the user had no state before this event
    kind: str  # the click action, or the event type
    new_day: bool  # the user's first event of this event-time day
    outputs: list[Output]
    changes: list[Change] = field(default_factory=list)
    scored: Scored | None = None
    caught_up: bool = False  # time-driven changes or a rescoring fell due before the event


class PartitionPipeline:
    """All state and logic for one partition of users."""

    def __init__(
        self,
        partition: int,
        config: PulseConfig,
        store: UserStore,
        stats: Stats,
        models: ModelSuite | None = None,
    ) -> None:
        self.partition = partition
        self.config = config
        self.store = store
        self.stats = stats
        self.clock = NO_CLOCK
        self.lateness = config.stream.allowed_lateness_minutes * MS_PER_MINUTE
        self.max_future = config.stream.max_future_days * MS_PER_DAY
        self.backfill_until = config.stream.backfill_until
        self.idle_lag = config.stream.idle_partition_lag_minutes * MS_PER_MINUTE
        self.ttl = config.stream.state_ttl_days * MS_PER_DAY
        self.activity = frozenset(config.lifecycle.activity)
        self.dedup_cap = config.stream.dedup_ids_per_user
        self.due = DueIndex()
        self.ranks = PopulationRanks()
        self.populations: Counter[tuple[str, str]] = Counter()
        self.seen = SeenBefore()
        self.models = models
        settings = config.models
        self.churn = (
            ChurnTracker(settings.churn, models.churn, stats.churn)
            if models is not None and models.churn is not None and settings.churn.enabled
            else None
        )
        self.personas = (
            PersonaTracker(settings.clusters, models.clusters)
            if models is not None and models.clusters is not None and settings.clusters.enabled
            else None
        )
        self.recommender = (
            RecommendTracker(settings.recommendations, models.recommender)
            if models is not None
            and models.recommender is not None
            and settings.recommendations.enabled
            else None
        )
        # Called with every churn prediction point (replay's --all-scores).
        self.on_score: Callable[[Scored], None] | None = None
        self.ledger = Ledger()
        self.campaigns = (
            CampaignEngine(
                config.campaigns,
                self.ledger,
                self.recommender.recommend if self.recommender is not None else None,
                stats.campaigns,
            )
            if config.campaigns.campaigns
            else None
        )
        if self.campaigns is not None:
            self.campaigns.tier_names = tuple(tier.name for tier in config.value.rfm_tiers)
            self.campaigns.backfill_until = self.backfill_until
        # The per-event flow, in order: each step reads what the earlier ones left.
        self.steps: tuple[Callable[[EventStep], None], ...] = (
            self._features,
            self._lifecycle,
            self._value,
            self._rules,
            self._recommendations,
            self._personas,
            self._churn,
            self._emit,
            self._campaigns,
            self._profile,
            self._save,
        )

    def resume_backfill(self, until: int) -> None:
        """History up to `until` was backfilled elsewhere: nothing before it is decided."""
        self.backfill_until = max(self.backfill_until, until)
        if self.campaigns is not None:
            self.campaigns.backfill_until = self.backfill_until

    def restore_ledger(self, ledger: Ledger) -> None:
        """Campaign figures saved with this partition's users (worker restart)."""
        self.ledger = ledger
        if self.campaigns is not None:
            self.campaigns.ledger = ledger

    @property
    def watermark(self) -> int:
        return self.clock - self.lateness

    def process(self, event: AnyEvent, raw: bytes, source: dict[str, Any]) -> list[Output]:
        """Process one validated event of a user in this partition."""
        if self.clock != NO_CLOCK and event.ts > self.clock + self.max_future:
            # One event years ahead (a typo, a broken clock) would make every later event
            # of this partition `too_late`: refuse it instead.
            ahead = (event.ts - self.clock) // MS_PER_DAY
            return [
                self._reject(
                    event,
                    raw,
                    source,
                    ABSURD_TIMESTAMP,
                    f"event time is {ahead} days ahead of this partition's latest event "
                    f"{format_ts(self.clock)} (stream.max_future_days)",
                )
            ]
        if event.ts < self.watermark:
            late_by = (self.watermark - event.ts) // 1000
            return [
                self._reject(
                    event,
                    raw,
                    source,
                    TOO_LATE,
                    f"event time is {late_by}s behind the watermark {format_ts(self.watermark)}",
                )
            ]
        before = self.store.get(event.user_id)
        state = before if before is not None else self._fresh(event.user_id)
        if remember(state.recent_ids, event.event_id, event.ts, self.watermark, self.dedup_cap):
            return [
                self._reject(
                    event,
                    raw,
                    source,
                    DUPLICATE_EVENT,
                    f"event_id {event.event_id!r} was already processed",
                )
            ]
        self.stats.accepted[event.type] += 1
        outputs: list[Output] = []
        if event.ts > self.clock:
            self.clock = event.ts
            outputs.extend(self.advance(self.watermark))
            if self.churn is not None:
                self.churn.maybe_refit(self.clock, self.store.values())
            if self.campaigns is not None:
                outputs.extend(self.campaigns.stats_due(self.clock, self.partition))
        if isinstance(event, ProfileEvent) and event.erase:
            outputs.extend(self._erase(event))
            self.stats.count_outputs(outputs)
            return outputs
        # Advancing may have changed this very user, or expired and removed them.
        stored = self.store.get(event.user_id)
        if stored is not None:
            state = stored
        elif before is not None:
            state = self._fresh(event.user_id, state.recent_ids[-1:])
        outputs.extend(self._apply(event, stored, state))
        self.stats.count_outputs(outputs)
        return outputs

    def advance(self, watermark: int) -> list[Output]:
        """Fire the time-driven changes of every user due at or before the watermark."""
        outputs: list[Output] = []
        for user_id in self.due.pop_due(watermark):
            state = self.store.get(user_id)
            if state is None:
                continue
            changes, scored = self._catch_up(state, watermark)
            if state.lifecycle == EXPIRED:
                self.store.delete(user_id)
                outputs.extend(self._record(changes))
                outputs.append(self._profile_of(state, watermark, None, "expired"))
                continue
            outputs.extend(self._record(changes))
            if changes or scored is not None:
                outputs.append(self._profile_of(state, watermark, None))
            outputs.extend(self._churn_outputs(state, scored))
            if self.campaigns is not None:
                outputs.extend(self.campaigns.on_time(state, watermark, changes, scored))
            self._schedule(state)
            self.store.put(state)
        return outputs

    def tick(self, ts: int) -> list[Output]:
        """The log's event time reached `ts` elsewhere: an idle partition follows, a day
        behind (stream.idle_partition_lag_minutes); an active one is already ahead."""
        if not self.idle_lag:
            return []
        target = ts - self.idle_lag
        if target <= self.clock:
            return []
        self.clock = target
        outputs = self.advance(self.watermark)
        self.stats.count_outputs(outputs)
        return outputs

    def rebuild(self, states: Iterable[UserState]) -> None:
        """Restore partition state from stored users (after a restart or rebalance).

        Everything partition-wide is derived from the users: the clock (their latest event
        time), the population ranks, the due-time index and the segment populations.
        """
        for state in states:
            self.clock = max(self.clock, state.touched)
            self.ranks.replace(None, customer_key(state.features))
            for membership in self._memberships(state):
                self.populations[membership] += 1
            if state.due:
                self.due.schedule(state.user_id, state.due)

    def _apply(self, event: AnyEvent, stored: UserState | None, state: UserState) -> list[Output]:
        """One event of one user: time that passed before it, then the ordered steps."""
        state, outputs, caught_up = self._overdue(event, stored, state)
        step = EventStep(
            event,
            state,
            first_event=stored is None,
            kind=event.action if isinstance(event, ClickEvent) else event.type,
            new_day=event.ts // MS_PER_DAY != state.value_checked_day,
            outputs=outputs,
            caught_up=caught_up,
        )
        for apply in self.steps:
            apply(step)
        return step.outputs

    def _overdue(
        self, event: AnyEvent, stored: UserState | None, state: UserState
    ) -> tuple[UserState, list[Output], bool]:
        """The user's own changes that fell due before this event (it proves the time has
        passed), or a fresh state if theirs ran out its TTL; and whether anything did."""
        # `state.due` is the user's earliest pending change; most events come before it.
        if stored is None or state.due > event.ts:
            return state, [], False
        caught, rescored = self._catch_up(state, event.ts)
        outputs = self._record(caught)
        if state.lifecycle == EXPIRED:
            # The state ran out its TTL: start afresh, remembering only this event's id.
            return self._fresh(event.user_id, state.recent_ids[-1:]), outputs, True
        outputs.extend(self._churn_outputs(state, rescored))
        if self.campaigns is not None:
            # Campaign timers are part of `due`: nothing of theirs is pending before it.
            outputs.extend(self.campaigns.on_time(state, event.ts, caught, rescored))
        return state, outputs, bool(caught) or rescored is not None

    # -- the per-event steps, in order (`self.steps`) ---------------------------------------

    def _features(self, step: EventStep) -> None:
        """Counters, windows and sessions; a purchase also moves the population ranks."""
        event, features = step.event, step.state.features
        old_key = customer_key(features) if isinstance(event, PurchaseEvent) else None
        features.update(event)
        if isinstance(event, PurchaseEvent):
            self.ranks.replace(old_key, customer_key(features))

    def _lifecycle(self, step: EventStep) -> None:
        event = step.event
        if event.type in self.activity:
            change = lifecycle.on_activity(
                step.state, event.ts, event.event_id, self.config.lifecycle
            )
            if change is not None:
                step.changes.append(change)

    def _value(self, step: EventStep) -> None:
        """RFM tier and membership: at a purchase, and at the user's first event of a day."""
        event = step.event
        if IS_ACTIVITY[event.type] and (isinstance(event, PurchaseEvent) or step.new_day):
            step.changes.extend(
                evaluate_value(step.state, self.ranks, self.config.value, event.ts, event.event_id)
            )

    def _rules(self, step: EventStep) -> None:
        event = step.event
        kind = None if step.first_event else step.kind
        step.changes.extend(
            self._evaluate_rules(step.state, event.ts, event.event_id, kind, step.new_day)
        )

    def _recommendations(self, step: EventStep) -> None:
        if self.recommender is not None:
            self.recommender.on_event(step.state, step.event)

    def _personas(self, step: EventStep) -> None:
        event = step.event
        if self.personas is not None and IS_ACTIVITY[event.type]:
            persona = self.personas.on_event(step.state, event.ts, event.event_id, step.new_day)
            if persona is not None:
                step.changes.append(persona)

    def _churn(self, step: EventStep) -> None:
        if self.churn is not None:
            step.scored = self.churn.on_event(step.state, step.event, step.kind)

    def _emit(self, step: EventStep) -> None:
        """Segment changes and a churn band change become outputs."""
        state = step.state
        state.touched = max(state.touched, step.event.ts)
        step.outputs.extend(self._record(step.changes))
        step.outputs.extend(self._churn_outputs(state, step.scored))

    def _campaigns(self, step: EventStep) -> None:
        if self.campaigns is not None:
            step.outputs.extend(
                self.campaigns.on_event(step.state, step.event, step.changes, step.scored)
            )

    def _profile(self, step: EventStep) -> None:
        """The user's current view, when any part of it moved (a profile event may change
        consent)."""
        if step.changes or step.scored is not None or step.caught_up or step.kind == "profile":
            event = step.event
            step.outputs.append(self._profile_of(step.state, event.ts, event.event_id))

    def _save(self, step: EventStep) -> None:
        """The user's next due time, and their state back to the store."""
        self._schedule(step.state)
        self.store.put(step.state)

    def _catch_up(self, state: UserState, now: int) -> tuple[list[Change], Scored | None]:
        """Time-driven changes of one user due at or before `now` (expiry included), and a
        churn rescoring if one fell due."""
        expires = state.touched + self.ttl
        changes: list[Change] = []
        scored = self.churn.catch_up(state, now) if self.churn is not None else None
        for change in lifecycle.fire_due(state, min(now, expires - 1), self.config.lifecycle):
            changes.append(change)
            changes.extend(self._evaluate_rules(state, change.ts, None))
        # Recency moves with event time: the tier is re-scored at each of its due times
        # (doubling steps after the last purchase, a purchase too old for the tier) up to
        # `now`, so a long quiet spell shows as the tier-by-tier fall it was.
        previous = -1
        while (at := value_due(state, self.config.value)) is not None and previous < at <= now:
            if at >= expires:
                break
            tiers = evaluate_value(state, self.ranks, self.config.value, at, None)
            changes.extend(tiers)
            if tiers:
                changes.extend(self._evaluate_rules(state, at, None))
            previous = at
        if now >= expires:
            changes.append(self._expire(state, expires))
        return changes, scored

    def _profile_of(
        self, state: UserState, ts: int, cause: str | None, removed: str | None = None
    ) -> Output:
        return user_profile(state, ts, cause, removed, ts < self.backfill_until)

    def _churn_outputs(self, state: UserState, scored: Scored | None) -> list[Output]:
        """A `churn_risk` output when a prediction point moved the user's band."""
        if scored is None or self.churn is None:
            return []
        if self.on_score is not None:
            self.on_score(scored)
        if not scored.band_changed:
            return []
        items = self.recommender.recommend(state) if self.recommender is not None else []
        backfill = scored.ts < self.backfill_until
        return [churn_risk(scored, self.churn.settings.horizon_days, items, backfill)]

    def _erase(self, event: ProfileEvent) -> list[Output]:
        """A user asked to be forgotten: state, pending messages and exposures all go."""
        state = self.store.get(event.user_id)
        outputs: list[Output] = []
        if state is not None:
            self.ranks.replace(customer_key(state.features), None)
            for dimension, value in self._memberships(state):
                self.populations[(dimension, value)] -= 1
            self.due.cancel(event.user_id)
            self.store.delete(event.user_id)
            change = Change(
                event.user_id,
                lifecycle.DIMENSION,
                state.lifecycle,
                ERASED,
                "erasure request",
                event.ts,
                event.event_id,
            )
            self.stats.changes[(change.dimension, change.old, change.new)] += 1
            outputs.append(segment_change(change))
        self.stats.users_erased += 1
        gone = state if state is not None else UserState(event.user_id)
        outputs.append(self._profile_of(gone, event.ts, event.event_id, "erased"))
        outputs.append(erasure_confirmed(event, state is not None))
        return outputs

    def _fresh(self, user_id: str, recent_ids: list[tuple[int, str]] | None = None) -> UserState:
        """A new state; `returning` if this partition saw the user before an expiry."""
        return UserState(user_id, recent_ids=recent_ids or [], returning=user_id in self.seen)

    def _expire(self, state: UserState, ts: int) -> Change:
        self.seen.add(state.user_id)
        self.stats.users_expired += 1
        self.ranks.replace(customer_key(state.features), None)
        for dimension, value in self._memberships(state):
            self.populations[(dimension, value)] -= 1
        change = Change(
            state.user_id,
            lifecycle.DIMENSION,
            state.lifecycle,
            EXPIRED,
            f"no events for {self.config.stream.state_ttl_days} days: state removed",
            ts,
            None,
        )
        state.lifecycle = EXPIRED
        return change

    @staticmethod
    def _memberships(state: UserState) -> list[tuple[str, str]]:
        pairs = [
            (dim, value)
            for dim, value in (
                (lifecycle.DIMENSION, state.lifecycle),
                ("value_tier", state.value_tier),
                ("membership", state.membership),
                (PERSONA, state.persona),
            )
            if value
        ]
        pairs += [(f"rule:{name}", "in") for name in state.rules]
        return pairs

    def _evaluate_rules(
        self,
        state: UserState,
        now: int,
        cause: str | None,
        kind: str | None = None,
        new_day: bool = True,
    ) -> list[Change]:
        if not self.config.segments:
            return []
        errors: list[str] = []
        changes = evaluate_rules(state, self.config.segments, now, cause, errors, kind, new_day)
        if errors:
            self.stats.rule_errors += len(errors)
            self.stats.last_rule_error = errors[-1]
        return changes

    def _schedule(self, state: UserState) -> None:
        pending = lifecycle.next_due(state, self.config.lifecycle)
        expires = state.touched + self.ttl
        state.due = min(pending[0], expires) if pending is not None else expires
        tier_due = value_due(state, self.config.value)
        if tier_due is not None and tier_due < state.due:
            state.due = tier_due
        label_due = self.churn.due(state) if self.churn is not None else None
        if label_due is not None and label_due < state.due:
            state.due = label_due
        campaign_due = self.campaigns.due(state) if self.campaigns is not None else None
        if campaign_due is not None and campaign_due < state.due:
            state.due = campaign_due
        self.due.schedule(state.user_id, state.due)

    def _record(self, changes: list[Change]) -> list[Output]:
        outputs = []
        for change in changes:
            if change.old and change.old != OUT and change.new != EXPIRED:
                self.populations[(change.dimension, change.old)] -= 1
            if change.new != OUT and change.new != EXPIRED:
                self.populations[(change.dimension, change.new)] += 1
            self.stats.changes[(change.dimension, change.old, change.new)] += 1
            outputs.append(segment_change(change, change.ts < self.backfill_until))
        return outputs

    def _reject(
        self, event: AnyEvent, raw: bytes, source: dict[str, Any], reason: str, detail: str
    ) -> Output:
        return reject(self.stats, self.config, raw, reason, detail, source, event.user_id, event.ts)


def reject(
    stats: Stats,
    config: PulseConfig,
    raw: bytes,
    reason: str,
    detail: str,
    source: dict[str, Any],
    user_id: str | None,
    ts: int | None,
) -> Output:
    """A dead letter for `raw`, counted by reason (in the pipeline, replay and worker alike)."""
    stats.rejected[reason] += 1
    redact = config.stream.dead_letter_payload == "redact"
    output = dead_letter(raw, reason, detail, source, user_id, ts, redact)
    stats.count_outputs([output])
    return output


def undecodable(
    stats: Stats, config: PulseConfig, raw: bytes, error: InvalidEvent, source: dict[str, Any]
) -> Output:
    """The dead letter of a record that is not a valid event (its user and time if legible)."""
    user_id, ts = salvage(raw)
    return reject(stats, config, raw, error.reason, error.detail, source, user_id, ts)


class Pipeline:
    """Records in, outputs out, over `config.stream.partitions` partitions."""

    def __init__(self, config: PulseConfig, models: SuiteFactory | None = None) -> None:
        self.config = config
        self.stats = Stats()
        self.max_bytes = config.stream.max_event_bytes
        self.earliest = config.stream.earliest_event_time
        self.ticks = TickClock(config.stream.partitions, config.stream.max_future_days * MS_PER_DAY)
        self.partitions = [
            PartitionPipeline(
                index, config, DictStore(), self.stats, None if models is None else models(index)
            )
            for index in range(config.stream.partitions)
        ]

    def partition_of(self, user_id: str) -> PartitionPipeline:
        return self.partitions[partition_for(user_id, len(self.partitions))]

    def process(self, raw: bytes, source: dict[str, Any]) -> list[Output]:
        """Decode one record and run it through its user's partition."""
        if read_tick(raw) is not None:
            # A tick recorded from a topic: in-process, ticks come from the log itself.
            self.stats.ticks_ignored += 1
            return []
        self.stats.records += 1
        try:
            event = decode_event(raw, self.max_bytes, self.earliest)
        except InvalidEvent as exc:
            return [undecodable(self.stats, self.config, raw, exc, source)]
        partition = self.partition_of(event.user_id)
        outputs: list[Output] = []
        for tick in self.ticks.feed(partition.partition, event.ts):
            for each in self.partitions:
                if each is not partition:  # this event moves its own partition's clock
                    outputs.extend(each.tick(tick))
        try:
            return outputs + partition.process(event, raw, source)
        except Exception as exc:  # noqa: BLE001 - a bug must not stop the replay: dead letter
            detail = repr(exc)[:500]
            user, ts = event.user_id, event.ts
            # The other partitions' tick outputs stand: only this record failed.
            return [
                *outputs,
                reject(self.stats, self.config, raw, PROCESSING_ERROR, detail, source, user, ts),
            ]

    def populations(self) -> Counter[tuple[str, str]]:
        total: Counter[tuple[str, str]] = Counter()
        for partition in self.partitions:
            total.update(partition.populations)
        return +total

    def users(self) -> int:
        return sum(len(partition.store) for partition in self.partitions)


def salvage(raw: bytes) -> tuple[str | None, int | None]:
    """Best-effort user id and event time of a rejected record, for the dead letter."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    user_id = data.get("user_id")
    try:
        ts: int | None = parse_ts(data.get("ts"))
    except ValueError:
        ts = None
    if ts is not None and not EPOCH_SECONDS_BELOW <= ts < MAX_TS:
        ts = None  # an implausible time would only mislead whoever reads the dead letter
    return (user_id[:256] if isinstance(user_id, str) else None), ts
