"""`pulse evaluate churn`: how well churn risk is predicted, from a log alone.

The log runs through the pipeline's own churn tracker (streams/core/churn.py) with one
partition — one model for all users — so the figures are those of the score Pulse emits:
every purchase and every rescoring of a quiet customer is a prediction point; a point's
label is final only when event time passes t + H (1: no purchase in (t, t + H]); points
the log ends too early for are never counted. Learning is progressive: a point is scored
before its label exists, and counted only after the warm-up.

Reported beside the combined score: each of its inputs (BG/NBD, BG/NBD recalibrated, the
regression, the stacker) and the plain 1/(1 + orders). Quality: ROC AUC and log loss over
final labels, and calibration month by month.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from models.suite import suite_factory
from streams.core.churn import ChurnStats, Scored
from streams.core.config import PulseConfig, build_config
from streams.core.pipeline import NO_CLOCK, Pipeline
from streams.core.quality import ScoreQuality
from streams.core.timefmt import MS_PER_DAY, format_ts


class LogTooShort(ValueError):
    """The log cannot give a single final label after the warm-up."""


class MostlyRejected(ValueError):
    """More than half of the log was dead-lettered: the figures would mean nothing."""


@dataclass(slots=True)
class Point:
    cause: str
    user_id: str
    ts: int
    score: float
    inputs: tuple[float, ...]


@dataclass
class Result:
    horizon_days: int
    warmup_days: float
    stats: ChurnStats
    records: int = 0
    rejected: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    scores: list[Point] = field(default_factory=list)
    # At the end of the log, per input: (weight in the score, labels that measured it).
    mixture: dict[str, tuple[float, int]] = field(default_factory=dict)

    @property
    def days(self) -> float:
        if self.first_ts is None or self.last_ts is None:
            return 0.0
        return (self.last_ts - self.first_ts) / MS_PER_DAY


def evaluation_config(horizon_days: int) -> PulseConfig:
    """One partition, churn only: the pipeline's tracker with nothing else to pay for."""
    return build_config(
        {
            "stream": {"partitions": 1, "state_ttl_days": max(400, horizon_days + 1)},
            "models": {
                "churn": {"horizon_days": horizon_days},
                "clusters": {"enabled": False},
                "recommendations": {"enabled": False},
            },
        },
        "<evaluate churn>",
    )


def evaluate(
    lines: Iterable[bytes], horizon_days: int, warmup_days: float, keep_scores: bool = False
) -> Result:
    config = evaluation_config(horizon_days)
    pipeline = Pipeline(config, suite_factory(config))
    partition = pipeline.partitions[0]
    result = Result(horizon_days, warmup_days, pipeline.stats.churn)
    if keep_scores:

        def keep(scored: Scored) -> None:
            result.scores.append(
                Point(scored.cause, scored.user_id, scored.ts, scored.score, scored.inputs)
            )

        partition.on_score = keep
    source: dict[str, Any] = {}
    for raw in lines:
        pipeline.process(raw, source)
        if result.first_ts is None and partition.clock != NO_CLOCK:
            result.first_ts = partition.clock
            result.stats.count_from = partition.clock + int(warmup_days * MS_PER_DAY)
    stats = pipeline.stats
    result.records = stats.records
    result.rejected = sum(stats.rejected.values())
    result.last_ts = None if partition.clock == NO_CLOCK else partition.clock
    if partition.churn is not None:
        result.mixture = partition.churn.model.mixture()
    refused = stats.mostly_rejected() if result.records else None
    if refused is not None:
        raise MostlyRejected(
            f"{refused[0]:,} of {result.records:,} records were rejected ({refused[1]})"
        )
    needed = warmup_days + horizon_days
    if result.days < needed:
        raise LogTooShort(
            f"the log spans {result.days:.1f} days of event time; warm-up ({warmup_days:g}) + "
            f"horizon ({horizon_days}) need {needed:g}"
        )
    return result


def summary(result: Result) -> dict[str, Any]:
    figures = result.stats.summary(result.horizon_days)
    figures["warmup_days"] = result.warmup_days
    figures["log_days"] = round(result.days, 1)
    figures["records"] = result.records
    figures["rejected"] = result.rejected
    if result.first_ts is not None:
        figures["scored_from"] = format_ts(result.stats.count_from)
    figures["mixture_at_end"] = {
        name: {"weight": round(weight, 4), "measured_labels": measured}
        for name, (weight, measured) in result.mixture.items()
    }
    return figures


def rows(figures: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, {roc_auc, log_loss}) per scorer: the score, its inputs, the baselines."""
    yield "Pulse churn score (combined)", figures
    labels = {
        "bg_nbd": "  input: BG/NBD",
        "bg_nbd_calibrated": "  input: BG/NBD recalibrated online",
        "regression": "  input: regression on behaviour (River)",
        "stacked": "  input: stacker of BG/NBD and the regression",
    }
    for name, quality in figures["inputs"].items():
        yield labels.get(name, f"  input: {name}"), quality
    for name, quality in figures["baselines"].items():
        yield f"baseline: {name}", quality


def truth_auc(labels: list[bool], scores: list[float]) -> float:
    quality = ScoreQuality()
    for label, score in zip(labels, scores, strict=True):
        quality.add(score, label)
    return quality.auc()


def score_lines(result: Result) -> Iterator[dict[str, Any]]:
    for point in result.scores:
        yield {
            "cause": point.cause,
            "user_id": point.user_id,
            "ts": format_ts(point.ts),
            "score": point.score,
            "inputs": list(point.inputs),
        }
