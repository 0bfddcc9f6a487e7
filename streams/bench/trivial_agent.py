"""A trivial Faust agent (count and ack), the yardstick for `pulse bench worker`.

Run as a process: prints `start end count` (wall seconds; counted from the 10 % mark)
once it has seen `--expect` records from the four input topics under `--prefix`, then exits.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import faust

from streams.core.topics import INPUT_TOPICS
from streams.worker.compat import set_fetch_wait


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--fetch-wait-ms", type=int, default=100)
    args = parser.parse_args()
    app = faust.App(
        args.prefix + "trivial",
        broker=args.broker,
        store="memory://",
        broker_session_timeout=10,
        broker_heartbeat_interval=2,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        datadir=f"/tmp/pulse-bench-trivial-{os.getpid()}",  # noqa: S108 - throwaway state
    )
    topic = app.topic(
        *(args.prefix + name for name in INPUT_TOPICS),
        key_serializer="raw",
        value_serializer="raw",
    )
    seen = {"count": 0, "first": 0.0, "base": 0}
    tenth = args.expect // 10

    @app.agent(topic)
    async def count(stream: faust.StreamT[bytes]) -> None:
        async for _ in stream:
            seen["count"] += 1
            if seen["count"] == tenth:
                seen["first"] = time.time()
            if seen["count"] >= args.expect:
                counted = seen["count"] - tenth
                print(f"{seen['first']} {time.time()} {counted}", flush=True)
                os._exit(0)  # the measurement is done; skip Faust's shutdown

    @app.task  # type: ignore[untyped-decorator]
    async def tune() -> None:
        set_fetch_wait(app, args.fetch_wait_ms)

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()


if __name__ == "__main__":
    main()
