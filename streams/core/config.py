"""Pulse configuration: what it holds and how it is checked.

The file format (YAML) is read outside the core; this module receives plain data plus a
map from each key's path to its line, and turns every problem into a :class:`ConfigError`
naming the file, the line and the fix.

>>> cfg = build_config({"lifecycle": {"dormant_after_days": 20}}, "pulse.yaml")
>>> cfg.lifecycle.dormant_after_days, cfg.lifecycle.churned_after_days
(20, 90)
>>> build_config({"lifecycle": {"dormant_after_dys": 20}}, "pulse.yaml", {("lifecycle", "dormant_after_dys"): 7})
Traceback (most recent call last):
...
streams.core.errors.ConfigError: pulse.yaml:7: unknown key 'lifecycle.dormant_after_dys' (fix: did you mean 'dormant_after_days'?)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from streams.core.campaign_config import CampaignsConfig, campaigns_section
from streams.core.config_reader import Path, Reader, dotted
from streams.core.events import ACTIVITY_TYPES
from streams.core.feature_view import VARIABLES
from streams.core.models_config import ModelsConfig, models_section
from streams.core.rules import Rule, RuleError, compile_rule
from streams.core.timefmt import parse_ts

_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class StreamConfig:
    partitions: int = 4
    allowed_lateness_minutes: int = 60
    max_event_bytes: int = 524_288
    dedup_ids_per_user: int = 64
    state_ttl_days: int = 400
    earliest_event_time: int = 0  # epoch ms; older events are dead-lettered (absurd_timestamp)
    max_future_days: int = 3650  # events further ahead of their partition's clock, likewise
    # History before this event time (epoch ms; 0: none) is backfill: it builds state and
    # models, its segment and churn outputs carry `backfill: true`, and no campaign
    # decides on it (no message, suppression or assignment).
    backfill_until: int = 0
    # "keep": dead letters carry the rejected bytes (the first 16 KiB); "redact": only
    # their length and hash, for shops whose bad records may hold personal data.
    dead_letter_payload: str = "keep"
    # A partition with no events of its own follows the others' event time this far
    # behind (streams/core/ticks.py), so its users still become dormant; 0: never.
    idle_partition_lag_minutes: int = 1440


@dataclass(frozen=True, slots=True)
class LifecycleConfig:
    activity: tuple[str, ...] = ACTIVITY_TYPES
    new_days: int = 14
    dormant_after_days: int = 30
    churned_after_days: int = 90
    reactivated_days: int = 14


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    minimum: float
    # RFM tiers only: what a customer needs besides the score (0: no condition). A tier
    # that rewards sustained value needs repeat orders and tenure; one that rewards
    # current value needs a recent purchase.
    min_orders: int = 0
    min_tenure_days: int = 0
    max_days_since_purchase: int = 0


@dataclass(frozen=True, slots=True)
class ValueConfig:
    # RFM tiers by R+F+M score (each 1..5), best first.
    rfm_tiers: tuple[Tier, ...] = (
        Tier("champions", 13, min_orders=3, min_tenure_days=30, max_days_since_purchase=30),
        Tier("loyal", 10, min_orders=2, max_days_since_purchase=90),
        Tier("promising", 7),
        Tier("low", 3),
    )
    rfm_hysteresis_points: int = 1
    rescore_days: int = 7  # first re-scoring after a purchase, then at doubling gaps
    downgrade_after_checks: int = 2  # re-scorings in a row a fall on the score must hold
    membership_metric: str = "monetary"
    membership_tiers: tuple[Tier, ...] = (
        Tier("platinum", 5000),
        Tier("gold", 1000),
        Tier("silver", 250),
        Tier("bronze", 0),
    )
    membership_hysteresis: float = 0.1


@dataclass(frozen=True, slots=True)
class RuleSegment:
    name: str
    enter: Rule
    exit: Rule | None
    description: str = ""


@dataclass(frozen=True, slots=True)
class PulseConfig:
    source: str = "<defaults>"
    stream: StreamConfig = field(default_factory=StreamConfig)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    value: ValueConfig = field(default_factory=ValueConfig)
    segments: tuple[RuleSegment, ...] = ()
    models: ModelsConfig = field(default_factory=ModelsConfig)
    campaigns: CampaignsConfig = field(default_factory=CampaignsConfig)


_SECTIONS: Final = ("version", "stream", "lifecycle", "value", "segments", "campaigns", "models")


def build_config(data: object, file: str, lines: Mapping[Path, int] | None = None) -> PulseConfig:
    """Validate plain configuration data (as parsed from YAML) into a PulseConfig."""
    reader = Reader(file, lines or {})
    root = reader.mapping(data, (), _SECTIONS)
    version = root.get("version", 1)
    if version != 1:
        raise reader.fail(
            ("version",),
            f"config version {version!r} is not supported",
            "this Pulse reads 'version: 1'",
        )
    stream = _stream(reader, root.get("stream"))
    models = models_section(reader, root.get("models"))
    if models.churn.enabled and models.churn.horizon_days >= stream.state_ttl_days:
        raise reader.fail(
            ("models", "churn", "horizon_days"),
            f"'models.churn.horizon_days' ({models.churn.horizon_days}) must be shorter than "
            f"'stream.state_ttl_days' ({stream.state_ttl_days}): a user's state must outlive "
            "the label it waits for",
            "lower horizon_days or raise stream.state_ttl_days",
        )
    value = _value(reader, root.get("value"))
    segments = _segments(reader, root.get("segments"))
    campaigns = campaigns_section(reader, root.get("campaigns"))
    _check_triggers(reader, campaigns, value, segments)
    return PulseConfig(
        source=file,
        stream=stream,
        lifecycle=_lifecycle(reader, root.get("lifecycle")),
        value=value,
        segments=segments,
        models=models,
        campaigns=campaigns,
    )


def _stream(reader: Reader, data: object) -> StreamConfig:
    path: Path = ("stream",)
    d = StreamConfig()
    raw = reader.mapping(data, path, StreamConfig.__slots__)
    return StreamConfig(
        partitions=reader.number(raw, path, "partitions", d.partitions, 1, True),
        allowed_lateness_minutes=reader.number(
            raw, path, "allowed_lateness_minutes", d.allowed_lateness_minutes, 0, True
        ),
        max_event_bytes=reader.number(raw, path, "max_event_bytes", d.max_event_bytes, 256, True),
        dedup_ids_per_user=reader.number(
            raw, path, "dedup_ids_per_user", d.dedup_ids_per_user, 1, True
        ),
        state_ttl_days=reader.number(raw, path, "state_ttl_days", d.state_ttl_days, 1, True),
        earliest_event_time=_instant(
            reader, raw, path, "earliest_event_time", "1970-01-01T00:00:00Z"
        ),
        max_future_days=reader.number(raw, path, "max_future_days", d.max_future_days, 1, True),
        backfill_until=_instant(reader, raw, path, "backfill_until", "1970-01-01T00:00:00Z"),
        idle_partition_lag_minutes=reader.number(
            raw, path, "idle_partition_lag_minutes", d.idle_partition_lag_minutes, 0, True
        ),
        dead_letter_payload=_choice(
            reader, raw, path, "dead_letter_payload", ("keep", "redact"), d.dead_letter_payload
        ),
    )


def _choice(
    reader: Reader,
    raw: Mapping[str, Any],
    path: Path,
    key: str,
    allowed: tuple[str, ...],
    default: str,
) -> str:
    value = raw.get(key, default)
    if value not in allowed:
        raise reader.fail(
            (*path, key),
            f"'{dotted((*path, key))}' is {value!r}",
            f"use one of {', '.join(allowed)}",
        )
    return str(value)


def _instant(reader: Reader, raw: Mapping[str, Any], path: Path, key: str, default: str) -> int:
    """An ISO-8601 time with offset in the configuration, as epoch ms."""
    value = raw.get(key, default)
    try:
        return parse_ts(value) if isinstance(value, str) else parse_ts(object())
    except ValueError:
        raise reader.fail(
            (*path, key), f"'{dotted((*path, key))}' is {value!r}", f"e.g. {key}: {default!r}"
        ) from None


def _lifecycle(reader: Reader, data: object) -> LifecycleConfig:
    path: Path = ("lifecycle",)
    d = LifecycleConfig()
    raw = reader.mapping(data, path, LifecycleConfig.__slots__)
    activity = raw.get("activity", list(d.activity))
    allowed = ACTIVITY_TYPES
    if (
        not isinstance(activity, list)
        or not activity
        or any(kind not in allowed for kind in activity)
    ):
        raise reader.fail(
            (*path, "activity"),
            f"'lifecycle.activity' is {activity!r}",
            f"list one or more of {', '.join(allowed)}",
        )
    days = {
        key: reader.number(raw, path, key, getattr(d, key), 1, True)
        for key in ("new_days", "dormant_after_days", "churned_after_days", "reactivated_days")
    }
    if days["churned_after_days"] <= days["dormant_after_days"]:
        raise reader.fail(
            (*path, "churned_after_days"),
            "'lifecycle.churned_after_days' must be greater than dormant_after_days",
            f"e.g. churned_after_days: {days['dormant_after_days'] * 3}",
        )
    return LifecycleConfig(activity=tuple(activity), **days)


RFM_CONDITIONS: Final = ("min_orders", "min_tenure_days", "max_days_since_purchase")


def _tiers(
    reader: Reader,
    data: object,
    path: Path,
    key: str,
    default: tuple[Tier, ...],
    minimum: float,
    conditions: tuple[str, ...] = (),
) -> tuple[Tier, ...]:
    if data is None:
        return default
    if not isinstance(data, list) or not data:
        raise reader.fail(
            path,
            f"'{dotted(path)}' must be a non-empty list",
            f"write items like '- {{name: gold, {key}: 10}}'",
        )
    tiers = []
    for index, item in enumerate(data):
        where = (*path, index)
        raw = reader.mapping(item, where, ("name", key, *conditions))
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise reader.fail(
                where,
                f"'{dotted(where)}.name' must be a lower-case name",
                "use letters, digits and '_', starting with a letter",
            )
        if key not in raw:
            raise reader.fail(where, f"tier {name!r} has no '{key}'", f"add '{key}: <number>'")
        limits = {field: reader.number(raw, where, field, 0, 0, True) for field in conditions}
        tiers.append(Tier(name, reader.number(raw, where, key, 0, minimum, False), **limits))
    ordered = tuple(sorted(tiers, key=lambda tier: -tier.minimum))
    if len({tier.name for tier in ordered}) != len(ordered):
        raise reader.fail(
            path, f"'{dotted(path)}' repeats a tier name", "give each tier its own name"
        )
    return ordered


def _value(reader: Reader, data: object) -> ValueConfig:
    path: Path = ("value",)
    d = ValueConfig()
    raw = reader.mapping(
        data,
        path,
        (
            "rfm_tiers",
            "rfm_hysteresis_points",
            "rescore_days",
            "downgrade_after_checks",
            "membership",
        ),
    )
    rfm = _tiers(
        reader,
        raw.get("rfm_tiers"),
        (*path, "rfm_tiers"),
        "min_score",
        d.rfm_tiers,
        3,
        RFM_CONDITIONS,
    )
    last = rfm[-1]
    if (
        last.minimum > 3
        or last.min_orders > 1
        or last.min_tenure_days
        or last.max_days_since_purchase
    ):
        raise reader.fail(
            (*path, "rfm_tiers"),
            "the last RFM tier must take every customer (the lowest score, no conditions)",
            "give the last tier 'min_score: 3' and no min_orders, min_tenure_days or "
            "max_days_since_purchase",
        )
    member_path: Path = (*path, "membership")
    member = reader.mapping(raw.get("membership"), member_path, ("metric", "tiers", "hysteresis"))
    metric = member.get("metric", d.membership_metric)
    if metric not in VARIABLES or VARIABLES[metric].kind not in (int, float):
        raise reader.fail(
            (*member_path, "metric"),
            f"membership metric {metric!r} is not a numeric feature",
            "use e.g. monetary or monetary_90d (docs/features.md)",
        )
    tiers = _tiers(
        reader, member.get("tiers"), (*member_path, "tiers"), "min", d.membership_tiers, 0
    )
    if tiers[-1].minimum > 0:
        raise reader.fail(
            (*member_path, "tiers"),
            "no membership tier starts at 0",
            "give the lowest tier 'min: 0'",
        )
    hysteresis = reader.number(member, member_path, "hysteresis", d.membership_hysteresis, 0, False)
    if hysteresis >= 1:
        raise reader.fail(
            (*member_path, "hysteresis"),
            "membership hysteresis must be below 1",
            "it is a share of the threshold, e.g. 0.1 for 10%",
        )
    return ValueConfig(
        rfm_tiers=rfm,
        rfm_hysteresis_points=reader.number(
            raw, path, "rfm_hysteresis_points", d.rfm_hysteresis_points, 0, True
        ),
        rescore_days=reader.number(raw, path, "rescore_days", d.rescore_days, 1, True),
        downgrade_after_checks=reader.number(
            raw, path, "downgrade_after_checks", d.downgrade_after_checks, 1, True
        ),
        membership_metric=metric,
        membership_tiers=tiers,
        membership_hysteresis=float(hysteresis),
    )


def _segments(reader: Reader, data: object) -> tuple[RuleSegment, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise reader.fail(
            ("segments",),
            "'segments' must be a list",
            "write items like '- name: vip' with an 'enter' rule",
        )
    segments: list[RuleSegment] = []
    for index, item in enumerate(data):
        where: Path = ("segments", index)
        raw = reader.mapping(item, where, ("name", "enter", "exit", "description"))
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise reader.fail(
                where,
                f"segment #{index + 1} has no valid 'name' ({name!r})",
                "use a lower-case name of letters, digits and '_'",
            )
        if any(segment.name == name for segment in segments):
            raise reader.fail(
                (*where, "name"),
                f"segment {name!r} is defined twice",
                "rename or remove one of them",
            )
        if "enter" not in raw:
            raise reader.fail(
                where, f"segment {name!r} has no 'enter' rule", 'add e.g. enter: "orders_90d >= 3"'
            )
        enter = _rule(reader, raw["enter"], (*where, "enter"), name)
        exit_rule = _rule(reader, raw["exit"], (*where, "exit"), name) if "exit" in raw else None
        description = raw.get("description", "")
        segments.append(RuleSegment(name, enter, exit_rule, str(description)))
    return tuple(segments)


def _rule(reader: Reader, source: object, path: Path, segment: str) -> Rule:
    try:
        return compile_rule(source)  # type: ignore[arg-type]
    except RuleError as exc:
        raise reader.fail(
            path,
            f"segment {segment!r}, rule '{path[-1]}': {exc}",
            "see docs/features.md for variables and CEL syntax",
        ) from None


def _check_triggers(
    reader: Reader,
    campaigns: CampaignsConfig,
    value: ValueConfig,
    segments: tuple[RuleSegment, ...],
) -> None:
    """Segment triggers must name a dimension and a value that can actually occur."""
    known: dict[str, tuple[str, ...] | None] = {
        "lifecycle": ("new", "active", "dormant", "churned", "reactivated"),
        "value_tier": ("prospect", *(tier.name for tier in value.rfm_tiers)),
        "membership": tuple(tier.name for tier in value.membership_tiers),
        "persona": None,  # named from centroids at run time
        **{f"rule:{segment.name}": ("in",) for segment in segments},
    }
    for index, campaign in enumerate(campaigns.campaigns):
        trigger = campaign.trigger
        if trigger.kind != "segment":
            continue
        where: Path = ("campaigns", "active", index, "trigger", "segment")
        if trigger.dimension not in known:
            raise reader.fail(
                where,
                f"campaign {campaign.name!r}: unknown segment dimension {trigger.dimension!r}",
                f"use one of {', '.join(known)}",
            )
        values = known[trigger.dimension]
        if values is not None and trigger.to not in values:
            raise reader.fail(
                where,
                f"campaign {campaign.name!r}: {trigger.dimension} has no value {trigger.to!r}",
                f"use one of {', '.join(values)}",
            )
