"""The metrics endpoint holds a bounded number of threads, drops silent clients, and keeps
answering; /readyz reports a stuck partition."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request

from prometheus_client import CollectorRegistry

from streams.broker import free_port
from streams.metrics import CONNECTION_TIMEOUT_S, MAX_CONNECTIONS, serve
from streams.worker.stall import StallWatch


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_half_open_connections_cannot_pile_up_threads() -> None:
    port = free_port()
    server = serve(CollectorRegistry(), "127.0.0.1", port, lambda: (True, "ready"))
    assert server is not None
    try:
        before = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(5 * MAX_CONNECTIONS)]
        time.sleep(0.5)
        assert threading.active_count() - before <= MAX_CONNECTIONS
        deadline = time.monotonic() + CONNECTION_TIMEOUT_S + 5
        status = 0
        while time.monotonic() < deadline and status != 200:
            try:
                status, body = get(port, "/healthz")
            except OSError:
                time.sleep(0.2)  # refused while the slots are held: they time out
        assert status == 200 and body == b"ok\n"
        for sock in idle:
            sock.close()
    finally:
        server.shutdown()


def test_readyz_fails_while_a_partition_with_lag_does_not_move() -> None:
    watch = StallWatch(after_s=30)
    clock = [0.0]
    positions = {("purchases", 2): (40, 12), ("clicks", 0): (7, 0)}

    def readiness() -> tuple[bool, str]:
        stuck = watch.observe(clock[0], positions)
        return (not stuck, "stuck: " + "; ".join(stuck) if stuck else "ready")

    port = free_port()
    server = serve(CollectorRegistry(), "127.0.0.1", port, readiness)
    assert server is not None
    try:
        assert get(port, "/readyz")[0] == 200
        clock[0] = 31.0  # purchases[2] has waited 31 s with 12 records behind it
        status, body = get(port, "/readyz")
        assert status == 503 and b"purchases[2]" in body and b"clicks" not in body
        positions[("purchases", 2)] = (52, 0)  # it moved on
        assert get(port, "/readyz")[0] == 200
    finally:
        server.shutdown()


def test_healthz_follows_the_event_loop_not_the_server_thread() -> None:
    from types import SimpleNamespace

    from streams.settings import Settings
    from streams.worker.topology import PulseWorker

    worker = SimpleNamespace(_heartbeat=None, settings=Settings(liveness_after_s=60.0))
    assert PulseWorker.liveness(worker)[0]  # starting: not judged yet  # type: ignore[arg-type]
    worker._heartbeat = time.monotonic() - 5
    assert PulseWorker.liveness(worker)[0]  # type: ignore[arg-type]
    worker._heartbeat = time.monotonic() - 61  # the loop has not run its timer for 61 s
    alive, why = PulseWorker.liveness(worker)  # type: ignore[arg-type]
    assert not alive and "stalled" in why
    state = [True]
    port = free_port()
    server = serve(
        CollectorRegistry(),
        "127.0.0.1",
        port,
        lambda: (True, "ready"),
        lambda: (state[0], "ok" if state[0] else "event loop stalled"),
    )
    assert server is not None
    try:
        assert get(port, "/healthz") == (200, b"ok\n")
        state[0] = False
        assert get(port, "/healthz") == (503, b"event loop stalled\n")
    finally:
        server.shutdown()
