"""The `models:` section of the configuration: churn risk, personas, recommendations.

>>> from streams.core.config_reader import Reader
>>> cfg = models_section(Reader("pulse.yaml", {}), {"churn": {"horizon_days": 60}})
>>> cfg.churn.horizon_days, cfg.churn.qualifying, cfg.clusters.k
(60, ('purchase',), 6)
>>> models_section(Reader("pulse.yaml", {}), {"churn": {"bands": {"medium": 0.8, "high": 0.5}}})
Traceback (most recent call last):
...
streams.core.errors.ConfigError: pulse.yaml: 'models.churn.bands': high (0.5) must be above medium (0.8) (fix: e.g. bands: {medium: 0.4, high: 0.7})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from streams.core.config_reader import Path, Reader, dotted
from streams.core.events import BEHAVIOUR_KINDS

# Event kinds that can count as churn-defining activity: an event type, or a click's action.
KINDS: Final = BEHAVIOUR_KINDS


@dataclass(frozen=True, slots=True)
class ChurnSettings:
    enabled: bool = True
    qualifying: tuple[str, ...] = ("purchase",)
    horizon_days: int = 90
    medium: float = 0.4
    high: float = 0.7
    hysteresis: float = 0.05
    top_features: int = 3


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    enabled: bool = True
    k: int = 6
    min_events: int = 5
    switch_after: int = 2


@dataclass(frozen=True, slots=True)
class RecommendationSettings:
    enabled: bool = True
    k: int = 5
    max_items: int = 500
    neighbours: int = 10
    recent_items: int = 8


@dataclass(frozen=True, slots=True)
class ModelsConfig:
    churn: ChurnSettings = field(default_factory=ChurnSettings)
    clusters: ClusterSettings = field(default_factory=ClusterSettings)
    recommendations: RecommendationSettings = field(default_factory=RecommendationSettings)


def _flag(reader: Reader, raw: dict[str, Any], path: Path, default: bool) -> bool:
    value = raw.get("enabled", default)
    if not isinstance(value, bool):
        where = (*path, "enabled")
        raise reader.fail(where, f"'{dotted(where)}' must be true or false", "enabled: true")
    return value


def _churn(reader: Reader, data: object) -> ChurnSettings:
    path: Path = ("models", "churn")
    d = ChurnSettings()
    allowed = tuple(key for key in ChurnSettings.__slots__ if key not in ("medium", "high"))
    raw = reader.mapping(data, path, (*allowed, "bands"))
    qualifying = raw.get("qualifying", list(d.qualifying))
    if (
        not isinstance(qualifying, list)
        or not qualifying
        or any(kind not in KINDS for kind in qualifying)
    ):
        raise reader.fail(
            (*path, "qualifying"),
            f"'models.churn.qualifying' is {qualifying!r}",
            f"list one or more of {', '.join(KINDS)}",
        )
    bands_path = (*path, "bands")
    bands = reader.mapping(raw.get("bands"), bands_path, ("medium", "high"))
    medium = reader.share(bands, bands_path, "medium", d.medium, "a probability")
    high = reader.share(bands, bands_path, "high", d.high, "a probability")
    if high <= medium:
        raise reader.fail(
            bands_path,
            f"'{dotted(bands_path)}': high ({high}) must be above medium ({medium})",
            "e.g. bands: {medium: 0.4, high: 0.7}",
        )
    return ChurnSettings(
        enabled=_flag(reader, raw, path, d.enabled),
        qualifying=tuple(qualifying),
        horizon_days=reader.number(raw, path, "horizon_days", d.horizon_days, 1, True),
        medium=medium,
        high=high,
        hysteresis=reader.share(raw, path, "hysteresis", d.hysteresis, "a probability"),
        top_features=reader.number(raw, path, "top_features", d.top_features, 0, True),
    )


def _clusters(reader: Reader, data: object) -> ClusterSettings:
    path: Path = ("models", "clusters")
    d = ClusterSettings()
    raw = reader.mapping(data, path, ClusterSettings.__slots__)
    return ClusterSettings(
        enabled=_flag(reader, raw, path, d.enabled),
        k=reader.number(raw, path, "k", d.k, 2, True),
        min_events=reader.number(raw, path, "min_events", d.min_events, 1, True),
        switch_after=reader.number(raw, path, "switch_after", d.switch_after, 1, True),
    )


def _recommendations(reader: Reader, data: object) -> RecommendationSettings:
    path: Path = ("models", "recommendations")
    d = RecommendationSettings()
    raw = reader.mapping(data, path, RecommendationSettings.__slots__)
    return RecommendationSettings(
        enabled=_flag(reader, raw, path, d.enabled),
        k=reader.number(raw, path, "k", d.k, 1, True),
        max_items=reader.number(raw, path, "max_items", d.max_items, 10, True),
        neighbours=reader.number(raw, path, "neighbours", d.neighbours, 1, True),
        recent_items=reader.number(raw, path, "recent_items", d.recent_items, 1, True),
    )


def models_section(reader: Reader, data: object) -> ModelsConfig:
    raw = reader.mapping(data, ("models",), ("churn", "clusters", "recommendations"))
    return ModelsConfig(
        churn=_churn(reader, raw.get("churn")),
        clusters=_clusters(reader, raw.get("clusters")),
        recommendations=_recommendations(reader, raw.get("recommendations")),
    )
