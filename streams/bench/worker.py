"""`pulse bench worker`: Faust and Pulse on a real broker, against bare aiokafka.

One run on the embedded broker (or --broker), in this order:
1. rates: the same recorded log, produced once per consumer (its own topic prefix and
   group), read by a bare aiokafka loop, by a trivial Faust agent and by Pulse workers
   (each a separate process except the bare loop, each stopped before the next starts);
   rate = the last 90 % of the records / the time they took (from committed offsets), so
   start-up (group join, table recovery and its verification) is left out for all;
   Pulse runs with its /metrics page scraped every 0.1 s and with the endpoint off, in
   the order on, off, off, on … over `--rounds` pairs, keeping each one's best, so a drift
   in the machine's load is not charged to one side;
2. memory: the metered worker's RSS, sampled once 10 % of the log is consumed (after
   start-up and warm-up), at 25 % and at the end;
3. changelog bytes: every record the worker wrote to its state changelog, against the
   bytes of the input log;
4. latency at a paced rate (default: 30 % of the capacity just measured): a bare
   consume-and-produce pass-through (one output per event), then the Pulse worker, each
   fed the same paced stream. Pass-through: output create time − input create time.
   Pulse, on **every** event: the worker's `pulse_record_latency_seconds` histogram
   (input record timestamp → its outputs handed to the producer; both clocks this
   machine's), scraped before and after the paced stream, percentiles interpolated
   within its buckets; beside it, output create time − input create time on the events
   that cause a segment change, and the time a read_committed consumer receives those
   outputs (what a downstream system sees: with exactly-once, after the commit).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console
from rich.table import Table

from streams.broker import EmbeddedBroker, free_port
from streams.core.timefmt import parse_ts
from streams.core.topics import INPUT_TOPICS
from streams.logfile import LogReader
from streams.producer import produce_log, route
from streams.settings import Settings
from streams.simulator.generator import SimulationSpec
from streams.simulator.writer import write_simulation
from streams.topic_admin import ensure_topics
from streams.worker.process import WorkerProcess

START = "2026-01-05T00:00:00Z"


def _make_log(directory: Path, name: str, users: int, days: int, start_ms: int) -> Path:
    path = directory / f"{name}.jsonl.gz"
    write_simulation(path, SimulationSpec(users, days, 3, start_ms), bad_rate=0.0)
    return path


def _count(log: Path) -> int:
    with LogReader(log) as reader:
        return sum(1 for _ in reader)


async def _produce(bootstrap: str, prefix: str, log: Path) -> None:
    options = {"bootstrap_servers": bootstrap}
    await ensure_topics(options, 4, "bench", prefix)
    await produce_log(log, options, None, prefix=prefix)


async def _bare_rate(bootstrap: str, prefix: str, expect: int, wait_ms: int) -> float:
    consumer = AIOKafkaConsumer(
        *(prefix + name for name in INPUT_TOPICS),
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=wait_ms,
    )
    await consumer.start()
    seen, first, tenth = 0, 0.0, expect // 10
    try:
        while seen < expect:
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            for records in batch.values():
                seen += len(records)
                if seen >= tenth and not first:
                    first, base = time.perf_counter(), seen
        return (seen - base) / max(time.perf_counter() - first, 1e-9)
    finally:
        await consumer.stop()


def _trivial_rate(url: str, prefix: str, expect: int, wait_ms: int) -> float:
    command = [sys.executable, "-m", "streams.bench.trivial_agent", "--broker", url]
    command += ["--prefix", prefix, "--expect", str(expect), "--fetch-wait-ms", str(wait_ms)]
    done = subprocess.run(  # noqa: S603 - our own module
        command, capture_output=True, text=True, timeout=600, check=False
    )
    # Faust redirects stdout into its log, so look for the line in both streams.
    found = re.search(r"([0-9.]+) ([0-9.]+) (\d+)\s*$", done.stdout + done.stderr, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"trivial agent failed: {done.stdout[-500:]}{done.stderr[-1500:]}")
    first, last, count = float(found[1]), float(found[2]), int(found[3])
    return count / max(last - first, 1e-9)  # count: records after the first 10 %


def _metrics_page(port: int) -> list[str]:
    """The lines of a worker's /metrics page (none while it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return list(response.read().decode().splitlines())
    except OSError:
        return []


def _histogram(port: int, name: str) -> dict[float, float]:
    """A histogram's cumulative bucket counts by upper bound (inf for +Inf)."""
    buckets: dict[float, float] = {}
    for line in _metrics_page(port):
        found = re.match(rf'{name}_bucket{{le="([^"]+)"}} (\S+)', line)
        if found:
            buckets[float(found[1])] = float(found[2])
    return buckets


def bucket_quantile(buckets: dict[float, float], share: float) -> float:
    """The `share` quantile of cumulative `buckets`, linear within a bucket (as PromQL's
    histogram_quantile); nan without observations.

    >>> bucket_quantile({0.01: 50.0, 0.02: 100.0, float("inf"): 100.0}, 0.75)
    0.015
    """
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return float("nan")
    rank, lower, below = share * total, 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return lower  # beyond the last finite bound: that bound, as PromQL does
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, count
    return lower


def _every_event(before: dict[float, float], after: dict[float, float]) -> dict[str, Any]:
    """Latency figures (ms) of the events observed between two scrapes of the histogram."""
    delta = {bound: after[bound] - before.get(bound, 0.0) for bound in after}
    events = int(delta.get(float("inf"), 0.0))

    def ms(share: float) -> float:
        return round(bucket_quantile(delta, share) * 1000, 1)

    return {"events": events, "p50": ms(0.5), "p99": ms(0.99)}


def _metric(port: int, name: str) -> float:
    """A metric's value, summed over its labels (0 while the worker does not answer)."""
    prefixes = (name + " ", name + "{")
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in _metrics_page(port) if line.startswith(prefixes)
    )


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


class PulseProcess(WorkerProcess):
    """A Pulse worker on its own topic prefix and consumer group, metrics on `port`."""

    def __init__(self, url: str, prefix: str, workdir: Path, port: int) -> None:
        self.port = port
        env = {
            "PULSE_TOPIC_PREFIX": prefix,
            "PULSE_APP_ID": prefix + "pulse",
            "PULSE_WORKDIR": str(workdir),
            "PULSE_METRICS_PORT": str(port),
        }
        super().__init__(url, workdir.parent / f"{prefix}worker.log", env)

    def consumed(self) -> float:
        return _metric(self.port, "pulse_records_consumed_total")


def _scrape(worker: PulseProcess, stop: threading.Event, rss: list[float]) -> None:
    """Scrape /metrics every 0.1 s and sample the worker's memory, until told to stop."""
    while not stop.is_set():
        worker.consumed()
        if worker.process.poll() is None:
            rss.append(_rss_mib(worker.process.pid))
        stop.wait(0.1)


async def _committed_rate(
    bootstrap: str,
    prefix: str,
    expect: int,
    timeout: float,
    on_progress: Callable[[float], None] = lambda share: None,
) -> float:
    """Records/s of a worker, from its group's committed offsets (`on_progress` gets the
    share of the log committed, every 0.1 s)."""
    from aiokafka import TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=prefix + "pulse", enable_auto_commit=False
    )
    await consumer.start()
    tps = [TopicPartition(prefix + name, p) for name in INPUT_TOPICS for p in range(4)]
    first, base, deadline = 0.0, 0, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            done = 0
            for tp in tps:
                done += await consumer.committed(tp) or 0
            on_progress(done / expect)
            if done >= expect // 10 and not first:
                first, base = time.perf_counter(), done
            if done >= expect:
                return (done - base) / max(time.perf_counter() - first, 1e-9)
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()
    raise RuntimeError("the Pulse worker without metrics did not finish in time")


async def _paced(
    bootstrap: str, topics: dict[bytes, tuple[str, bytes | None]], rate: float
) -> dict[str, int]:
    """Send records at `rate`/s; returns send time (ms) by event id."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    sent: dict[str, int] = {}
    started = time.perf_counter()
    try:
        for number, (raw, (topic, key)) in enumerate(topics.items()):
            delay = number / rate - (time.perf_counter() - started)
            if delay > 0:
                await asyncio.sleep(delay)
            stamp = int(time.time() * 1000)
            await producer.send(topic, raw, key=key, timestamp_ms=stamp)
            sent[orjson.loads(raw)["event_id"]] = stamp
        await producer.flush()
    finally:
        await producer.stop()
    return sent


def _paced_records(log: Path, prefix: str, limit: int) -> dict[bytes, tuple[str, bytes | None]]:
    records: dict[bytes, tuple[str, bytes | None]] = {}
    with LogReader(log) as reader:
        for raw in reader:
            topic, key, _ = route(raw)
            records[raw] = (prefix + topic, key)
            if len(records) >= limit:
                break
    return records


async def _passthrough_latency(
    bootstrap: str, log: Path, rate: float, limit: int, wait_ms: int, prefix: str = "pass-"
) -> list[float]:
    await ensure_topics({"bootstrap_servers": bootstrap}, 4, "bench", prefix)
    records = _paced_records(log, prefix, limit)
    consumer = AIOKafkaConsumer(
        *(prefix + name for name in INPUT_TOPICS),
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="latest",
        fetch_max_wait_ms=wait_ms,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await consumer.start()
    await producer.start()
    latencies: list[float] = []
    relayed = 0

    async def relay() -> None:
        # Pipelined, as the worker sends: `send` hands the record to the producer, the
        # delivery is awaited afterwards (awaiting each one in turn capped this relay
        # below the paced rate on Apache Kafka: p50 1.2 s at 1,453 events/s).
        nonlocal relayed
        deliveries: list[tuple[Any, int]] = []
        while relayed < len(records):
            batch = await consumer.getmany(timeout_ms=1000)
            for batch_records in batch.values():
                for record in batch_records:
                    deliveries.append(
                        (await producer.send(prefix + "out", record.value), record.timestamp)
                    )
                    relayed += 1
        for delivery, produced in deliveries:
            meta = await delivery
            latencies.append(float(meta.timestamp - produced))

    try:
        await asyncio.sleep(1.0)  # the consumer has its positions before the feed starts
        task = asyncio.create_task(relay())
        await _paced(bootstrap, records, rate)
        await asyncio.wait_for(task, 60)
    finally:
        await consumer.stop()
        await producer.stop()
    return latencies


async def _pulse_latency(
    bootstrap: str, prefix: str, log: Path, rate: float, limit: int, wait_ms: int
) -> tuple[list[float], list[float]]:
    """Segment changes caused by the paced events: (output create time − input create
    time, time a read_committed consumer received it − input create time), ms. The second
    includes an exactly-once worker's wait for its commit, and the reader's fetch."""
    records = _paced_records(log, prefix, limit)
    consumer = AIOKafkaConsumer(
        prefix + "segment-changes",
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="latest",
        isolation_level="read_committed",
        fetch_max_wait_ms=wait_ms,
    )
    await consumer.start()
    received: list[tuple[Any, float]] = []  # (record, receipt time in ms)
    done = asyncio.Event()

    async def read() -> None:
        while not done.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            now = time.time() * 1000
            received.extend((record, now) for rows in batch.values() for record in rows)

    try:
        await asyncio.sleep(1.0)
        reader = asyncio.create_task(read())
        sent = await _paced(bootstrap, records, rate)
        await asyncio.sleep(5.0)  # the last outputs arrive (a commit interval included)
        done.set()
        await reader
    finally:
        await consumer.stop()
    created: list[float] = []
    visible: list[float] = []
    for record, at in received:
        cause = orjson.loads(record.value).get("cause_event_id")
        if cause in sent:
            created.append(float(record.timestamp - sent[cause]))
            visible.append(at - sent[cause])
    return created, visible


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _changelog_bytes(bootstrap: str, topic: str) -> tuple[int, int]:
    """(records, bytes of keys and values) of a topic, read from the start to its end."""
    from aiokafka import TopicPartition

    # The partition count from the admin API: a consumer without a subscription does not
    # learn it from `topics()` on Apache Kafka (it did on tansu: 0 records were reported).
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = {p["partition"] for t in described for p in t.get("partitions", [])}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return 0, 0
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records = size = 0
        while True:
            behind = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
            if not behind:
                break
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for rows in batch.values():
                for row in rows:
                    records += 1
                    size += len(row.key or b"") + len(row.value or b"")
        return records, size
    finally:
        await consumer.stop()


def _input_bytes(log: Path) -> int:
    with LogReader(log) as reader:
        return sum(len(raw) for raw in reader)


class _PulseRuns:
    """Pulse workers, one at a time, each on a fresh prefix holding the same log."""

    def __init__(
        self, url: str, bootstrap: str, log: Path, events: int, directory: Path, token: str
    ) -> None:
        self.url, self.bootstrap, self.log, self.events = url, bootstrap, log, events
        self.directory = directory
        self.runs = 0
        self.rss: list[tuple[float, float]] = []  # (share consumed, MiB) of metered runs
        self.last_prefix = ""
        # Topic names unique to this bench: a second bench on the same broker would find
        # the first one's topics, log and committed offsets (and measure nothing).
        self.token = token

    def run(self, metered: bool) -> float:
        self.runs += 1
        prefix = f"{self.token}pulse{self.runs}-"
        asyncio.run(_produce(self.bootstrap, prefix, self.log))
        port = free_port() if metered else 0
        worker = PulseProcess(self.url, prefix, self.directory / prefix, port)
        rss: list[tuple[float, float]] = []
        stop = threading.Event()
        scraper = None
        if metered:
            scraper = threading.Thread(target=_scrape, args=(worker, stop, []), daemon=True)
            scraper.start()

        def sample(share: float) -> None:
            if metered and share >= 0.1 and worker.process.poll() is None:
                rss.append((share, _rss_mib(worker.process.pid)))

        try:
            rate = asyncio.run(_committed_rate(self.bootstrap, prefix, self.events, 900, sample))
        finally:
            stop.set()
            if scraper is not None:
                scraper.join(5)
            worker.stop()  # stopped before the next run starts
        if metered and not self.rss:
            self.rss = rss
        self.last_prefix = prefix
        return rate


def _rss_figures(samples: list[tuple[float, float]]) -> dict[str, float] | None:
    if not samples:
        return None
    quarter = next((mib for share, mib in samples if share >= 0.25), samples[-1][1])
    return {
        "after_warm_up_mib": round(samples[0][1], 1),
        "at_25_percent_mib": round(quarter, 1),
        "at_end_mib": round(samples[-1][1], 1),
        "max_mib": round(max(mib for _, mib in samples), 1),
    }


def run_worker_bench(args: argparse.Namespace, console: Console) -> int:
    figures = _measure(args, console)
    if args.json:
        console.print_json(data=figures)
    else:
        _print(console, figures)
    return 0


def _say(console: Console, args: argparse.Namespace, line: str) -> None:
    if args.json:
        print(line, file=sys.stderr, flush=True)
    else:
        console.print(line)


def _measure(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    wait_ms = args.fetch_wait_ms
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="pulse-bench-") as tmp:
        directory = Path(tmp)
        url = args.broker
        if not url:
            url = stack.enter_context(EmbeddedBroker().start()).url
        bootstrap = url.split("://", 1)[-1]
        start_ms = parse_ts(START)
        _say(console, args, f"broker {url}; simulating {args.users} users × {args.days} days …")
        log = _make_log(directory, "rate", args.users, args.days, start_ms)
        later = start_ms + (args.days + 1) * 86_400_000
        paced_log = _make_log(directory, "paced", args.users, 10, later)
        events = _count(log)
        _say(console, args, f"{events:,} events; bare aiokafka loop …")
        token = f"b{uuid.uuid4().hex[:6]}-"  # this bench's topics, apart from any other's
        asyncio.run(_produce(bootstrap, token + "bare-", log))
        bare = asyncio.run(_bare_rate(bootstrap, token + "bare-", events, wait_ms))
        _say(console, args, "trivial Faust agent …")
        trivial = _trivial_rate(url, token + "bare-", events, wait_ms)
        runs = _PulseRuns(url, bootstrap, log, events, directory, token)
        metered: list[float] = []
        unmetered: list[float] = []
        for round_number in range(1, args.rounds + 1):
            # on, off in odd rounds; off, on in even ones (ABBA): drift cancels out.
            order = (True, False) if round_number % 2 else (False, True)
            for with_metrics in order:
                label = "metrics scraped every 0.1 s" if with_metrics else "metrics off"
                _say(console, args, f"Pulse worker, {label} (round {round_number}) …")
                (metered if with_metrics else unmetered).append(runs.run(with_metrics))
        _say(console, args, "changelog bytes …")
        changelog = asyncio.run(
            _changelog_bytes(bootstrap, f"{runs.last_prefix}pulse-users-changelog")
        )
        input_bytes = _input_bytes(log)
        capacity = max(unmetered)
        rate = args.rate if args.rate else round(0.3 * capacity)
        _say(console, args, f"latency at {rate:.0f} events/s: pass-through …")
        passthrough = asyncio.run(
            _passthrough_latency(bootstrap, paced_log, rate, args.paced, wait_ms, token + "pass-")
        )
        _say(console, args, "latency: Pulse worker …")
        latency_prefix = token + "latency-"
        asyncio.run(_produce(bootstrap, latency_prefix, log))
        port = free_port()
        worker = PulseProcess(url, latency_prefix, directory / latency_prefix, port)
        stack.callback(worker.stop)
        asyncio.run(_committed_rate(bootstrap, latency_prefix, events, 900))  # warmed up
        histogram = "pulse_record_latency_seconds"
        before = _histogram(port, histogram)
        pulse_latency, pulse_visible = asyncio.run(
            _pulse_latency(bootstrap, latency_prefix, paced_log, rate, args.paced, wait_ms)
        )
        every_event = _every_event(before, _histogram(port, histogram))
    best_metered, best_unmetered = max(metered), max(unmetered)
    settings = Settings.from_env()
    return {
        "bench": "worker",
        "broker": "embedded (tansu)" if not args.broker else args.broker,
        "events": events,
        # PULSE_* variables of this shell reach the workers: the settings they ran with.
        "worker_settings": {
            "processing_guarantee": settings.processing_guarantee,
            "commit_interval_s": settings.commit_interval_s,
            "fetch_batches": settings.fetch_batches,
            "merge_idle_ms": settings.merge_idle_ms,
        },
        "rates_events_per_s": {
            "bare_aiokafka": round(bare),
            "trivial_faust_agent": round(trivial),
            "pulse_metrics_scraped": round(best_metered),
            "pulse_metrics_off": round(best_unmetered),
        },
        "pulse_runs": {
            "metrics_scraped": [round(v) for v in metered],
            "metrics_off": [round(v) for v in unmetered],
        },
        "pulse_vs_trivial": round(best_metered / trivial, 3),
        "metrics_cost": round(1 - best_metered / best_unmetered, 3),
        "rss": _rss_figures(runs.rss),
        "changelog": {
            "records": changelog[0],
            "bytes": changelog[1],
            "input_bytes": input_bytes,
            "bytes_per_input_event": round(changelog[1] / events, 1),
            "input_bytes_per_event": round(input_bytes / events, 1),
            "ratio_to_input": round(changelog[1] / input_bytes, 3),
        },
        "latency": {
            "rate_events_per_s": rate,
            "share_of_capacity": round(rate / capacity, 2),
            "passthrough_ms": _latency_figures(passthrough),
            "pulse_every_event_ms": every_event,
            "pulse_ms": _latency_figures(pulse_latency),
            "pulse_visible_ms": _latency_figures(pulse_visible),
            "p99_vs_passthrough": round(
                every_event["p99"] / (_percentile(passthrough, 0.99) or float("nan")), 2
            ),
        },
    }


def _latency_figures(values: list[float]) -> dict[str, float | int]:
    return {
        "outputs": len(values),
        "p50": round(_percentile(values, 0.5), 1),
        "p99": round(_percentile(values, 0.99), 1),
        "mean": round(statistics.fmean(values), 1) if values else float("nan"),
    }


def _print(console: Console, figures: dict[str, Any]) -> None:
    rates = figures["rates_events_per_s"]
    trivial = rates["trivial_faust_agent"]
    worker = figures["worker_settings"]
    table = Table(
        title=f"Consume rate, {figures['events']:,} events, one run on {figures['broker']} "
        f"({worker['processing_guarantee']}, commit interval {worker['commit_interval_s']} s)",
        title_justify="left",
    )
    table.add_column("consumer")
    table.add_column("events/s", justify="right")
    table.add_column("vs trivial agent", justify="right")
    runs = figures["pulse_runs"]
    for name, key in (
        ("bare aiokafka loop", "bare_aiokafka"),
        ("trivial Faust agent", "trivial_faust_agent"),
        (
            f"Pulse worker, metrics scraped (best of {len(runs['metrics_scraped'])})",
            "pulse_metrics_scraped",
        ),
        (f"Pulse worker, metrics off (best of {len(runs['metrics_off'])})", "pulse_metrics_off"),
    ):
        table.add_row(name, f"{rates[key]:,}", f"{rates[key] / trivial:.0%}")
    console.print(table)
    latency = figures["latency"]
    lat = Table(
        title=f"Event-to-output latency at {latency['rate_events_per_s']:,.0f} events/s "
        f"({latency['share_of_capacity']:.0%} of the capacity measured above), ms",
        title_justify="left",
    )
    for column in ("pipeline", "measured on", "p50", "p99", "p99 vs pass-through"):
        lat.add_column(column, justify="right" if column != "pipeline" else "left")
    base = latency["passthrough_ms"]["p99"] or float("nan")
    every = latency["pulse_every_event_ms"]
    for name, count, row in (
        (
            "bare pass-through",
            f"{latency['passthrough_ms']['outputs']:,} events",
            latency["passthrough_ms"],
        ),
        ("Pulse worker, every event", f"{every['events']:,} events", every),
        (
            "Pulse worker, events with a segment change",
            f"{latency['pulse_ms']['outputs']:,} outputs",
            latency["pulse_ms"],
        ),
        (
            "… as a read_committed consumer receives them",
            f"{latency['pulse_visible_ms']['outputs']:,} outputs",
            latency["pulse_visible_ms"],
        ),
    ):
        lat.add_row(
            name, count, f"{row['p50']:.0f}", f"{row['p99']:.0f}", f"{row['p99'] / base:.1f}×"
        )
    console.print(lat)
    console.print(
        f"metrics cost: {figures['metrics_cost']:+.1%} of throughput (runs: scraped "
        f"{runs['metrics_scraped']}, off {runs['metrics_off']}; within ±5 % is noise)"
    )
    changelog = figures["changelog"]
    console.print(
        f"changelog: {changelog['records']:,} records, {changelog['bytes_per_input_event']:.0f} "
        f"bytes per input event against {changelog['input_bytes_per_event']:.0f} of input "
        f"({changelog['ratio_to_input']:.2f}× the input's bytes)"
    )
    rss = figures["rss"]
    if rss:
        console.print(
            f"Pulse worker RSS: {rss['after_warm_up_mib']:.0f} MiB after warm-up (10 % of the "
            f"log), {rss['at_25_percent_mib']:.0f} MiB at 25 %, {rss['at_end_mib']:.0f} MiB at "
            f"the end (max {rss['max_mib']:.0f})"
        )
