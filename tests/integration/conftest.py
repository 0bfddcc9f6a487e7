"""The real broker for integration tests: one embedded tansu per session (or your own).

Set PULSE_TEST_BROKER=kafka://HOST:PORT to run against another broker (e.g. Apache Kafka).
Each test gets its own topic prefix and consumer group, so tests share the broker safely.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from streams.broker import BrokerError, EmbeddedBroker


@pytest.fixture(scope="session")
def broker_url() -> Iterator[str]:
    given = os.environ.get("PULSE_TEST_BROKER")
    if given:
        yield given
        return
    try:
        broker = EmbeddedBroker().start()
    except BrokerError as exc:
        pytest.skip(f"embedded broker unavailable: {exc}")
    try:
        yield broker.url
    finally:
        broker.stop()


@pytest.fixture
def namespace() -> str:
    """A unique topic prefix / group id for one test."""
    return f"t{uuid.uuid4().hex[:8]}-"
