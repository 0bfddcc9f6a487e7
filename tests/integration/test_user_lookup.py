"""`GET /users/{id}` with two workers: the owner answers, the other redirects to it."""

from __future__ import annotations

import http.client
import signal
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from streams.broker import free_port
from streams.core.ids import partition_for
from tests.integration.harness import (
    Worker,
    in_process,
    make_log,
    produce,
    read_topic,
    wait_for,
)
from tests.integration.test_two_workers import assigned

VIEW = ("lifecycle", "value_tier", "membership", "persona", "rules", "churn_score", "churn_band")


def get(base: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """One GET without following redirects: (status, headers, body)."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_each_user_is_answered_by_its_owner_and_redirected_to_it_by_the_other(
    broker_url: str, namespace: str, tmp_path: Path
) -> None:
    log = make_log(tmp_path / "log.jsonl.gz", users=60, days=20, seed=9, bad_rate=0.0)
    expected = in_process(log, tmp_path / "inproc")["user-profiles"]
    latest: dict[str, dict[str, object]] = {}
    for line in expected:
        view = orjson.loads(line)
        latest[view["user_id"]] = view
    # Published before the workers start (test_two_workers.py says why).
    produce(broker_url, namespace, log)
    ports = {name: free_port() for name in ("a", "b")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    workers = {
        name: Worker(
            broker_url,
            namespace,
            tmp_path,
            name=name,
            extra_env={
                "PULSE_LOG_LEVEL": "info",
                "PULSE_METRICS_HOST": "127.0.0.1",
                "PULSE_METRICS_PORT": str(port),
            },
        )
        for name, port in ports.items()
    }
    try:
        split = wait_for(
            lambda: (
                assigned(workers["a"]) | assigned(workers["b"]) == {0, 1, 2, 3}
                and bool(assigned(workers["a"]))
                and bool(assigned(workers["b"]))
            ),
            timeout=60,
        )
        assert split, workers["a"].output()[-2000:] + workers["b"].output()[-2000:]
        read_topic(
            broker_url,
            namespace + "user-profiles",
            lambda got: len(got) >= len(expected),
            quiet=2.0,
        )
        owners = {p: name for name in workers for p in assigned(workers[name])}
        answered = redirected = 0
        for user, view in sorted(latest.items()):
            owner = owners[partition_for(user, 4)]
            other = "b" if owner == "a" else "a"
            status, headers, body = get(urls[other], f"/users/{user}")
            assert status == 307, body
            assert headers["Location"] == f"{urls[owner]}/users/{user}"
            redirected += 1
            status, headers, body = get(urls[owner], f"/users/{user}")
            assert status == 200, body
            assert headers["Content-Type"] == "application/json"
            answer = orjson.loads(body)
            assert {k: answer[k] for k in VIEW} == {k: view[k] for k in VIEW}, user
            answered += 1
        assert answered == redirected == len(latest) > 20
        status, _, body = get(urls["a"], "/users/nobody-we-know")
        assert status in (404, 307), body
        if status == 307:
            status, _, body = get(urls["b"], "/users/nobody-we-know")
        assert status == 404 and b"no state" in body
        assert get(urls["a"], "/users/")[0] == 400
    finally:
        for worker in workers.values():
            worker.stop(signal.SIGTERM)
