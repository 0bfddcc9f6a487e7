"""In-process replay: a recorded log through the core pipeline into one file per topic.

`segment-changes.jsonl` holds exactly the message values the worker produces on the topic
`segment-changes`, and so on for every output topic.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from models.suite import Suite, suite_factory
from streams import __version__
from streams.core.campaigns import all_campaign_stats
from streams.core.churn import Scored
from streams.core.config import PulseConfig
from streams.core.outputs import OUTPUT_TOPICS, encode
from streams.core.pipeline import Pipeline
from streams.core.timefmt import format_ts
from streams.core.uplift import campaign_table, merge
from streams.logfile import LogReader
from streams.snapshot import load_snapshot

SUMMARY_FILE = "summary.json"
SCORES_FILE = "churn-scores.jsonl"
PROGRESS_EVERY = 20_000


@dataclass
class ReplayResult:
    pipeline: Pipeline
    seconds: float
    log: Path
    out_dir: Path

    @property
    def records_per_second(self) -> float:
        return self.pipeline.stats.records / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        stats = self.pipeline.stats
        populations: dict[str, dict[str, int]] = {}
        for (dimension, value), count in sorted(self.pipeline.populations().items()):
            populations.setdefault(dimension, {})[value] = count
        return {
            "pulse_version": __version__,
            "log": str(self.log),
            "config": self.pipeline.config.source,
            "partitions": len(self.pipeline.partitions),
            "records": stats.records,
            "accepted": stats.records - sum(stats.rejected.values()),
            "events_by_type": dict(sorted(stats.accepted.items())),
            "rejected_by_reason": dict(sorted(stats.rejected.items())),
            "outputs_by_topic": {topic: stats.outputs.get(topic, 0) for topic in OUTPUT_TOPICS},
            "segment_populations": populations,
            "users": self.pipeline.users(),
            "users_expired": stats.users_expired,
            "rule_errors": stats.rule_errors,
            "last_rule_error": stats.last_rule_error or None,
            "models": models_summary(self.pipeline),
            "campaigns": campaigns_summary(self.pipeline),
            "users_erased": stats.users_erased,
            "backfill": {
                "until": format_ts(self.pipeline.config.stream.backfill_until)
                if self.pipeline.config.stream.backfill_until
                else None,
                "campaign_candidates_skipped": stats.campaigns.backfill_skipped,
            },
            "watermarks": [
                format_ts(p.watermark) if p.clock > 0 else None for p in self.pipeline.partitions
            ],
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records_per_second, 1),
        }


def models_summary(pipeline: Pipeline) -> dict[str, Any]:
    """Churn quality over resolved labels, personas named from their centroids, reco size."""
    settings = pipeline.config.models
    out: dict[str, Any] = {}
    if settings.churn.enabled:
        out["churn"] = pipeline.stats.churn.summary(settings.churn.horizon_days)
    suites = [p.models for p in pipeline.partitions if isinstance(p.models, Suite)]
    if settings.clusters.enabled:
        out["persona_centroids"] = {
            f"partition {index}": [
                {"persona": suite.clusters.label(cluster), "centroid": name}
                for cluster, name in sorted(suite.clusters.describe().items())
            ]
            for index, suite in enumerate(suites)
            if suite.clusters is not None
        }
    if settings.recommendations.enabled:
        out["recommendations"] = {
            "items_tracked": [
                len(suite.recommender.popularity) for suite in suites if suite.recommender
            ]
        }
    return out


def final_campaign_stats(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Every partition's campaign figures at the end of the log, as campaign_stats values."""
    names = [campaign.name for campaign in pipeline.config.campaigns.campaigns]
    return [
        output.value
        for partition in pipeline.partitions
        for output in all_campaign_stats(
            partition.ledger, names, partition.partition, max(partition.clock, 0)
        )
    ]


def campaigns_summary(pipeline: Pipeline) -> dict[str, Any]:
    final = final_campaign_stats(pipeline)
    return {
        "final_stats": final,
        "outcomes": {name: merged["outcomes"] for name, merged in merge(final).items()},
        "uplift": campaign_table(final),
    }


def replay_to_dir(
    log: str | Path,
    out_dir: str | Path,
    config: PulseConfig,
    progress: Callable[[int, int], None] | None = None,
    all_scores: bool = False,
    resume: Path | None = None,
) -> ReplayResult:
    """Replay `log` in-process; write one JSONL file per output topic and summary.json.

    With `all_scores`, also churn-scores.jsonl: one line per churn prediction point. With
    `resume`, start from the state a `pulse backfill` saved (streams/snapshot.py).

    The files are written into a hidden folder inside `out_dir` and moved into place only
    when the replay has finished, replacing every file of an earlier run: an interrupted
    or failed replay leaves the earlier outputs as they were, never a mix of the two.
    """
    log_path, out_path = Path(log), Path(out_dir)
    out_path.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=out_path))
    try:
        result = _replay(log_path, partial, config, progress, all_scores, resume)
        for name in (*(f"{topic}.jsonl" for topic in OUTPUT_TOPICS), SCORES_FILE, SUMMARY_FILE):
            written = partial / name
            if written.exists():
                os.replace(written, out_path / name)
            else:
                (out_path / name).unlink(missing_ok=True)  # an earlier run's, not this one's
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    result.out_dir = out_path
    return result


def _replay(
    log_path: Path,
    out_path: Path,
    config: PulseConfig,
    progress: Callable[[int, int], None] | None,
    all_scores: bool,
    resume: Path | None,
) -> ReplayResult:
    pipeline = Pipeline(config, suite_factory(config))
    if resume is not None:
        load_snapshot(pipeline, resume)
    source_name = log_path.name
    started = time.perf_counter()
    with ExitStack() as stack:
        files: dict[str, IO[bytes]] = {
            topic: stack.enter_context((out_path / f"{topic}.jsonl").open("wb"))
            for topic in OUTPUT_TOPICS
        }
        if all_scores:
            scores = stack.enter_context((out_path / SCORES_FILE).open("wb"))

            def write_score(scored: Scored) -> None:
                scores.write(score_line(scored) + b"\n")

            for partition in pipeline.partitions:
                partition.on_score = write_score
        reader = stack.enter_context(LogReader(log_path))
        process = pipeline.process
        for number, raw in enumerate(reader, start=1):
            for output in process(raw, {"file": source_name, "line": number}):
                files[output.topic].write(encode(output.value) + b"\n")
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(reader.position(), reader.size)
        if progress is not None:
            progress(reader.size, reader.size)
    result = ReplayResult(pipeline, time.perf_counter() - started, log_path, out_path)
    (out_path / SUMMARY_FILE).write_bytes(
        orjson.dumps(result.summary(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )
    return result


def score_line(scored: Scored) -> bytes:
    return orjson.dumps(
        {
            "event_id": scored.event_id,
            "user_id": scored.user_id,
            "ts": format_ts(scored.ts),
            "score": scored.score,
        }
    )
