"""`pulse deliver`: sends reach a webhook once each, with retries and idempotency keys."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.cli.main import main
from streams.deliver import Delivery


class Endpoint:
    """A local HTTP endpoint that answers 503 to the first `failures` posts."""

    def __init__(self, failures: int = 0, refuse: frozenset[str] = frozenset()) -> None:
        self.failures = failures
        self.refuse = refuse  # ids answered with 400
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.attempts = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.attempts += 1
                key = self.headers["Idempotency-Key"]
                if endpoint.failures > 0:
                    endpoint.failures -= 1
                    status = 503
                elif key in endpoint.refuse:
                    status = 400
                else:
                    endpoint.received.append((key, orjson.loads(body)))
                    status = 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    made = Endpoint(failures=2, refuse=frozenset({"m-refused"}))
    yield made
    made.server.shutdown()


def send(message_id: str, expires_at: str = "2999-01-01T00:00:00.000Z") -> bytes:
    value = {
        "type": "campaign_message",
        "id": message_id,
        "user_id": "u1",
        "channel": "email",
        "expires_at": expires_at,
        "content": {"recommended_items": ["sku-1"]},
    }
    return orjson.dumps(value)


def test_each_message_is_posted_once_with_its_id_as_idempotency_key(endpoint: Endpoint) -> None:
    waits: list[float] = []
    delivery = Delivery(endpoint.url, attempts=5, backoff_s=0.01, sleep=waits.append)
    records = [
        send("m1"),
        send("m1"),  # redelivered (at-least-once): posted once
        send("m-old", expires_at="2000-01-01T00:00:00.000Z"),  # past expires_at: dropped
        send("m-refused"),  # the endpoint answers 400: not retried
        b'{"type":"campaign_message"}',  # no id: invalid, never posted
        send("m2"),
    ]
    outcomes = delivery.run(records)
    assert dict(outcomes) == {
        "delivered": 2,
        "duplicate": 1,
        "expired": 1,
        "rejected": 1,
        "invalid": 1,
    }
    assert [key for key, _ in endpoint.received] == ["m1", "m2"]
    assert endpoint.received[0][1]["content"] == {"recommended_items": ["sku-1"]}
    assert waits == [0.01, 0.02]  # the first two posts met 503: backoff doubled, then through
    assert endpoint.attempts == 2 + 2 + 1  # 503, 503, m1; m-refused once; m2


def test_a_message_is_given_up_after_its_attempts_and_the_command_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    down = Endpoint(failures=100)
    try:
        sends = tmp_path / "campaign-sends.jsonl"
        sends.write_bytes(send("m1") + b"\n")
        code = main(["deliver", str(tmp_path), "--webhook", down.url, "--attempts", "2"])
        assert code == 1 and "failed" in capsys.readouterr().out
        assert down.attempts == 2
    finally:
        down.server.shutdown()


def test_a_webhook_that_is_not_http_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deliver", "x.jsonl", "--webhook", "file:///etc/passwd"]) == 2
    assert "not an http(s) URL" in capsys.readouterr().err
