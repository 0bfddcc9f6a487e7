"""`pulse demo`: broker, topics, worker and simulated shoppers, with a live terminal view."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections import Counter, deque
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
from rich.console import Group
from rich.live import Live
from rich.text import Text

from streams.cli.render import console, fail
from streams.cli.worker_cmd import add_connection_options, connect, settings_from
from streams.config_loader import load_config
from streams.core.outputs import OUTPUT_TOPICS
from streams.settings import Settings
from streams.worker.process import WorkerProcess


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="everything at once: broker, topics, worker, simulated shoppers, live view",
        description="Start the embedded broker (unless --broker), create the topics, run "
        "the worker, feed it simulated shoppers at an accelerated pace and show what "
        "comes out. Ctrl-C stops everything.",
    )
    add_connection_options(parser)
    parser.add_argument("--users", type=int, default=2000, help="simulated shoppers")
    parser.add_argument("--days", type=int, default=60, help="days of behaviour to simulate")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--speed", type=float, default=40_000.0, help="event time runs N times faster"
    )
    parser.add_argument(
        "--duration", type=float, default=0.0, help="stop after N seconds (0: at Ctrl-C)"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="default: .pulse/")
    parser.add_argument("--metrics-port", type=int, default=None, help="default: 9464")
    parser.add_argument("--no-live", action="store_true", help="print a line every 5 s instead")
    parser.set_defaults(run=run)


class View:
    """What the live view shows, built from the output topics."""

    def __init__(self) -> None:
        self.outputs: Counter[str] = Counter()
        self.fed: Counter[str] = Counter()
        self.populations: Counter[tuple[str, str]] = Counter()
        self.changes: deque[str] = deque(maxlen=8)
        self.messages: deque[str] = deque(maxlen=5)
        self.started = time.monotonic()
        self._rates: deque[tuple[float, int, int]] = deque(maxlen=20)

    def take(self, topic: str, value: bytes) -> None:
        self.outputs[topic] += 1
        try:
            event = orjson.loads(value)
        except orjson.JSONDecodeError:
            return
        if event.get("type") == "segment_change":
            dimension = event["dimension"]
            if event.get("from") is not None:
                self.populations[(dimension, event["from"])] -= 1
            if event.get("to") is not None:
                self.populations[(dimension, event["to"])] += 1
            self.changes.appendleft(
                f"{event['ts'][:16]}  {event['user_id']:<9} {dimension}: "
                f"{event['from']} → {event['to']}"
            )
        elif topic == "campaign-messages" and "campaign" in event and event.get("user_id"):
            kind = event.get("type")
            if kind == "campaign_message":
                what = f"sent via {event['channel']}"
            elif kind == "message_deferred":
                what = f"deferred to {event['send_at'][:16]} ({event['reason']})"
            else:
                what = f"suppressed: {event.get('reason')}"
            self.messages.appendleft(
                f"{event['ts'][:16]}  {event['user_id']:<9} {event['campaign']}: {what}"
            )

    def rates(self) -> tuple[float, float]:
        """Input and output events per second over the last few seconds."""
        now = time.monotonic()
        self._rates.append((now, sum(self.fed.values()), sum(self.outputs.values())))
        then, fed, out = self._rates[0]
        span = max(now - then, 1e-9)
        return (self._rates[-1][1] - fed) / span, (self._rates[-1][2] - out) / span

    def render(self, header: str, height: int = 24, width: int = 80) -> Group:
        """The view in at most `height` lines of `width` (80 x 24 by default): one line of
        flow, one per segment dimension, then as many latest changes and campaign
        decisions as fit."""
        fed_rate, out_rate = self.rates()
        out = self.outputs
        lines = [
            Text(header[:width], style="bold"),
            Text(
                f"fed {sum(self.fed.values()):,} ({fed_rate:,.0f}/s) · out "
                f"{sum(out.values()):,} ({out_rate:,.0f}/s): segments "
                f"{out['segment-changes']:,}, churn {out['churn-risk']:,}, campaigns "
                f"{out['campaign-messages']:,}, dead {out['dead-letters']:,}"[: width * 2]
            ),
        ]
        by_dimension: dict[str, list[tuple[str, int]]] = {}
        for (dimension, segment), count in sorted(self.populations.items()):
            if count > 0:
                by_dimension.setdefault(dimension, []).append((segment, count))
        for dimension, segments in by_dimension.items():
            ranked = sorted(segments, key=lambda item: -item[1])
            text = f"{dimension}: " + " · ".join(f"{name} {n:,}" for name, n in ranked)
            lines.append(Text(text if len(text) <= width else text[: width - 1] + "…"))
        room = max(height - len(lines) - 2, 2)
        decisions = list(self.messages)[: min(len(self.messages), room // 3)]
        changes = list(self.changes)[: room - len(decisions) - (1 if decisions else 0) - 1]
        lines.append(Text("latest segment changes", style="bold"))
        lines += [Text(line[:width]) for line in changes]
        if decisions:
            lines.append(Text("latest campaign decisions", style="bold"))
            lines += [Text(line[:width]) for line in decisions]
        return Group(*lines)

    def line(self) -> str:
        fed_rate, out_rate = self.rates()
        return (
            f"fed {sum(self.fed.values()):,} ({fed_rate:,.0f}/s), "
            f"out {sum(self.outputs.values()):,} ({out_rate:,.0f}/s): "
            + ", ".join(f"{topic} {self.outputs[topic]:,}" for topic in OUTPUT_TOPICS)
        )


def _ensure_log(workdir: Path, users: int, days: int, seed: int) -> Path:
    from streams.core.timefmt import parse_ts
    from streams.simulator.generator import SimulationSpec
    from streams.simulator.writer import write_simulation

    path = workdir / f"demo-{users}u-{days}d-seed{seed}.jsonl.gz"
    if not path.exists():
        console.print(f"simulating {users:,} shoppers over {days} days → {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        spec = SimulationSpec(users, days, seed, parse_ts("2026-01-05T00:00:00Z"))
        write_simulation(path, spec, bad_rate=0.002)
    return path


def _start_worker(settings: Settings) -> WorkerProcess:
    settings.workdir.mkdir(parents=True, exist_ok=True)
    args = ["--metrics-port", str(settings.metrics_port), "--log-level", "info"]
    args += ["--workdir", str(settings.workdir / "worker")]
    if settings.config is not None:
        args += ["--config", str(settings.config)]
    # Its own session: Ctrl-C reaches the demo, which stops the worker with SIGTERM.
    return WorkerProcess(
        str(settings.broker), settings.workdir / "worker.log", args=args, own_session=True
    )


async def _show(
    settings: Settings,
    log: Path,
    speed: float,
    duration: float,
    live: bool,
    worker: WorkerProcess,
    view: View,
) -> None:
    from aiokafka import AIOKafkaConsumer

    from streams.producer import produce_log
    from streams.worker.kafka_clients import aiokafka_options

    options = aiokafka_options(settings)
    stop = asyncio.Event()
    feeder = asyncio.create_task(
        produce_log(log, options, speed, stop=stop, prefix=settings.topic_prefix, counts=view.fed)
    )
    consumer = AIOKafkaConsumer(
        *(settings.topic(name) for name in OUTPUT_TOPICS),
        group_id=None,
        auto_offset_reset="latest",
        **options,
    )
    await consumer.start()
    logical = {settings.topic(name): name for name in OUTPUT_TOPICS}
    header = f"Pulse demo — broker {settings.broker}, metrics http://{settings.metrics_host}:{settings.metrics_port}/metrics"
    deadline = time.monotonic() + duration if duration else None
    last_line = 0.0
    try:
        size = console.size
        with (
            Live(
                view.render(header, size.height, size.width), console=console, refresh_per_second=2
            )
            if live
            else (contextlib.nullcontext()) as screen
        ):
            while deadline is None or time.monotonic() < deadline:
                if worker.process.poll() is not None:
                    raise RuntimeError(f"the worker exited with code {worker.process.returncode}")
                batch = await consumer.getmany(timeout_ms=250, max_records=5000)
                for tp, records in batch.items():
                    for record in records:
                        view.take(logical[tp.topic], record.value or b"")
                if screen is not None:
                    size = console.size  # (the terminal may be resized)
                    screen.update(view.render(header, size.height, size.width))
                elif time.monotonic() - last_line > 5:
                    last_line = time.monotonic()
                    console.print(view.line())
                if feeder.done() and feeder.exception() is not None:
                    raise feeder.exception()  # type: ignore[misc]
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(feeder, 10)
        await consumer.stop()


def run(args: argparse.Namespace) -> int:
    config = load_config(settings_from(args).config)  # validated before anything starts
    view = View()
    with ExitStack() as stack:
        settings = connect(settings_from(args), config, stack)
        if isinstance(settings, int):
            return settings
        log = _ensure_log(settings.workdir, args.users, args.days, args.seed)
        worker = _start_worker(settings)
        stack.callback(worker.stop)
        console.print(
            f"worker pid {worker.pid} (log: {settings.workdir / 'worker.log'}); "
            "waiting for it to join — Ctrl-C stops everything"
        )
        try:
            # The live view needs a terminal; redirected, it prints a line every 5 s.
            live = not args.no_live and console.is_terminal
            asyncio.run(_show(settings, log, args.speed, args.duration, live, worker, view))
        except KeyboardInterrupt:
            console.print("stopping: worker, then broker")
        except RuntimeError as exc:
            return fail(str(exc), f"see {settings.workdir / 'worker.log'}")
    console.print(view.line())
    console.print("stopped; nothing left running")
    return 0
