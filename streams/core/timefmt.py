"""Event timestamps: parsed once to integer epoch milliseconds (UTC), printed as ISO-8601.

Integers keep arithmetic exact and fast; every output timestamp goes through
:func:`format_ts`, so replays print the same bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MS_PER_SECOND = 1000
MS_PER_MINUTE = 60 * MS_PER_SECOND
MS_PER_HOUR = 60 * MS_PER_MINUTE
MS_PER_DAY = 24 * MS_PER_HOUR


class TimestampError(ValueError):
    """A timestamp that is not ISO-8601 with an offset nor epoch milliseconds."""


def parse_ts(value: object) -> int:
    """Parse an ISO-8601 string with offset, or epoch milliseconds, to epoch ms (UTC).

    >>> parse_ts("2017-11-25T10:00:00Z")
    1511604000000
    >>> parse_ts("2017-11-25T11:00:00+01:00")
    1511604000000
    >>> parse_ts(1511604000000)
    1511604000000
    >>> parse_ts("2017-11-25T10:00:00")
    Traceback (most recent call last):
    ...
    streams.core.timefmt.TimestampError: timestamp '2017-11-25T10:00:00' has no UTC offset; add 'Z' or '+HH:MM'
    """
    if isinstance(value, bool):
        raise TimestampError(
            "timestamp must be an ISO-8601 string or epoch milliseconds, not a boolean"
        )
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TimestampError("timestamp is not a finite number")
        return int(value)
    if not isinstance(value, str):
        raise TimestampError(
            f"timestamp must be an ISO-8601 string or epoch milliseconds, not {type(value).__name__}"
        )
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TimestampError(f"timestamp {value!r} is not ISO-8601") from None
    if parsed.tzinfo is None:
        raise TimestampError(f"timestamp {value!r} has no UTC offset; add 'Z' or '+HH:MM'")
    return (
        int(parsed.timestamp() * 1000)
        if parsed.microsecond % 1000
        else (int(parsed.timestamp()) * 1000 + parsed.microsecond // 1000)
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_last_formatted: tuple[int, str] = (-1, "")


def format_ts(ms: int) -> str:
    """Format epoch ms as ISO-8601 UTC with millisecond precision.

    >>> format_ts(1511604000123)
    '2017-11-25T10:00:00.123Z'
    """
    global _last_formatted  # a one-entry memo
    last = _last_formatted  # (one read: the pair is replaced whole, never half)
    if last[0] == ms:
        return last[1]  # the outputs of one event or one watermark share their time
    seconds, millis = divmod(ms, 1000)
    t = _EPOCH + timedelta(seconds=seconds)  # no strftime: this runs for every output
    text = (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f".{millis:03d}Z"
    )
    _last_formatted = (ms, text)
    return text


def day_index(ms: int) -> int:
    """Days since the Unix epoch (UTC) of a timestamp in ms.

    >>> day_index(MS_PER_DAY * 3 + 5)
    3
    """
    return ms // MS_PER_DAY
