"""`pulse bench worker`: Faust and Pulse on a real broker, against bare aiokafka.

One run on the embedded broker (or --broker), in this order:
1. rates: the same recorded log, produced once per consumer, read by a bare aiokafka
   loop, by a trivial Faust agent and by the Pulse worker (each a separate process
   except the bare loop); rate = the last 90 % of the records / the time they took, so
   start-up (group join, table recovery and its verification) is left out for all three;
2. memory: the Pulse worker's RSS sampled while it works through the log;
3. latency at a paced rate: a bare consume-and-produce pass-through, then the Pulse
   worker, each fed the same paced stream; latency = output create time − input create
   time (both producer timestamps on this machine's clock).
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
from contextlib import ExitStack
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from rich.console import Console
from rich.table import Table

from streams.broker import EmbeddedBroker, free_port
from streams.core.timefmt import parse_ts
from streams.core.topics import INPUT_TOPICS
from streams.logfile import LogReader
from streams.producer import produce_log, route
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


def _metric(port: int, name: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            total = 0.0  # summed over labels
            for line in response.read().decode().splitlines():
                if line.startswith((name + " ", name + "{")):
                    total += float(line.rsplit(" ", 1)[1])
            return total
    except OSError:
        pass
    return 0.0


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


async def _committed_rate(bootstrap: str, prefix: str, expect: int, timeout: float) -> float:
    """Records/s of a worker whose metrics are off, from its group's committed offsets."""
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
    bootstrap: str, log: Path, rate: float, limit: int, wait_ms: int
) -> list[float]:
    prefix = "pass-"
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

    async def relay() -> None:
        while len(latencies) < len(records):
            batch = await consumer.getmany(timeout_ms=1000)
            for batch_records in batch.values():
                for record in batch_records:
                    out = await producer.send(prefix + "out", record.value)
                    meta = await out
                    latencies.append(float(meta.timestamp - record.timestamp))

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
    bootstrap: str, prefix: str, log: Path, rate: float, limit: int
) -> list[float]:
    records = _paced_records(log, prefix, limit)
    consumer = AIOKafkaConsumer(
        prefix + "segment-changes",
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="latest",
    )
    await consumer.start()
    try:
        await asyncio.sleep(1.0)
        sent = await _paced(bootstrap, records, rate)
        await asyncio.sleep(5.0)  # the last outputs arrive
        latencies: list[float] = []
        batch = await consumer.getmany(timeout_ms=2000)
        while batch:
            for batch_records in batch.values():
                for record in batch_records:
                    cause = orjson.loads(record.value).get("cause_event_id")
                    if cause in sent:
                        latencies.append(float(record.timestamp - sent[cause]))
            batch = await consumer.getmany(timeout_ms=1000)
        return latencies
    finally:
        await consumer.stop()


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_worker_bench(args: argparse.Namespace, console: Console) -> int:
    wait_ms = args.fetch_wait_ms
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="pulse-bench-") as tmp:
        directory = Path(tmp)
        url = args.broker
        if not url:
            url = stack.enter_context(EmbeddedBroker().start()).url
        bootstrap = url.split("://", 1)[-1]
        start_ms = parse_ts(START)
        console.print(f"broker {url}; simulating {args.users} users × {args.days} days …")
        log = _make_log(directory, "rate", args.users, args.days, start_ms)
        later = start_ms + (args.days + 1) * 86_400_000
        paced_log = _make_log(directory, "paced", args.users, 10, later)
        events = _count(log)
        console.print(f"{events:,} events; producing them for each consumer …")
        for prefix in ("bare-", "pulse-"):
            asyncio.run(_produce(bootstrap, prefix, log))
        console.print("bare aiokafka loop …")
        bare = asyncio.run(_bare_rate(bootstrap, "bare-", events, wait_ms))
        console.print("trivial Faust agent …")
        trivial = _trivial_rate(url, "bare-", events, wait_ms)
        console.print("Pulse worker, /metrics scraped every 0.1 s …")
        port = free_port()
        worker = PulseProcess(url, "pulse-", directory / "pulse", port)
        stack.callback(worker.stop)
        # Both Pulse runs are timed the same way (committed offsets); this one also has
        # its /metrics page scraped every 0.1 s, as an eager Prometheus would.
        rss: list[float] = []
        stop = threading.Event()
        scraper = threading.Thread(target=_scrape, args=(worker, stop, rss), daemon=True)
        scraper.start()
        try:
            pulse = asyncio.run(_committed_rate(bootstrap, "pulse-", events, 900))
        finally:
            stop.set()
            scraper.join(5)
        console.print("Pulse worker without metrics endpoint (progress from committed offsets) …")
        asyncio.run(_produce(bootstrap, "quiet-", log))
        quiet = PulseProcess(url, "quiet-", directory / "quiet", 0)
        try:
            unmetered = asyncio.run(_committed_rate(bootstrap, "quiet-", events, 900))
        finally:
            quiet.stop()
        console.print(f"latency at {args.rate:.0f} events/s: pass-through …")
        passthrough = asyncio.run(
            _passthrough_latency(bootstrap, paced_log, args.rate, args.paced, wait_ms)
        )
        console.print("latency: Pulse worker …")
        pulse_latency = asyncio.run(
            _pulse_latency(bootstrap, "pulse-", paced_log, args.rate, args.paced)
        )
    rates = Table(title=f"Consume rate, {events:,} events, one run", title_justify="left")
    rates.add_column("consumer")
    rates.add_column("events/s", justify="right")
    rates.add_column("vs trivial agent", justify="right")
    for name, value in (
        ("bare aiokafka loop", bare),
        ("trivial Faust agent", trivial),
        ("Pulse worker (metrics scraped)", pulse),
        ("Pulse worker, metrics endpoint off", unmetered),
    ):
        rates.add_row(name, f"{value:,.0f}", f"{value / trivial:.0%}")
    console.print(rates)
    latency = Table(
        title=f"Event-to-output latency at {args.rate:.0f} events/s (ms)", title_justify="left"
    )
    for column in ("pipeline", "outputs", "p50", "p99", "p99 vs pass-through"):
        latency.add_column(column, justify="right" if column != "pipeline" else "left")
    base = _percentile(passthrough, 0.99)
    for name, values in (("bare pass-through", passthrough), ("Pulse worker", pulse_latency)):
        p99 = _percentile(values, 0.99)
        latency.add_row(
            name,
            f"{len(values):,}",
            f"{_percentile(values, 0.5):.0f}",
            f"{p99:.0f}",
            f"{p99 / base:.1f}×",
        )
    console.print(latency)
    console.print(
        f"metrics cost: {1 - pulse / unmetered:+.1%} of throughput with the endpoint served and "
        "scraped every 0.1 s (negative: within noise)"
    )
    if rss:
        quarter = rss[len(rss) // 4]
        console.print(
            f"Pulse worker RSS: {rss[0]:.0f} MiB at start, {quarter:.0f} MiB at 25 %, "
            f"{rss[-1]:.0f} MiB at the end (max {max(rss):.0f}); mean latency "
            f"{statistics.fmean(pulse_latency) if pulse_latency else float('nan'):.0f} ms"
        )
    return 0
