"""Output events, version 1: every type, typed, built here and encoded deterministically.

Each output has an `id` derived from its cause, the `user_id`, `ts` (event time of the
cause) and `v` (schema version). Encoding sorts keys, so the same decision is the same
bytes in-process and on a topic. Each type's value is a TypedDict below (`OUTPUT_TYPES`
maps the `type` field to it; docs/events.md documents every field), so mypy checks that a
builder sets exactly the fields the contract promises.

>>> from streams.core.changes import Change
>>> out = segment_change(Change("u1", "lifecycle", "", "new", "first activity", 0, "e1"))
>>> out.topic, out.key, out.value["to"], out.value["ts"]
('segment-changes', 'u1', 'new', '1970-01-01T00:00:00.000Z')
>>> encode(out.value) == encode(dict(reversed(list(out.value.items()))))
True
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any, Final, NotRequired, TypedDict, cast

import orjson

from streams.core.changes import Change
from streams.core.churn import Scored
from streams.core.events import SCHEMA_VERSION
from streams.core.feature_view import VARIABLES
from streams.core.ids import derive_id
from streams.core.timefmt import format_ts, parse_ts

SEGMENT_CHANGES: Final = "segment-changes"
CHURN_RISK: Final = "churn-risk"
CAMPAIGN_MESSAGES: Final = "campaign-messages"
# Only the messages to deliver (each `campaign_message` again, same id and bytes): a
# delivery system subscribes here, not to the whole decision log.
CAMPAIGN_SENDS: Final = "campaign-sends"
DEAD_LETTERS: Final = "dead-letters"
# Each user's current view (compacted, key = user id): segments, churn, persona, consent.
USER_PROFILES: Final = "user-profiles"
CHURN_MODEL_VERSION: Final = "churn-mixture/3"
OUTPUT_TOPICS: Final = (
    SEGMENT_CHANGES,
    CHURN_RISK,
    CAMPAIGN_MESSAGES,
    CAMPAIGN_SENDS,
    USER_PROFILES,
    DEAD_LETTERS,
)
# A dead letter keeps at most this much of the original record (plus its length and hash):
# even escaped 6x (control characters) it stays far below a producer's 1 MB request size.
DEAD_LETTER_PAYLOAD_BYTES: Final = 16_384


# -- the output types ---------------------------------------------------------------------
# ("from" is a Python keyword, hence the functional syntax where a type has it.)

SegmentChangeValue = TypedDict(
    "SegmentChangeValue",
    {
        "v": int,
        "type": str,
        "id": str,
        "user_id": str,
        "ts": str,
        "dimension": str,
        "from": str | None,
        "to": str,
        "reason": str,
        "cause_event_id": str | None,
        "backfill": NotRequired[bool],
    },
)

ChurnRiskValue = TypedDict(
    "ChurnRiskValue",
    {
        "v": int,
        "type": str,
        "id": str,
        "user_id": str,
        "ts": str,
        "score": float,
        "band": str,
        "from": str | None,
        "horizon_days": int,
        "model": str,
        "top_features": list[dict[str, Any]],
        "reason": str,
        "recommended_items": list[str],
        "cause_event_id": str | None,
        "backfill": NotRequired[bool],
    },
)


class DecisionValue(TypedDict):
    """What every campaign decision says: who, which campaign and variant, and why."""

    v: int
    type: str
    id: str
    user_id: str
    ts: str
    campaign: str
    variant: str
    trigger: str
    trigger_ts: str
    cause_event_id: str | None


class CampaignMessageValue(DecisionValue):
    channel: str
    template: str
    priority: int
    expires_at: str
    consent: str
    content: dict[str, Any]


class MessageDeferredValue(DecisionValue):
    reason: str
    detail: str
    send_at: str


class MessageSuppressedValue(DecisionValue):
    reason: str
    detail: str


class CampaignStatsValue(TypedDict):
    v: int
    type: str
    id: str
    user_id: None
    ts: str
    campaign: str
    partition: int
    # variant -> group -> {assigned, converted, revenue, revenue_by_currency: {CUR: amount}}
    groups: dict[str, dict[str, dict[str, Any]]]
    outcomes: dict[str, int]
    sent_by_variant: dict[str, int]
    clicks: int


class ErasureConfirmedValue(TypedDict):
    v: int
    type: str
    id: str
    user_id: str
    ts: str
    had_state: bool
    cause_event_id: str


# A user's current view, written whenever any part of it changes. `removed` says the
# state is gone ("expired" after its TTL, "erased" on request): on the topic that record
# is a tombstone (null value), so compaction deletes the user. (Functional syntax: with
# postponed annotations a class would count its NotRequired key as required at run time.)
UserProfileValue = TypedDict(  # noqa: UP013
    "UserProfileValue",
    {
        "v": int,
        "type": str,
        "id": str,
        "user_id": str,
        "ts": str,
        "lifecycle": str | None,
        "value_tier": str | None,
        "membership": str | None,
        "persona": str | None,
        "rules": list[str],
        "churn_score": float | None,
        "churn_band": str | None,
        "consent": dict[str, bool],
        "removed": str | None,
        "cause_event_id": str | None,
        "backfill": NotRequired[bool],
    },
)


class _DeadLetterFields(TypedDict):
    v: int
    type: str
    id: str
    user_id: str | None
    ts: str | None
    reason: str
    detail: str
    source: dict[str, Any]


class DeadLetterValue(_DeadLetterFields, total=False):
    """The payload fields depend on the record (text, binary, large) and on redaction."""

    payload: str
    payload_base64: str
    payload_truncated: bool
    payload_redacted: bool
    payload_bytes: int
    payload_blake2b: str


# `type` field -> its value's TypedDict, and the topic it goes to.
OUTPUT_TYPES: Final[dict[str, tuple[type, str]]] = {
    "segment_change": (SegmentChangeValue, SEGMENT_CHANGES),
    "churn_risk": (ChurnRiskValue, CHURN_RISK),
    "campaign_message": (CampaignMessageValue, CAMPAIGN_MESSAGES),
    "message_deferred": (MessageDeferredValue, CAMPAIGN_MESSAGES),
    "message_suppressed": (MessageSuppressedValue, CAMPAIGN_MESSAGES),
    "campaign_stats": (CampaignStatsValue, CAMPAIGN_MESSAGES),
    "erasure_confirmed": (ErasureConfirmedValue, CAMPAIGN_MESSAGES),
    "user_profile": (UserProfileValue, USER_PROFILES),
    "dead_letter": (DeadLetterValue, DEAD_LETTERS),
}


@dataclass(frozen=True, slots=True)
class Output:
    """One output event: where it goes, its key (user id) and its value."""

    topic: str
    key: str
    value: dict[str, Any]


def is_tombstone(output: Output) -> bool:
    """A removed user's profile: on the compacted topic its value is null (a tombstone)."""
    return output.topic == USER_PROFILES and output.value.get("removed") is not None


def record_time(output: Output) -> int | None:
    """The event time (epoch ms) an output's Kafka record carries; None (the producer's
    clock) for an output without one (a dead letter of an unreadable record).

    >>> from streams.core.changes import Change
    >>> record_time(segment_change(Change("u1", "lifecycle", "", "new", "first", 1000, "e1")))
    1000
    """
    ts = output.value.get("ts")
    return parse_ts(ts) if isinstance(ts, str) else None


def headers(output: Output, source: str = "pulse") -> list[tuple[str, bytes]]:
    """Kafka headers to route an output on without parsing it: the CloudEvents Kafka
    binding's `ce_` attributes (binary mode) and the content type.

    `ce_time` is the event time (the record's own timestamp too with
    PULSE_OUTPUT_TIMESTAMP=event; `record_time`).

    >>> from streams.core.changes import Change
    >>> out = segment_change(Change("u1", "lifecycle", "", "new", "first activity", 0, "e1"))
    >>> dict(headers(out))["ce_type"], dict(headers(out))["ce_time"]
    (b'pulse.segment_change.v1', b'1970-01-01T00:00:00.000Z')
    """
    value = output.value
    found = [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(value["id"]).encode()),
        ("ce_source", source.encode()),
        ("ce_type", f"pulse.{value['type']}.v{value['v']}".encode()),
        ("content-type", b"application/json"),
    ]
    if value.get("ts"):
        found.append(("ce_time", str(value["ts"]).encode()))
    if value.get("user_id"):
        found.append(("ce_subject", str(value["user_id"]).encode()))
    return found


def encode(value: dict[str, Any]) -> bytes:
    """Canonical bytes of an output value (sorted keys, no whitespace)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _output(topic: str, key: str, value: Any) -> Output:
    """An output from a typed value (a TypedDict is a plain dict at run time)."""
    return Output(topic, key, cast(dict[str, Any], value))


def segment_change(change: Change, backfill: bool = False) -> Output:
    cause = change.cause if change.cause is not None else f"watermark@{change.ts}"
    value: SegmentChangeValue = {
        "v": SCHEMA_VERSION,
        "type": "segment_change",
        "id": derive_id("segment_change", change.user_id, change.dimension, change.new, cause),
        "user_id": change.user_id,
        "ts": format_ts(change.ts),
        "dimension": change.dimension,
        "from": change.old or None,
        "to": change.new,
        "reason": change.reason,
        "cause_event_id": change.cause,
    }
    if backfill:
        value["backfill"] = True
    return _output(SEGMENT_CHANGES, change.user_id, value)


def explain(top_features: list[dict[str, Any]]) -> str:
    """The top features as a sentence a marketer can read.

    >>> explain([{"feature": "purchase_recency_days", "value": 45.0, "effect": 0.8}])
    'risk raised most by: days since the last purchase = 45'
    >>> explain([])
    ''
    """
    if not top_features:
        return ""
    parts = []
    for item in top_features:
        variable = VARIABLES.get(item["feature"])
        meaning = variable.description.split(" (")[0] if variable else BASELINE_MEANING
        parts.append(f"{meaning} = {item['value']:g}")
    return "risk raised most by: " + "; ".join(parts)


BASELINE_MEANING: Final = "BG/NBD's forecast (log-odds)"


def churn_risk(
    scored: Scored, horizon_days: int, recommended: list[str], backfill: bool = False
) -> Output:
    """A user's churn risk band changed at a prediction point (an event, or a rescoring
    from the watermark: then `cause_event_id` is null)."""
    value: ChurnRiskValue = {
        "v": SCHEMA_VERSION,
        "type": "churn_risk",
        "id": derive_id("churn_risk", scored.user_id, scored.cause),
        "user_id": scored.user_id,
        "ts": format_ts(scored.ts),
        "score": scored.score,
        "band": scored.band,
        "from": scored.previous_band or None,
        "horizon_days": horizon_days,
        "model": CHURN_MODEL_VERSION,
        "top_features": scored.top_features,
        "reason": explain(scored.top_features),
        "recommended_items": recommended,
        "cause_event_id": scored.event_id,
    }
    if backfill:
        value["backfill"] = True
    return _output(CHURN_RISK, scored.user_id, value)


def user_profile(
    state: Any, ts: int, cause: str | None, removed: str | None = None, backfill: bool = False
) -> Output:
    """The user's current view at event time `ts` (`state` a UserState; `removed`: the
    state is gone and this record stands for a tombstone).

    >>> from streams.core.state import UserState
    >>> view = user_profile(UserState("u1", lifecycle="active"), 0, "e1").value
    >>> view["lifecycle"], view["churn_score"], view["removed"]
    ('active', None, None)
    >>> user_profile(UserState("u1", lifecycle="active"), 0, "e2", "erased").value["lifecycle"]
    """
    live = removed is None
    value: UserProfileValue = {
        "v": SCHEMA_VERSION,
        "type": "user_profile",
        "id": derive_id("user_profile", state.user_id, cause or f"watermark@{ts}"),
        "user_id": state.user_id,
        "ts": format_ts(ts),
        "lifecycle": (state.lifecycle or None) if live else None,
        "value_tier": (state.value_tier or None) if live else None,
        "membership": (state.membership or None) if live else None,
        "persona": (state.persona or None) if live else None,
        "rules": sorted(state.rules) if live else [],
        "churn_score": state.churn_score if live and state.churn_score >= 0 else None,
        "churn_band": (state.churn_band or None) if live else None,
        "consent": dict(sorted(state.features.consent.items())) if live else {},
        "removed": removed,
        "cause_event_id": cause,
    }
    if backfill:
        value["backfill"] = True
    return _output(USER_PROFILES, state.user_id, value)


def erasure_confirmed(event: Any, had_state: bool) -> Output:
    """An erasure request was carried out: state, pending messages and exposures removed."""
    value: ErasureConfirmedValue = {
        "v": SCHEMA_VERSION,
        "type": "erasure_confirmed",
        "id": derive_id("erasure_confirmed", event.user_id, event.event_id),
        "user_id": event.user_id,
        "ts": format_ts(event.ts),
        "had_state": had_state,
        "cause_event_id": event.event_id,
    }
    return _output(CAMPAIGN_MESSAGES, event.user_id, value)


def dead_letter(
    raw: bytes,
    reason: str,
    detail: str,
    source: dict[str, Any],
    user_id: str | None,
    ts: int | None,
    redact: bool = False,
) -> Output:
    """A rejected input: the original bytes (the first 16 KiB of a larger one), why, and where.

    With `redact` (`stream.dead_letter_payload: redact`), the bytes are left out: only
    their length and BLAKE2b hash, so personal data in bad records stays off the topic.

    >>> big = dead_letter(b"x" * 100_000, "oversized", "too big", {}, None, None).value
    >>> len(big["payload"]), big["payload_truncated"], big["payload_bytes"]
    (16384, True, 100000)
    >>> hidden = dead_letter(b'{"email":"a@b.c"}', "missing_field", "", {}, None, None, True).value
    >>> "payload" in hidden, hidden["payload_redacted"], hidden["payload_bytes"]
    (False, True, 17)
    """
    digest = hashlib.blake2b(raw, digest_size=16).hexdigest()
    value: DeadLetterValue = {
        "v": SCHEMA_VERSION,
        "type": "dead_letter",
        "id": derive_id("dead_letter", reason, digest),
        "user_id": user_id,
        "ts": None if ts is None else format_ts(ts),
        "reason": reason,
        "detail": detail[:1000],
        "source": source,
    }
    if redact:
        value.update(
            {"payload_redacted": True, "payload_bytes": len(raw), "payload_blake2b": digest}
        )
        return _output(DEAD_LETTERS, user_id or "", value)
    kept = raw
    if len(raw) > DEAD_LETTER_PAYLOAD_BYTES:
        kept = raw[:DEAD_LETTER_PAYLOAD_BYTES]
        value["payload_truncated"] = True
        value["payload_bytes"] = len(raw)
        value["payload_blake2b"] = digest
    try:
        value["payload"] = kept.decode("utf-8")
    except UnicodeDecodeError:
        value["payload_base64"] = base64.b64encode(kept).decode("ascii")
    return _output(DEAD_LETTERS, user_id or "", value)


# -- campaign decisions -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decided:
    """Who and what a campaign decision is about (the fields every decision carries)."""

    user_id: str
    campaign: str
    variant: str
    trigger: str  # readable description of what fired
    trigger_ts: int  # event time it fired at
    cause_event_id: str | None
    now: int  # event time of the decision
    cause_key: str  # unique per user and campaign: the ids derive from it


def _decision(decided: Decided, kind: str, output_id: str) -> DecisionValue:
    return {
        "v": SCHEMA_VERSION,
        "type": kind,
        "id": output_id,
        "user_id": decided.user_id,
        "ts": format_ts(decided.now),
        "campaign": decided.campaign,
        "variant": decided.variant,
        "trigger": decided.trigger,
        "trigger_ts": format_ts(decided.trigger_ts),
        "cause_event_id": decided.cause_event_id,
    }


def campaign_message(
    decided: Decided,
    message_id: str,
    channel: str,
    template: str,
    priority: int,
    expires_at: int,
    consent: str,
    content: dict[str, Any],
) -> Output:
    """A message to send now, on `channel` (id: user, campaign and cause)."""
    value: CampaignMessageValue = {
        **_decision(decided, "campaign_message", message_id),
        "channel": channel,
        "template": template,
        "priority": priority,
        "expires_at": format_ts(expires_at),
        "consent": consent,
        "content": content,
    }
    return _output(CAMPAIGN_MESSAGES, decided.user_id, value)


def with_send(output: Output) -> list[Output]:
    """The decision, and for a message to send its copy on `campaign-sends`."""
    if output.value.get("type") != "campaign_message":
        return [output]
    return [output, Output(CAMPAIGN_SENDS, output.key, output.value)]


def message_deferred(decided: Decided, reason: str, detail: str, send_at: int) -> Output:
    """A message held until `send_at` (quiet hours), decided again then."""
    output_id = derive_id("message_deferred", decided.user_id, decided.campaign, decided.cause_key)
    value: MessageDeferredValue = {
        **_decision(decided, "message_deferred", output_id),
        "reason": reason,
        "detail": detail,
        "send_at": format_ts(send_at),
    }
    return _output(CAMPAIGN_MESSAGES, decided.user_id, value)


def message_suppressed(decided: Decided, reason: str, detail: str) -> Output:
    """A candidate that is not sent, and why."""
    output_id = derive_id(
        "message_suppressed", decided.user_id, decided.campaign, decided.cause_key
    )
    value: MessageSuppressedValue = {
        **_decision(decided, "message_suppressed", output_id),
        "reason": reason,
        "detail": detail,
    }
    return _output(CAMPAIGN_MESSAGES, decided.user_id, value)


def campaign_stats(
    campaign: str,
    partition: int,
    period: int,
    groups: dict[str, dict[str, dict[str, Any]]],
    outcomes: dict[str, int],
    sent_by_variant: dict[str, int],
    clicks: int,
) -> Output:
    """A partition's cumulative figures of one campaign at the reporting time `period`."""
    value: CampaignStatsValue = {
        "v": SCHEMA_VERSION,
        "type": "campaign_stats",
        "id": derive_id("campaign_stats", str(partition), campaign, str(period)),
        "user_id": None,
        "ts": format_ts(period),
        "campaign": campaign,
        "partition": partition,
        "groups": groups,
        "outcomes": outcomes,
        "sent_by_variant": sent_by_variant,
        "clicks": clicks,
    }
    return _output(CAMPAIGN_MESSAGES, f"campaign:{campaign}", value)
