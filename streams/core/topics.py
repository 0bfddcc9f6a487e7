"""Topic names: where each input type is read from and each output goes.

>>> INPUT_TOPIC_BY_TYPE["purchase"], INPUT_TOPICS
('purchases', ('clicks', 'searches', 'purchases', 'profiles'))
"""

from __future__ import annotations

from typing import Final

from streams.core.events import EVENT_KINDS
from streams.core.outputs import OUTPUT_TOPICS, USER_PROFILES

INPUT_TOPIC_BY_TYPE: Final = {kind.name: kind.topic for kind in EVENT_KINDS}
INPUT_TOPICS: Final = tuple(INPUT_TOPIC_BY_TYPE.values())
# Records whose type cannot be read (malformed JSON, unknown type) still need a home when
# a log is replayed onto topics: they go to the clicks topic, the busiest input.
FALLBACK_INPUT_TOPIC: Final = "clicks"
ALL_TOPICS: Final = INPUT_TOPICS + OUTPUT_TOPICS
# Topic configs beyond the broker's defaults: `user-profiles` holds one current record per
# user, so it is compacted (an erased or expired user's tombstone deletes them).
TOPIC_CONFIGS: Final[dict[str, dict[str, str]]] = {
    USER_PROFILES: {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1"},
}
