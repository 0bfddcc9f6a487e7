"""Worker settings: from the environment (PULSE_*), overridden by command-line options.

Segment rules, lifecycle thresholds and partitions live in the config file (--config /
PULSE_CONFIG); this object holds how the worker connects and runs.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from streams.core.errors import ConfigError

ENV_PREFIX = "PULSE_"


@dataclass(frozen=True, slots=True)
class Settings:
    broker: str | None = None  # kafka://host:port[;kafka://host2:port]; None = embedded
    app_id: str = "pulse"  # consumer group id and prefix of internal topics
    topic_prefix: str = ""  # prepended to every input/output topic name
    workdir: Path = Path(".pulse")  # Faust data directory
    config: Path | None = None  # Pulse config file (None = shipped sample)
    # Kafka session timeout: tansu holds a JoinGroup for half of it, so keep it short there.
    session_timeout_s: float = 10.0
    # How long the consumer waits for data in one fetch (latency vs. request count).
    fetch_max_wait_ms: int = 100
    commit_interval_s: float = 1.0
    # Input records go from each fetch to the worker as one batch, past Faust's
    # per-record stream (streams/worker/compat.py: drain_in_batches): 2.3x the events/s
    # on Apache Kafka. 0: Faust's per-record stream (the path before; docs/streaming.md).
    fetch_batches: bool = True
    # How long a record waits, from its arrival, for input topics that are read to their
    # end and empty before the merger releases it past them (Kafka Streams'
    # max.task.idle.ms): 0 releases at once (lowest latency); more makes the order of
    # records published to several topics at the same moment a function of their event
    # times, not of which topic's fetch came back first (docs/streaming.md, "Same answers").
    merge_idle_ms: int = 0
    # Workarounds for a broker's known deviations from Apache Kafka, all behind this one
    # setting (docs/streaming.md, "The embedded broker versus Apache Kafka"):
    # "tansu" (the embedded broker, under-reporting end offsets): after Faust restores a
    # table, read each changelog partition to its true end and repair what was missed;
    # "none" (Apache Kafka): trust the restore, skipping a full read per partition — at
    # least once only: exactly-once always reads the changelog (read_committed) to check.
    broker_quirks: str = "tansu"
    security_protocol: str = "PLAINTEXT"  # PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
    sasl_mechanism: str = "PLAIN"  # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None  # client certificate (mTLS), with ssl_keyfile
    ssl_keyfile: Path | None = None
    ssl_key_password: str | None = None  # of an encrypted ssl_keyfile
    ssl_check_hostname: bool = True  # the broker's certificate must name the host dialled
    # SASL OAUTHBEARER: an OIDC token endpoint and this client's credentials (the client
    # credentials grant, as Java clients' OAuthBearerLoginCallbackHandler uses).
    oauth_token_url: str = ""
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = None
    oauth_scope: str = ""
    # A Kafka client .properties file (streams/kafka_properties.py): bootstrap servers,
    # TLS, SASL and OAUTHBEARER settings in the Java / librdkafka names.
    kafka_properties: Path | None = None
    # The users changelog is compacted; these bound how long an erased user's earlier
    # states can survive in it: a segment rolls after `changelog_segment_ms` and becomes
    # cleanable at once, and the cleaner must compact within `changelog_max_compaction_lag_ms`.
    changelog_segment_ms: int = 6 * 3_600_000
    changelog_max_compaction_lag_ms: int = 24 * 3_600_000
    # Replicas of every topic Pulse creates (its inputs, outputs and changelog): 1 for a
    # single broker, 3 on a production cluster.
    replication_factor: int = 1
    # /readyz fails when an input partition with lag has not committed for this long.
    stall_after_s: float = 300.0
    # /healthz fails when the worker's event loop has not run its 0.5 s timer for this long
    # (a hung loop), once it has run it at all (start-up and recovery are not judged).
    liveness_after_s: float = 60.0
    # The worker publishes ticks (streams/core/ticks.py) as its partitions' event time
    # crosses each hour, so partitions no producer writes to follow the others.
    publish_ticks: bool = True
    metrics_port: int = 9464
    metrics_host: str = "127.0.0.1"
    # GET /users/{id} on the metrics port: the owning worker answers with the user's
    # current view, another redirects there. Personal data: keep the port internal.
    user_lookup: bool = True
    # The address other workers redirect a lookup to (empty: http://<metrics host, or this
    # machine's name when it listens on all interfaces>:<metrics port>).
    advertised_url: str = ""
    # Per input topic, the format its records are in: "segment" (Segment/RudderStack
    # spec), "snowplow" (enriched events as the Analytics SDK's JSON) or "pulse" (the
    # default). One name for every topic, or e.g. "clicks=segment,purchases=segment".
    input_format: str = ""
    input_currency: str = "USD"  # for converted orders that name no currency
    # The Kafka timestamp of output records: "produce" (when the worker wrote them) or
    # "event" (the event time of their cause, as Kafka Streams does). Brokers roll and
    # expire segments by it: with "event", the outputs of a log older than the topic's
    # retention are deleted within minutes (measured on Apache Kafka), so it suits a
    # live stream only. Event time is always in the `ce_time` header.
    output_timestamp: str = "produce"
    # at_least_once, or exactly_once (Apache Kafka only: needs transactions): everything
    # a batch caused and its input offsets in one transaction per input partition;
    # consumers read outputs with isolation.level=read_committed.
    processing_guarantee: str = "at_least_once"
    # Faust's own Prometheus sensors (prefix faust_) beside ours: they cost ~11 % of
    # throughput (measured with pulse bench worker), so they are opt-in.
    faust_sensors: bool = False
    log_level: str = "warning"
    log_format: str = "text"  # text, or json: one object per line with topic/partition/offset

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.__slots__:
            key = ENV_PREFIX + name.upper()
            if key in env and env[key] != "":
                values[name] = _convert(name, env[key], key)
            elif key + "_FILE" in env and env[key + "_FILE"] != "":
                # A secret mounted as a file (Docker/Kubernetes secrets): PULSE_X_FILE=path.
                values[name] = _convert(name, _read_secret(key + "_FILE", env[key + "_FILE"]), key)
        path = values.get("kafka_properties")
        if path is not None:
            values = _with_properties(values, path)
        return cls(**values)

    def warnings(self) -> list[str]:
        """Settings that work but should not be used in production."""
        found = []
        if self.security_protocol == "SASL_PLAINTEXT" and self.sasl_mechanism == "PLAIN":
            found.append(
                "SASL PLAIN over SASL_PLAINTEXT sends the password in clear text: use "
                "SASL_SSL (PULSE_SECURITY_PROTOCOL=SASL_SSL) or SCRAM"
            )
        if self.sasl_mechanism == "OAUTHBEARER" and not self.security_protocol.endswith("SSL"):
            found.append(
                "OAUTHBEARER over SASL_PLAINTEXT sends the bearer token in clear text: use SASL_SSL"
            )
        if self.oauth_token_url.startswith("http://") and not _loopback(self.oauth_token_url):
            found.append(
                "the OAuth token endpoint is plain http: the client secret crosses the "
                "network in clear text; use https"
            )
        if not self.ssl_check_hostname:
            found.append(
                "ssl.endpoint.identification.algorithm is off: any broker certificate "
                "signed by the CA is accepted, whatever host it names"
            )
        return found

    def override(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def event_timestamps(self) -> bool:
        """True when output records carry their event time (PULSE_OUTPUT_TIMESTAMP)."""
        return _choice("output_timestamp", self.output_timestamp, ("produce", "event")) == "event"

    def check(self) -> Settings:
        """These settings, once every setting with a fixed set of values holds one of them
        (a ConfigError names the first that does not), before anything connects."""
        self.event_timestamps()
        self.exactly_once()
        self.tansu_quirks()
        return self

    def tansu_quirks(self) -> bool:
        """True for PULSE_BROKER_QUIRKS=tansu (the default), False for none."""
        return _choice("broker_quirks", self.broker_quirks, ("tansu", "none")) == "tansu"

    def exactly_once(self) -> bool:
        """True for PULSE_PROCESSING_GUARANTEE=exactly_once (Apache Kafka only)."""
        choices = ("at_least_once", "exactly_once")
        return _choice("processing_guarantee", self.processing_guarantee, choices) == choices[1]

    def lookup_url(self) -> str:
        """Where other workers send a `GET /users/{id}` this worker owns."""
        if self.advertised_url:
            return self.advertised_url.rstrip("/")
        host = self.metrics_host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming it, not binding it
            host = socket.gethostname()
        return f"http://{host}:{self.metrics_port}"

    def topic(self, name: str) -> str:
        """Physical topic name of a logical one (`clicks` → `<prefix>clicks`)."""
        return self.topic_prefix + name

    def broker_urls(self) -> str:
        """The broker URL(s), checked before anything connects (no DNS wait on a typo)."""
        if not self.broker:
            raise ConfigError(
                "settings",
                None,
                "no broker given",
                "pass --broker kafka://HOST:PORT or set PULSE_BROKER",
            )
        check_broker_url(self.broker)
        return self.broker


_DEFAULTS = Settings()


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """`value` if it is one of `choices` (the first is the default), else a ConfigError.

    >>> _choice("output_timestamp", "event", ("produce", "event"))
    'event'
    """
    if value not in choices:
        raise ConfigError(
            "environment",
            None,
            f"{ENV_PREFIX}{name.upper()}={value!r} is not one of {', '.join(choices)}",
            f"use {choices[0]} (the default) or {' or '.join(choices[1:])}",
        )
    return value


def _convert(name: str, text: str, key: str) -> Any:
    default = getattr(_DEFAULTS, name)
    try:
        if isinstance(default, bool):
            if text.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("1", "true", "yes")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, Path) or name in (
            "config",
            "ssl_cafile",
            "ssl_certfile",
            "ssl_keyfile",
            "kafka_properties",
        ):
            return Path(text)
    except ValueError:
        raise ConfigError(
            "environment",
            None,
            f"{key}={text!r} is not a valid {name}",
            f"use a value like {default!r}",
        ) from None
    return text


def _with_properties(values: dict[str, Any], path: Path) -> dict[str, Any]:
    """`values` (set by PULSE_* variables) completed from a Kafka properties file; a
    setting given both ways must agree."""
    from streams.kafka_properties import read_properties

    merged = dict(values)
    for name, value in read_properties(path).items():
        if name in values and values[name] != value:
            raise ConfigError(
                str(path),
                None,
                f"sets {name} to another value than {ENV_PREFIX}{name.upper()}",
                f"set it in one place: the file or {ENV_PREFIX}{name.upper()}",
            )
        merged[name] = value
    return merged


def _loopback(url: str) -> bool:
    """True for a URL on this machine (a local token endpoint, a test).

    >>> _loopback("http://127.0.0.1:8080/token"), _loopback("http://idp.example.com/token")
    (True, False)
    """
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


def _read_secret(key: str, path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(
            "environment",
            None,
            f"{key}={path!r} cannot be read ({exc.strerror})",
            "mount the secret file there, or set the variable without _FILE",
        ) from None


_BROKER: Final = re.compile(r"^(?:kafka://)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")


def check_broker_url(url: str) -> None:
    """Each of `kafka://HOST:PORT[;kafka://HOST:PORT…]` well formed, or a ConfigError.

    >>> check_broker_url("kafka://127.0.0.1:9092;kafka://kafka-2:9093")
    >>> check_broker_url("not-a-url")
    Traceback (most recent call last):
    ...
    streams.core.errors.ConfigError: settings: broker 'not-a-url' is not HOST:PORT (fix: use e.g. --broker kafka://127.0.0.1:9092)
    """
    parts = [part.strip() for part in url.replace(",", ";").split(";") if part.strip()]
    for part in parts or [url]:
        found = _BROKER.match(part)
        if found is None or not 0 < int(found[2]) < 65536:
            raise ConfigError(
                "settings",
                None,
                f"broker {part[:200]!r} is not HOST:PORT",
                "use e.g. --broker kafka://127.0.0.1:9092",
            )
