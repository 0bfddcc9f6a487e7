"""The `campaigns:` section: campaigns as configuration, checked at start-up.

Every problem names the file, the line, the campaign and the field, with a fix.

>>> from streams.core.config_reader import Reader
>>> cfg = campaigns_section(Reader("pulse.yaml", {}), {"active": [{
...     "name": "welcome", "trigger": {"segment": {"dimension": "lifecycle", "to": "new"}},
...     "channels": ["email"], "template": "welcome_v1"}]})
>>> cfg.campaigns[0].trigger, cfg.campaigns[0].variants
(Trigger(kind='segment', dimension='lifecycle', to='new', leaving=False, minutes=0, min_searches=0, min_views=0, min_days_inactive=0), (Variant(name='default', weight=1.0),))
>>> campaigns_section(Reader("pulse.yaml", {}), {"active": [{"name": "x", "trigger": {"event": "cart_left"},
...     "channels": ["email"], "template": "t"}]})
Traceback (most recent call last):
...
streams.core.errors.ConfigError: pulse.yaml: campaign 'x': 'campaigns.active[0].trigger.event' is 'cart_left' (fix: use one of first_purchase, cart_abandoned, browse_abandoned, search_abandoned)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from streams.core.config_reader import Path, Reader, dotted
from streams.core.errors import ConfigError
from streams.core.events import CONSENT_CHANNELS
from streams.core.rules import Rule, RuleError, compile_rule
from streams.core.triggers import Trigger, parse_trigger

__all__ = [
    "CONSENT_SOURCES",
    "DEFAULT_VARIANT",
    "Campaign",
    "CampaignsConfig",
    "Coupon",
    "Policy",
    "Trigger",
    "Variant",
    "campaigns_section",
]

_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    weight: float


@dataclass(frozen=True, slots=True)
class Coupon:
    base_percent: float = 10.0
    max_percent: float = 30.0


# The one variant of a campaign that declares none: not "control", which would read
# like the holdout group.
DEFAULT_VARIANT: Final = "default"
# Who enforces channel consent: Pulse (an opt-in from a `profile` event is needed), or the
# shop's email/push provider (every channel not explicitly refused is allowed).
CONSENT_SOURCES: Final = ("pulse", "external")


@dataclass(frozen=True, slots=True)
class Campaign:
    name: str
    trigger: Trigger
    channels: tuple[str, ...]
    template: str
    audience: Rule | None = None
    priority: int = 0
    cooldown_days: float = 7.0
    expiry_hours: float = 24.0
    holdout: float = 0.1
    variants: tuple[Variant, ...] = (Variant(DEFAULT_VARIANT, 1.0),)
    coupon: Coupon | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    global_control: float = 0.05
    channel_per_day: int = 1
    channel_per_week: int = 3
    all_per_week: int = 5
    quiet_start_hour: int = 21  # local time: no message from 21:00 ...
    quiet_end_hour: int = 8  # ... to 08:00 (deferred to 08:00)
    default_timezone: str = "UTC"
    attribution_days: float = 7.0
    stats_every_hours: float = 24.0
    consent_source: str = "pulse"
    # Messages whose expiry falls before this time (epoch ms; 0: none) are suppressed as
    # `expired`. `pulse replay` sets it to when the replay runs, so replaying an old log
    # never emits sends nobody could still receive (unless --send-expired). Never read
    # from the wall clock here: the command line passes it in.
    expired_before: int = 0


@dataclass(frozen=True, slots=True)
class CampaignsConfig:
    policy: Policy = field(default_factory=Policy)
    campaigns: tuple[Campaign, ...] = ()


class _Scoped:
    """A reader whose errors start with the campaign's name."""

    def __init__(self, reader: Reader, campaign: str) -> None:
        self.reader, self.campaign = reader, campaign

    def fail(self, path: Path, problem: str, fix: str) -> ConfigError:
        return self.reader.fail(path, f"campaign {self.campaign!r}: {problem}", fix)


def _policy(reader: Reader, data: object) -> Policy:
    path: Path = ("campaigns", "policy")
    d = Policy()
    raw = reader.mapping(
        data,
        path,
        (
            "global_control",
            "frequency_caps",
            "quiet_hours",
            "default_timezone",
            "attribution_days",
            "stats_every_hours",
            "consent_source",
        ),
    )
    consent_source = raw.get("consent_source", d.consent_source)
    if consent_source not in CONSENT_SOURCES:
        raise reader.fail(
            (*path, "consent_source"),
            f"consent_source must be one of {', '.join(CONSENT_SOURCES)}, got {consent_source!r}",
            "use 'external' when your email/push provider enforces consent, else 'pulse'",
        )
    caps_path = (*path, "frequency_caps")
    caps = reader.mapping(
        raw.get("frequency_caps"),
        caps_path,
        ("channel_per_day", "channel_per_week", "all_per_week"),
    )
    quiet_path = (*path, "quiet_hours")
    quiet = reader.mapping(raw.get("quiet_hours"), quiet_path, ("start", "end"))
    hours = {}
    for key, default in (("start", d.quiet_start_hour), ("end", d.quiet_end_hour)):
        value = reader.number(quiet, quiet_path, key, default, 0, True)
        if value > 23:
            raise reader.fail(
                (*quiet_path, key),
                f"'{dotted((*quiet_path, key))}' must be an hour 0..23",
                "e.g. start: 21, end: 8",
            )
        hours[key] = value
    zone = raw.get("default_timezone", d.default_timezone)
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(str(zone))
    except (KeyError, ValueError):
        raise reader.fail(
            (*path, "default_timezone"),
            f"'{zone}' is not an IANA time zone",
            "e.g. Europe/Berlin or UTC",
        ) from None
    return Policy(
        global_control=reader.share(
            raw, path, "global_control", d.global_control, "a share, e.g. 0.1"
        ),
        channel_per_day=reader.number(
            caps, caps_path, "channel_per_day", d.channel_per_day, 0, True
        ),
        channel_per_week=reader.number(
            caps, caps_path, "channel_per_week", d.channel_per_week, 0, True
        ),
        all_per_week=reader.number(caps, caps_path, "all_per_week", d.all_per_week, 0, True),
        quiet_start_hour=hours["start"],
        quiet_end_hour=hours["end"],
        default_timezone=str(zone),
        attribution_days=float(
            reader.number(raw, path, "attribution_days", d.attribution_days, 0.01, False)
        ),
        stats_every_hours=float(
            reader.number(raw, path, "stats_every_hours", d.stats_every_hours, 0.1, False)
        ),
        consent_source=str(consent_source),
    )


def _campaign(reader: Reader, data: object, path: Path, seen: set[str]) -> Campaign:
    raw = reader.mapping(
        data,
        path,
        (
            "name",
            "trigger",
            "audience",
            "channels",
            "template",
            "priority",
            "cooldown_days",
            "expiry_hours",
            "holdout",
            "variants",
            "coupon",
        ),
    )
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise reader.fail(
            path,
            f"campaign #{path[-1] + 1 if isinstance(path[-1], int) else '?'} has no valid 'name' ({name!r})",
            "use a lower-case name of letters, digits and '_'",
        )
    if name in seen:
        raise reader.fail(
            (*path, "name"), f"campaign {name!r} is defined twice", "rename or remove one of them"
        )
    seen.add(name)
    scoped = _Scoped(reader, name)
    if "trigger" not in raw:
        raise scoped.fail(
            path, "no 'trigger'", "add e.g. trigger: {event: cart_abandoned, minutes: 60}"
        )
    trigger = parse_trigger(reader, raw["trigger"], (*path, "trigger"), scoped.fail)
    channels = raw.get("channels")
    if (
        not isinstance(channels, list)
        or not channels
        or any(c not in CONSENT_CHANNELS for c in channels)
        or len(set(channels)) != len(channels)
    ):
        raise scoped.fail(
            (*path, "channels"),
            f"'channels' is {channels!r}",
            f"list channels in order of preference, from {', '.join(CONSENT_CHANNELS)}",
        )
    template = raw.get("template")
    if not isinstance(template, str) or not template.strip():
        raise scoped.fail(
            (*path, "template"),
            "no 'template'",
            "name the template the delivery system renders, e.g. template: winback_v2",
        )
    audience = None
    if "audience" in raw:
        try:
            audience = compile_rule(raw["audience"])
        except RuleError as exc:
            raise scoped.fail(
                (*path, "audience"),
                f"audience rule: {exc}",
                "see docs/features.md for variables and CEL syntax",
            ) from None
    variants: list[Variant] = []
    for index, item in enumerate(raw.get("variants") or []):
        where = (*path, "variants", index)
        v = reader.mapping(item, where, ("name", "weight"))
        vname = v.get("name")
        if not isinstance(vname, str) or not _NAME.match(vname):
            raise scoped.fail(
                where, f"variant #{index + 1} has no valid 'name'", "e.g. - {name: a, weight: 1}"
            )
        weight = float(reader.number(v, where, "weight", 1.0, 0, False))
        variants.append(Variant(vname, weight))
    if variants and sum(v.weight for v in variants) <= 0:
        raise scoped.fail(
            (*path, "variants"),
            "variant weights add up to 0",
            "give at least one variant a weight above 0",
        )
    coupon = None
    if raw.get("coupon") is not None:
        cpath = (*path, "coupon")
        c = reader.mapping(raw["coupon"], cpath, ("base_percent", "max_percent"))
        coupon = Coupon(
            float(reader.number(c, cpath, "base_percent", 10.0, 0, False)),
            float(reader.number(c, cpath, "max_percent", 30.0, 0, False)),
        )
        if coupon.max_percent > 90 or coupon.base_percent > coupon.max_percent:
            raise scoped.fail(
                cpath,
                "coupon percentages must satisfy base <= max <= 90",
                "e.g. coupon: {base_percent: 10, max_percent: 25}",
            )
    return Campaign(
        name=name,
        trigger=trigger,
        channels=tuple(channels),
        template=template,
        audience=audience,
        priority=reader.number(raw, path, "priority", 0, -1000, True),
        cooldown_days=float(reader.number(raw, path, "cooldown_days", 7.0, 0, False)),
        expiry_hours=float(reader.number(raw, path, "expiry_hours", 24.0, 0.01, False)),
        holdout=reader.share(raw, path, "holdout", 0.1, "a share, e.g. 0.1"),
        variants=tuple(variants) or (Variant(DEFAULT_VARIANT, 1.0),),
        coupon=coupon,
    )


def campaigns_section(reader: Reader, data: object) -> CampaignsConfig:
    raw = reader.mapping(data, ("campaigns",), ("policy", "active"))
    active = raw.get("active")
    if active is not None and not isinstance(active, list):
        raise reader.fail(
            ("campaigns", "active"),
            "'campaigns.active' must be a list",
            "write items like '- name: welcome'",
        )
    seen: set[str] = set()
    campaigns = tuple(
        _campaign(reader, item, ("campaigns", "active", index), seen)
        for index, item in enumerate(active or [])
    )
    return CampaignsConfig(policy=_policy(reader, raw.get("policy")), campaigns=campaigns)
