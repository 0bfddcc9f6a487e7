"""`pulse`: the command line. Each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from aiokafka.errors import KafkaConnectionError

import streams.cli.threads  # noqa: F401 - first: sets BLAS threads before NumPy loads
from streams import __version__
from streams.cli import (
    backfill_cmd,
    bench_cmd,
    config_cmd,
    convert_cmd,
    deliver_cmd,
    demo_cmd,
    evaluate_cmd,
    replay_cmd,
    report_cmd,
    simulate_cmd,
    tail_cmd,
    topics_cmd,
    worker_cmd,
)
from streams.cli.render import fail
from streams.core.errors import ConfigError
from streams.logfile import LogError
from streams.worker.oauth import TokenError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pulse",
        description="Real-time marketing event processor: features, segments, churn risk "
        "and campaigns on event time.",
    )
    parser.add_argument("--version", action="version", version=f"pulse {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo_cmd.register(commands)
    simulate_cmd.register(commands)
    replay_cmd.register(commands)
    backfill_cmd.register(commands)
    worker_cmd.register(commands)
    tail_cmd.register(commands)
    topics_cmd.register(commands)
    bench_cmd.register(commands)
    evaluate_cmd.register(commands)
    report_cmd.register(commands)
    config_cmd.register(commands)
    convert_cmd.register(commands)
    deliver_cmd.register(commands)
    return parser


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # SIGTERM ends the command like Ctrl-C does, so `with` blocks stop what they started.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigError as exc:
        if exc.file in ("settings", "environment"):  # an option or PULSE_* variable
            return fail(exc.problem, exc.fix or "fix the option and run the command again")
        return fail(f"configuration: {exc}", "fix the file and run the command again")
    except KafkaConnectionError as exc:
        return fail(
            f"cannot reach the broker: {exc}",
            "check --broker / PULSE_BROKER (kafka://HOST:PORT), or omit both where the "
            "command can start the embedded broker (worker, demo)",
        )
    except TokenError as exc:
        return fail(
            f"Kafka login (SASL OAUTHBEARER) failed: {exc}",
            "fix PULSE_OAUTH_* or the sasl.* lines of PULSE_KAFKA_PROPERTIES",
        )
    except LogError as exc:
        return fail(str(exc), "check the file (gzip -t FILE), or copy or download it again")
    except KeyboardInterrupt:
        return fail("interrupted")
    return code


if __name__ == "__main__":
    sys.exit(main())
