"""Input formats a topic can carry, for `pulse convert` and the worker (PULSE_INPUT_FORMAT).

Each line-based format turns one record into a Pulse event or says why not; the worker
runs the same function on each record of a topic whose format is not `pulse`, so a shop
can point Segment's, RudderStack's or Snowplow's stream at Pulse's input topics directly.

>>> formats = parse_formats("clicks=segment,purchases=snowplow", ("clicks", "purchases"))
>>> formats["clicks"], formats["purchases"]
('segment', 'snowplow')
>>> parse_formats("segment", ("clicks", "searches"))
{'clicks': 'segment', 'searches': 'segment'}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

import orjson

from streams.convert import segment, snowplow
from streams.convert.result import Converted, Unmapped
from streams.core.errors import ConfigError, InvalidEvent
from streams.core.events import INVALID_VALUE, OVERSIZED, UNMAPPED

PULSE: Final = "pulse"
LINE_FORMATS: Final[dict[str, Callable[[str, int, str], Converted | Unmapped]]] = {
    "segment": segment.convert_line,
    "rudderstack": segment.convert_line,  # RudderStack follows Segment's spec
    "snowplow": snowplow.convert_line,
}


def parse_formats(text: str, topics: Iterable[str]) -> dict[str, str]:
    """`PULSE_INPUT_FORMAT`: one format for every topic, or `topic=format,…` (others pulse)."""
    topics = tuple(topics)
    known = (PULSE, *LINE_FORMATS)
    text = text.strip()
    if not text:
        return dict.fromkeys(topics, PULSE)
    if "=" not in text:
        pairs = [(topic, text) for topic in topics]
    else:
        pairs = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            topic, _, name = part.partition("=")
            pairs.append((topic.strip(), name.strip()))
    found = dict.fromkeys(topics, PULSE)
    for topic, name in pairs:
        if topic not in found or name not in known:
            raise ConfigError(
                "environment",
                None,
                f"PULSE_INPUT_FORMAT {text[:200]!r}: {topic!r}={name!r} is not a topic=format",
                f"topics: {', '.join(topics)}; formats: {', '.join(known)}",
            )
        found[topic] = name
    return found


def to_pulse(raw: bytes, name: str, currency: str, max_bytes: int) -> bytes:
    """One record of format `name` as a Pulse event's bytes, or InvalidEvent: `oversized`,
    `unmapped` (a kind Pulse has no event for) or `invalid_value` (the record is broken)."""
    if len(raw) > max_bytes:
        raise InvalidEvent(OVERSIZED, f"record is {len(raw)} bytes; the limit is {max_bytes}")
    result = LINE_FORMATS[name](raw.decode("utf-8", "replace"), 0, currency)
    if isinstance(result, Unmapped):
        reason = UNMAPPED if result.reason == "unmapped" else INVALID_VALUE
        raise InvalidEvent(reason, f"{name}: {result.detail}")
    return orjson.dumps(result.event)
