"""Prometheus metrics of a worker, read from its runtime at scrape time, and its HTTP
endpoints: /metrics, /healthz (the process answers) and /readyz (assigned partitions
restored, no rebalance in progress).

Counting happens in the core's `Stats` and the runtime (plain counters, no Prometheus in
the hot path); the collector turns them into metric families when Prometheus scrapes.
Labels are bounded sets (topics, partitions, reasons, segments), never user ids. Base
units throughout (seconds, records). Faust's own sensors (prefix `faust_`) can be added
beside them; their latencies are in milliseconds, as Faust reports them.
"""

from __future__ import annotations

import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import accumulate
from threading import BoundedSemaphore, Lock, Thread
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GCCollector,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from streams import __version__


class WorkerCollector(Collector):
    """Metric families from a `WorkerRuntime` (and its worker's rebalance count)."""

    def __init__(self, runtime: Any, rebalances: Any = lambda: 0, lag: Any = dict) -> None:
        self.runtime = runtime
        self.rebalances = rebalances
        self.lag = lag

    def collect(self) -> Iterator[Any]:
        runtime, stats = self.runtime, self.runtime.stats
        yield labelled(
            CounterMetricFamily,
            "pulse_records_consumed",
            "Input records taken, by input topic",
            ["topic"],
            runtime.consumed,
        )
        yield from self._timeliness()
        yield from self._models()
        yield from self._campaigns()
        yield labelled(
            CounterMetricFamily,
            "pulse_events_accepted",
            "Valid input events processed, by type",
            ["type"],
            stats.accepted,
        )
        yield labelled(
            CounterMetricFamily,
            "pulse_events_rejected",
            "Input records sent to dead letters, by reason",
            ["reason"],
            stats.rejected,
        )
        yield labelled(
            CounterMetricFamily,
            "pulse_output_events",
            "Output events produced, by topic",
            ["topic"],
            stats.outputs,
        )
        yield labelled(
            CounterMetricFamily,
            "pulse_segment_transitions",
            "Segment changes",
            ["dimension", "from", "to"],
            stats.changes,
        )
        populations: Counter[tuple[str, str]] = Counter()
        users = 0
        for partition in list(runtime.partitions.values()):
            populations.update(partition.pipeline.populations)
            users += len(partition.store)
        yield labelled(
            GaugeMetricFamily,
            "pulse_segment_population",
            "Users per segment (assigned partitions)",
            ["dimension", "segment"],
            populations,
        )
        yield GaugeMetricFamily("pulse_users", "Users held in state", value=users)
        yield GaugeMetricFamily(
            "pulse_partitions_assigned",
            "Partitions this worker owns",
            value=len(runtime.partitions),
        )
        now_ms = time.time() * 1000.0
        yield labelled(
            GaugeMetricFamily,
            "pulse_event_time_lag_seconds",
            "Wall clock minus event time of the last processed event",
            ["partition"],
            {p: max(0.0, (now_ms - ms) / 1000.0) for p, ms in runtime.last_event_ms.items()},
        )
        for name, doc, value in (
            (
                "pulse_records_redelivered",
                "Records skipped because saved state already included them (at-least-once)",
                runtime.redelivered,
            ),
            (
                "pulse_recovery_repairs",
                "Table values corrected after recovery by a full read",
                runtime.recovery_repairs,
            ),
            (
                "pulse_recovery_seconds",
                "Time spent restoring partitions after assignment",
                runtime.recovery_seconds,
            ),
            ("pulse_rebalances", "Partition revocations seen", self.rebalances()),
            (
                "pulse_records_rekeyed",
                "Records not keyed by their user id, re-sent to the user's partition",
                runtime.rekeyed,
            ),
            (
                "pulse_ticks_published",
                "Ticks written to other partitions as this worker's event time crossed an hour",
                runtime.ticks_published,
            ),
            (
                "pulse_changelog_writes",
                "User states and progress records written to changelogs",
                runtime.changelog_writes,
            ),
        ):
            yield CounterMetricFamily(name, doc, value=value)

    def _models(self) -> Iterator[Any]:
        """Churn model quality over labels resolved in this worker's lifetime, and scores."""
        churn = self.runtime.stats.churn
        bounds = [
            (index + 1) / len(churn.score_buckets) for index in range(len(churn.score_buckets) - 1)
        ]
        yield histogram(
            "pulse_churn_score",
            "Churn scores given at prediction points (probability)",
            bounds,
            churn.score_buckets,
            churn.score_sum,
        )
        yield labelled(
            CounterMetricFamily,
            "pulse_churn_labels_resolved",
            "Prediction points whose label is known, by outcome",
            ["outcome"],
            {"churned": churn.churned, "returned": churn.resolved - churn.churned},
        )
        yield GaugeMetricFamily(
            "pulse_churn_roc_auc",
            "ROC AUC of churn scores over resolved labels (NaN until both outcomes exist)",
            value=churn.quality.auc(),
        )
        yield GaugeMetricFamily(
            "pulse_churn_log_loss",
            "Log loss of churn scores over resolved labels (NaN before the first)",
            value=churn.quality.log_loss(),
        )
        for name, doc, value in (
            (
                "pulse_churn_drift_detections",
                "Page-Hinkley drift detections on the churn model's error stream",
                churn.drifts,
            ),
            ("pulse_churn_band_changes", "churn_risk band changes emitted", churn.band_changes),
            (
                "pulse_model_checkpoints_rejected",
                "Saved model checkpoints refused at restore (incompatible or damaged)",
                self.runtime.rejected_checkpoints,
            ),
            (
                "pulse_restore_records_rejected",
                "Saved user states, ledgers or progress records refused at restore (damaged)",
                self.runtime.rejected_records,
            ),
        ):
            yield CounterMetricFamily(name, doc, value=value)

    def _campaigns(self) -> Iterator[Any]:
        counters = self.runtime.stats.campaigns
        sent: Counter[tuple[str, str]] = Counter()
        suppressed: Counter[tuple[str, str]] = Counter()
        deferred: Counter[tuple[str, str]] = Counter()
        for (campaign, outcome, reason, channel), count in list(counters.outcomes.items()):
            if outcome == "sent":
                sent[(campaign, channel)] += count
            elif outcome == "suppressed":
                suppressed[(campaign, reason)] += count
            else:
                deferred[(campaign, reason)] += count
        yield labelled(
            CounterMetricFamily,
            "pulse_campaign_messages_sent",
            "campaign_message events, by campaign and channel",
            ["campaign", "channel"],
            sent,
        )
        yield labelled(
            CounterMetricFamily,
            "pulse_campaign_messages_suppressed",
            "message_suppressed events, by campaign and reason",
            ["campaign", "reason"],
            suppressed,
        )
        yield labelled(
            CounterMetricFamily,
            "pulse_campaign_messages_deferred",
            "message_deferred events (quiet hours), by campaign and reason",
            ["campaign", "reason"],
            deferred,
        )
        yield labelled(
            CounterMetricFamily,
            "pulse_campaign_conversions",
            "Users converting within the attribution window, by campaign and group",
            ["campaign", "group"],
            counters.conversions,
        )
        yield labelled(
            CounterMetricFamily,
            "pulse_campaign_attributed_revenue",
            "Purchase totals within attribution windows, by campaign, group and currency "
            "(the first 8 currencies seen, then other)",
            ["campaign", "group", "currency"],
            counters.revenue,
        )

    def _timeliness(self) -> Iterator[Any]:
        runtime = self.runtime
        processing, latency = runtime.processing, runtime.record_latency
        yield histogram(
            "pulse_processing_seconds",
            "Time to process one input record (decode to outputs)",
            processing.bounds,
            processing.counts,
            processing.total,
        )
        yield histogram(
            "pulse_record_latency_seconds",
            "Every processed event: its Kafka record timestamp (the producer's clock) to its "
            "outputs handed to the producer (end-to-end latency, as Kafka Streams' "
            "record-e2e-latency)",
            latency.bounds,
            latency.counts,
            latency.total,
        )
        yield labelled(
            GaugeMetricFamily,
            "pulse_consumer_lag",
            "Records behind: log end offset minus committed offset",
            ["topic", "partition"],
            self.lag(),
        )
        yield labelled(
            GaugeMetricFamily,
            "pulse_watermark_seconds",
            "Event-time watermark per partition (Unix seconds)",
            ["partition"],
            {
                number: partition.pipeline.watermark / 1000.0
                for number, partition in list(runtime.partitions.items())
                if partition.pipeline.clock > 0
            },
        )


def labelled(
    kind: Callable[..., Any], name: str, doc: str, labels: list[str], values: Mapping[Any, float]
) -> Any:
    """A metric family with one sample per key (a label value, or a tuple of them)."""
    family = kind(name, doc, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(
            [str(part) for part in (key if isinstance(key, tuple) else (key,))], value
        )
    return family


def cumulative(bounds: Sequence[float], counts: Sequence[int]) -> list[tuple[str, int]]:
    """Prometheus histogram buckets (`le` label, running total) from per-bucket counts.

    >>> cumulative([0.5], [2, 3])
    [('0.5', 2), ('+Inf', 5)]
    """
    labels = [*(str(bound) for bound in bounds), "+Inf"]
    return list(zip(labels, accumulate(counts), strict=True))


def histogram(
    name: str, doc: str, bounds: Sequence[float], counts: Sequence[int], total: float
) -> Any:
    """A histogram family with one sample from per-bucket counts and their sum."""
    family = HistogramMetricFamily(name, doc)
    family.add_metric([], cumulative(bounds, counts), total)
    return family


def build_registry(worker: Any, faust_sensors: bool = False) -> CollectorRegistry:
    """A registry with the worker's metrics (and Faust's sensors, prefixed `faust_`)."""
    registry = CollectorRegistry()
    registry.register(WorkerCollector(worker.runtime, lambda: worker.rebalances, worker.lag))
    # The process's CPU, memory and file descriptors, the interpreter's GC, and what runs.
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    Info("pulse_build", "The Pulse version and the Python it runs on", registry=registry).info(
        {"version": __version__, "python": platform.python_version()}
    )
    if faust_sensors:
        from faust.sensors.prometheus import setup_prometheus_sensors

        # Faust also registers a web page for them; Pulse serves them from its own endpoint.
        setup_prometheus_sensors(worker.app, "/faust-metrics", registry, name_prefix="faust")
    return registry


class CachedPage:
    """The rendered /metrics page, reused for `max_age` seconds.

    Rendering takes a few milliseconds of the worker's interpreter (the GIL): a scraper
    polling many times a second would otherwise take a share of throughput. Prometheus
    scrapes every 15 s by default, so a page up to one second old loses nothing.
    """

    def __init__(self, registry: CollectorRegistry, max_age: float = 1.0) -> None:
        self.registry = registry
        self.max_age = max_age
        self._lock = Lock()
        self._body = b""
        self._at = float("-inf")

    def get(self) -> bytes:
        with self._lock:
            now = time.monotonic()
            if now - self._at >= self.max_age:
                self._body = generate_latest(self.registry)
                self._at = now
            return self._body


CONNECTION_TIMEOUT_S = 5.0
MAX_CONNECTIONS = 16


class BoundedServer(ThreadingHTTPServer):
    """At most MAX_CONNECTIONS handler threads; more are closed at once, not queued.

    Half-open connections cannot pile up threads (each also times out), and a client
    that hangs up mid-reply is not worth a traceback in the worker's log.
    """

    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        kind = sys.exc_info()[0]
        if kind is not None and issubclass(kind, ConnectionError | TimeoutError):
            return  # the client went away: nothing to report
        super().handle_error(request, client_address)


def serve(
    registry: CollectorRegistry,
    host: str,
    port: int,
    readiness: Callable[[], tuple[bool, str]],
    liveness: Callable[[], tuple[bool, str]] = lambda: (True, "ok"),
    users: Any = None,
) -> ThreadingHTTPServer | None:
    """Serve /metrics, /healthz and /readyz on host:port in a thread (port 0: not at all),
    and /users/{id} when `users` (a streams.worker.lookup.UserLookup) is given.

    /healthz asks `liveness` (the worker: has its event loop run lately?), so a hung loop
    fails the probe although this thread still answers.
    """
    if not port:
        return None
    page = CachedPage(registry)

    class Handler(BaseHTTPRequestHandler):
        timeout = CONNECTION_TIMEOUT_S  # a client that sends nothing is dropped

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, page.get(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                alive, why = liveness()
                self._reply(200 if alive else 503, (why + "\n").encode())
            elif path == "/readyz":
                ready, why = readiness()
                self._reply(200 if ready else 503, (why + "\n").encode())
            elif users is not None and path.startswith("/users/"):
                reply = users.get(path)
                extra = {"Location": reply.location} if reply.location else {}
                if reply.retry_after:
                    extra["Retry-After"] = str(reply.retry_after)
                self._reply(reply.status, reply.body, "application/json", extra)
            else:
                self._reply(404, b"try /metrics, /healthz, /readyz or /users/ID\n")

        def _reply(
            self,
            status: int,
            body: bytes,
            kind: str = "text/plain",
            extra: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes every few seconds would flood the log

    server = BoundedServer((host, port), Handler)
    Thread(target=server.serve_forever, name="pulse-metrics", daemon=True).start()
    return server
