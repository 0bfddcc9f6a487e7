"""A single-node Apache Kafka (KRaft) on 127.0.0.1 for the integration tests.

The broker jars come from Maven Central through tests/integration/kafka/pom.xml (pinned
to the Kafka that docker-compose.yml runs), copied once into a cache directory
(`PULSE_KAFKA_CACHE`, default ~/.cache/pulse-test-kafka/<version>). The broker gets free
ports, a fresh log directory, a formatted KRaft storage and warnings-only logging; it stops
with the test session (and with this process, even when killed).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from streams.broker import _die_with_parent, free_port

POM = Path(__file__).parent / "kafka" / "pom.xml"
VERSION = re.search(r"<artifactId>kafka_2.13</artifactId>\s*<version>([^<]+)<", POM.read_text())
KAFKA_VERSION = VERSION.group(1) if VERSION else "unknown"


class KafkaUnavailable(RuntimeError):
    """Java or Maven missing, or the jars could not be fetched: say which."""


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "pulse-test-kafka" / KAFKA_VERSION
    return Path(os.environ.get("PULSE_KAFKA_CACHE", default))


def broker_jars() -> Path:
    """The directory of the broker's jars, fetched with Maven on first use."""
    libs = cache_dir() / "libs"
    if (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        return libs
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            raise KafkaUnavailable(f"'{tool}' is not installed: Apache Kafka tests need Java 17+")
    staging = libs.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    done = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise KafkaUnavailable(f"mvn could not fetch Kafka {KAFKA_VERSION}: {done.stdout[-800:]}")
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    return libs


class ApacheKafka:
    """`with ApacheKafka() as kafka:` … `kafka.url` is kafka://127.0.0.1:PORT."""

    def __init__(self) -> None:
        self.port = free_port()
        self.controller_port = free_port()
        self.url = f"kafka://127.0.0.1:{self.port}"
        # A second listener that takes SASL OAUTHBEARER (unsecured JWTs, as Kafka's own
        # tests do): the worker's OAuth client is tested against the real broker.
        self.oauth_port = free_port()
        self.oauth_url = f"kafka://127.0.0.1:{self.oauth_port}"
        self._dir = Path(tempfile.mkdtemp(prefix="pulse-kafka-"))
        self._process: subprocess.Popen[bytes] | None = None
        self.log = self._dir / "broker.log"

    def _java(self, libs: Path, *args: str) -> list[str]:
        return [
            "java",
            "-Xms256m",
            "-Xmx768m",
            # SLF4J's simple binding (tests/integration/kafka/pom.xml): warnings and errors.
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-cp",
            f"{libs}/*",
            *args,
        ]

    def start(self, timeout: float = 90.0) -> ApacheKafka:
        libs = broker_jars()
        config = self._dir / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port},"
                    f"OAUTH://127.0.0.1:{self.oauth_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"OAUTH://127.0.0.1:{self.oauth_port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,"
                    "OAUTH:SASL_PLAINTEXT",
                    "listener.name.oauth.sasl.enabled.mechanisms=OAUTHBEARER",
                    "listener.name.oauth.oauthbearer.sasl.jaas.config="
                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule "
                    'required unsecuredLoginStringClaim_sub="broker";',
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={self._dir / 'data'}",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=4",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    # Small segments and a short cleaner backoff: compaction is observable
                    # in a test's time, as production's segment.ms bounds it there.
                    "log.cleaner.backoff.ms=1000",
                    "",
                ]
            )
        )
        cluster = subprocess.run(
            self._java(libs, "kafka.tools.StorageTool", "random-uuid"),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        subprocess.run(
            self._java(libs, "kafka.tools.StorageTool", "format", "-t", cluster, "-c", str(config)),
            capture_output=True,
            check=True,
        )
        with self.log.open("wb") as out:
            self._process = subprocess.Popen(
                self._java(libs, "kafka.Kafka", str(config)),
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise KafkaUnavailable(f"Kafka exited: {self.log.read_text()[-1500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise KafkaUnavailable(f"Kafka did not listen within {timeout:.0f}s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> ApacheKafka:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def main() -> None:
    """`make kafka`: run the test broker by hand until Ctrl-C."""
    with ApacheKafka() as kafka:
        print(f"Apache Kafka {KAFKA_VERSION} (KRaft, single node) on {kafka.url}; Ctrl-C stops it")
        print(f"  e.g. pulse worker --broker {kafka.url}")
        try:
            while kafka._process is not None and kafka._process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
