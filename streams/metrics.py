"""Prometheus metrics of a worker, read from its runtime at scrape time.

Counting happens in the core's `Stats` (plain counters, no Prometheus in the hot path);
this collector turns them into metric families when Prometheus scrapes. Labels are
bounded sets (topics, reasons, segments), never user ids. Base units throughout.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry


class WorkerCollector(Collector):
    """Metric families from a `WorkerRuntime` (and its worker's rebalance count)."""

    def __init__(self, runtime: Any, rebalances: Any = lambda: 0) -> None:
        self.runtime = runtime
        self.rebalances = rebalances

    def collect(self) -> Iterator[Any]:
        runtime, stats = self.runtime, self.runtime.stats
        records = CounterMetricFamily(
            "pulse_records_consumed", "Input records taken from the input topics"
        )
        records.add_metric([], stats.records)
        yield records
        accepted = CounterMetricFamily(
            "pulse_events_accepted", "Valid input events processed, by type", labels=["type"]
        )
        for kind, count in sorted(stats.accepted.items()):
            accepted.add_metric([kind], count)
        yield accepted
        rejected = CounterMetricFamily(
            "pulse_events_rejected",
            "Input records sent to dead letters, by reason",
            labels=["reason"],
        )
        for reason, count in sorted(stats.rejected.items()):
            rejected.add_metric([reason], count)
        yield rejected
        outputs = CounterMetricFamily(
            "pulse_output_events", "Output events produced, by topic", labels=["topic"]
        )
        for topic, count in sorted(stats.outputs.items()):
            outputs.add_metric([topic], count)
        yield outputs
        transitions = CounterMetricFamily(
            "pulse_segment_transitions", "Segment changes", labels=["dimension", "from", "to"]
        )
        for (dimension, old, new), count in sorted(stats.changes.items()):
            transitions.add_metric([dimension, old, new], count)
        yield transitions
        populations: Counter[tuple[str, str]] = Counter()
        users = 0
        for partition in list(runtime.partitions.values()):
            populations.update(partition.pipeline.populations)
            users += len(partition.store)
        population = GaugeMetricFamily(
            "pulse_segment_population",
            "Users per segment (assigned partitions)",
            labels=["dimension", "segment"],
        )
        for (dimension, segment), count in sorted(populations.items()):
            population.add_metric([dimension, segment], count)
        yield population
        yield GaugeMetricFamily("pulse_users", "Users held in state", value=users)
        yield GaugeMetricFamily(
            "pulse_partitions_assigned",
            "Partitions this worker owns",
            value=len(runtime.partitions),
        )
        lag = GaugeMetricFamily(
            "pulse_event_time_lag_seconds",
            "Wall clock minus event time of the last processed event",
            labels=["partition"],
        )
        now_ms = time.time() * 1000.0
        for partition, event_ms in sorted(runtime.last_event_ms.items()):
            lag.add_metric([str(partition)], max(0.0, (now_ms - event_ms) / 1000.0))
        yield lag
        redelivered = CounterMetricFamily(
            "pulse_records_redelivered",
            "Records skipped because saved state already included them (at-least-once)",
        )
        redelivered.add_metric([], runtime.redelivered)
        yield redelivered
        repairs = CounterMetricFamily(
            "pulse_recovery_repairs", "Table values corrected after recovery by a full read"
        )
        repairs.add_metric([], runtime.recovery_repairs)
        yield repairs
        recovery = CounterMetricFamily(
            "pulse_recovery_seconds", "Time spent restoring partitions after assignment"
        )
        recovery.add_metric([], runtime.recovery_seconds)
        yield recovery
        rebalances = CounterMetricFamily("pulse_rebalances", "Partition revocations seen")
        rebalances.add_metric([], self.rebalances())
        yield rebalances


def serve(runtime: Any, host: str, port: int, rebalances: Any = lambda: 0) -> CollectorRegistry:
    """Serve /metrics for this runtime on host:port (port 0: do not serve)."""
    from prometheus_client import start_http_server

    registry = CollectorRegistry()
    registry.register(WorkerCollector(runtime, rebalances))
    if port:
        start_http_server(port, addr=host, registry=registry)
    return registry
