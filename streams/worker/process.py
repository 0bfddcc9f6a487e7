"""A `pulse worker` in a process of its own: started with a log file, stopped by signal.

Used by `pulse demo`, `pulse bench worker` and the integration tests, so each starts
and stops workers the same way (and none outlives the process that started it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from streams.broker import _die_with_parent


class WorkerProcess:
    def __init__(
        self,
        broker_url: str,
        log_path: Path,
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
        own_session: bool = False,
    ) -> None:
        """`env` is added to this process's environment; `args` follow `pulse worker`.

        `own_session`: terminal signals (Ctrl-C) do not reach the worker; whoever started
        it stops it. PR_SET_PDEATHSIG stops it in any case when its parent dies.
        """
        self.log_path = log_path
        command = [sys.executable, "-m", "streams.cli.main", "worker", "--broker", broker_url]
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [*command, *args],
                env={**os.environ, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=own_session,
                preexec_fn=_die_with_parent,  # safe: only a prctl call
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Signal the worker and wait for it (killing it after `timeout`); its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return int(self.process.returncode)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")
