"""`pulse bench …`: measured speed, never asserted in tests."""

from __future__ import annotations

import argparse
from typing import Any

from streams.cli.render import console


def register(commands: Any) -> None:
    parser = commands.add_parser("bench", help="benchmarks (events/s, µs/event, memory)")
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    core = targets.add_parser("core", help="the in-process core, stage by stage, on one core")
    core.add_argument("--users", type=int, default=5_000)
    core.add_argument("--days", type=int, default=60)
    core.add_argument("--seed", type=int, default=11)
    core.add_argument(
        "--repeat", type=int, default=3, help="rounds over all stages; each stage's best is kept"
    )
    core.add_argument("--json", action="store_true", help="print the figures as JSON")
    core.set_defaults(run=_core)
    worker = targets.add_parser(
        "worker", help="bare aiokafka vs trivial Faust agent vs Pulse worker, on a broker"
    )
    worker.add_argument("--broker", default=None, help="default: the embedded broker")
    worker.add_argument("--users", type=int, default=800)
    worker.add_argument("--days", type=int, default=40)
    worker.add_argument(
        "--rate",
        type=float,
        default=None,
        help="paced events/s for latency (default: 30 %% of the capacity measured in the run)",
    )
    worker.add_argument(
        "--rounds", type=int, default=2, help="pairs of Pulse runs, metrics on and off"
    )
    worker.add_argument("--json", action="store_true", help="print the figures as JSON")
    worker.add_argument("--paced", type=int, default=8_000, help="events sent paced")
    worker.add_argument("--fetch-wait-ms", type=int, default=100)
    worker.set_defaults(run=_worker)


def _core(args: argparse.Namespace) -> int:
    from streams.bench.core import run_core_bench  # (loads the models: not for --help)

    return run_core_bench(args, console)


def _worker(args: argparse.Namespace) -> int:
    from streams.bench.worker import run_worker_bench

    return run_worker_bench(args, console)


def run(args: argparse.Namespace) -> int:  # pragma: no cover - dispatch only
    return int(args.run(args))
