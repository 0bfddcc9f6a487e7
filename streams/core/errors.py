"""Named errors: bad input is routed (dead letters), bad configuration stops start-up."""

from __future__ import annotations


class PulseError(Exception):
    """Base class of every error Pulse raises on purpose."""


class InvalidEvent(PulseError):
    """An input record that cannot be accepted; it goes to dead letters with `reason`.

    >>> err = InvalidEvent("missing_field", "'user_id' is required")
    >>> (err.reason, str(err))
    ('missing_field', "missing_field: 'user_id' is required")
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ConfigError(PulseError):
    """A configuration problem, reported with the file, the line and how to fix it.

    >>> print(ConfigError("config/pulse.yaml", 12, "segment 'vip': unknown feature 'ordrs'",
    ...                   "use one of the names listed in docs/features.md"))
    config/pulse.yaml:12: segment 'vip': unknown feature 'ordrs' (fix: use one of the names listed in docs/features.md)
    """

    def __init__(self, file: str, line: int | None, problem: str, fix: str = "") -> None:
        where = f"{file}:{line}" if line else file
        text = f"{where}: {problem}"
        if fix:
            text += f" (fix: {fix})"
        super().__init__(text)
        self.file = file
        self.line = line
        self.problem = problem
        self.fix = fix
