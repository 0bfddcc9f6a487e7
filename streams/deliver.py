"""`pulse deliver`: a reference sink from `campaign-sends` to an HTTP endpoint.

What any delivery system in front of an ESP has to do with Pulse's sends, in ~100 lines:
de-duplicate by `id` (delivery is at-least-once), drop what is past `expires_at` by the
wall clock when it gets to it, and post each message once, with its `id` as the
`Idempotency-Key` header so the endpoint can de-duplicate too, retrying transient
failures (connection errors, 429, 5xx) with exponential backoff and giving up on a 4xx.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

from streams.core.timefmt import parse_ts

SEEN_IDS = 100_000  # ids remembered for de-duplication (oldest forgotten first)


@dataclass
class Delivery:
    webhook: str
    attempts: int = 5
    backoff_s: float = 0.5
    timeout_s: float = 10.0
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000)
    sleep: Callable[[float], None] = time.sleep
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    outcomes: Counter[str] = field(default_factory=Counter)

    def take(self, raw: bytes) -> str:
        """Deliver one record of `campaign-sends`; returns what happened to it."""
        try:
            message = orjson.loads(raw)
            message_id = str(message["id"])
            expires = parse_ts(message["expires_at"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return self._count("invalid")
        if message.get("type") != "campaign_message":
            return self._count("invalid")
        if message_id in self.seen:
            return self._count("duplicate")
        if expires <= self.now_ms():
            self._remember(message_id)
            return self._count("expired")
        outcome = self._post(raw, message_id)
        if outcome == "delivered":
            self._remember(message_id)
        return self._count(outcome)

    def _post(self, body: bytes, message_id: str) -> str:
        request = urllib.request.Request(  # noqa: S310 - the operator's own webhook URL
            self.webhook,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": message_id},
        )
        for attempt in range(self.attempts):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s):  # noqa: S310
                    return "delivered"
            except urllib.error.HTTPError as error:
                if error.code != 429 and error.code < 500:
                    return "rejected"  # the endpoint refuses this message: retrying will not help
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                pass
            if attempt + 1 < self.attempts:
                self.sleep(self.backoff_s * 2**attempt)
        return "failed"

    def _remember(self, message_id: str) -> None:
        self.seen[message_id] = None
        if len(self.seen) > SEEN_IDS:
            self.seen.popitem(last=False)

    def _count(self, outcome: str) -> str:
        self.outcomes[outcome] += 1
        return outcome

    def run(self, records: Iterable[bytes]) -> Counter[str]:
        for raw in records:
            if raw.strip():
                self.take(raw)
        return self.outcomes
