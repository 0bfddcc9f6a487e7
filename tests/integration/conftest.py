"""The real brokers for integration tests: the embedded tansu and Apache Kafka.

Every broker test runs against both, once each per session: tansu (memory only, what
`pulse demo` uses) and a single-node Apache Kafka in KRaft mode on 127.0.0.1 (what
production runs; jars from Maven Central, see apache_kafka.py). PULSE_TEST_BROKERS
chooses (`tansu`, `kafka` or `tansu,kafka`, the default); PULSE_TEST_BROKER=kafka://HOST:PORT
runs against a broker of your own instead. Each test gets its own topic prefix and consumer
group, so tests share a broker safely.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from streams.broker import BrokerError, EmbeddedBroker
from tests.integration.apache_kafka import ApacheKafka, KafkaUnavailable

# The Apache Kafka brokers this session started, by URL (their OAUTHBEARER listener).
STARTED: dict[str, ApacheKafka] = {}
KINDS = [kind.strip() for kind in os.environ.get("PULSE_TEST_BROKERS", "tansu,kafka").split(",")]


@pytest.fixture(scope="session", params=KINDS)
def broker_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def broker_url(broker_kind: str) -> Iterator[str]:
    given = os.environ.get("PULSE_TEST_BROKER")
    if given:
        yield given
        return
    broker: ApacheKafka | EmbeddedBroker
    try:
        broker = ApacheKafka().start() if broker_kind == "kafka" else EmbeddedBroker().start()
    except (KafkaUnavailable, BrokerError) as exc:
        pytest.skip(f"{broker_kind} broker unavailable: {exc}")
    if isinstance(broker, ApacheKafka):
        STARTED[broker.url] = broker
    try:
        yield broker.url
    finally:
        STARTED.pop(broker.url, None)
        broker.stop()


@pytest.fixture
def oauth_broker_url(broker_kind: str, broker_url: str) -> str:
    """The same Apache Kafka's SASL OAUTHBEARER listener (tansu has no SASL)."""
    broker = STARTED.get(broker_url)
    if broker is None:
        pytest.skip(
            f"the OAUTHBEARER listener is on the suite's own Apache Kafka, not {broker_kind}"
        )
    return broker.oauth_url


@pytest.fixture
def namespace() -> str:
    """A unique topic prefix / group id for one test."""
    return f"t{uuid.uuid4().hex[:8]}-"
