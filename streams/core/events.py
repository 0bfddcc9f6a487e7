"""Input event contract, version 1: one schema per event type, decoded and validated once.

Every input is a JSON object with `type`, `event_id`, `user_id` and `ts`. Decoding either
returns a typed event or raises :class:`InvalidEvent` with a specific reason; it never
returns something half-checked. Unknown fields are kept (in ``payload``), not rejected.

>>> event = decode_event(b'{"type":"search","event_id":"e1","user_id":"u1",'
...                      b'"ts":"2024-05-01T12:00:00Z","query":"red shoes","results":0,"x":1}')
>>> (event.type, event.user_id, event.ts, event.results, event.payload["x"])
('search', 'u1', 1714564800000, 0, 1)
>>> decode_event(b'{"type":"refund","event_id":"e2","user_id":"u1","ts":0}')
Traceback (most recent call last):
...
streams.core.errors.InvalidEvent: unknown_type: type 'refund' is not one of click, profile, purchase, search
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from streams.core.errors import InvalidEvent
from streams.core.timefmt import TimestampError, format_ts, parse_ts

SCHEMA_VERSION: Final = 1

# Reasons an input is rejected; each is a label on the dead-letter record and in metrics.
MALFORMED_JSON: Final = "malformed_json"
NOT_AN_OBJECT: Final = "not_an_object"
OVERSIZED: Final = "oversized"
MISSING_FIELD: Final = "missing_field"
WRONG_TYPE: Final = "wrong_type"
INVALID_VALUE: Final = "invalid_value"
UNKNOWN_TYPE: Final = "unknown_type"
ABSURD_TIMESTAMP: Final = "absurd_timestamp"
UNSUPPORTED_VERSION: Final = "unsupported_version"
DUPLICATE_EVENT: Final = "duplicate_event_id"
TOO_LATE: Final = "too_late"
# A record of a converted format (PULSE_INPUT_FORMAT) whose kind Pulse has no event for.
UNMAPPED: Final = "unmapped"
# A valid event the pipeline failed on (a bug, not bad input): kept, never dropped.
PROCESSING_ERROR: Final = "processing_error"
REJECT_REASONS: Final = (
    MALFORMED_JSON,
    NOT_AN_OBJECT,
    OVERSIZED,
    MISSING_FIELD,
    WRONG_TYPE,
    INVALID_VALUE,
    UNKNOWN_TYPE,
    ABSURD_TIMESTAMP,
    UNSUPPORTED_VERSION,
    DUPLICATE_EVENT,
    TOO_LATE,
    UNMAPPED,
    PROCESSING_ERROR,
)


@dataclass(frozen=True, slots=True)
class EventKind:
    """One input type of the contract: its topic and what it counts as.

    `activity`: user behaviour (lifecycle activity, churn-defining kinds); a `profile`
    event is data about the user, not behaviour. `actions`: a click's actions, each of
    which counts as its own kind where kinds are listed (rules' triggers, churn).
    """

    name: str
    topic: str
    activity: bool
    actions: tuple[str, ...] = ()


# The one registry of input kinds: the decoder (`_DECODERS`), the input topics
# (streams/core/topics.py), the lifecycle's and churn's allowed kinds (config.py,
# models_config.py) and the rule variables' kinds (feature_view.py) all derive from it.
EVENT_KINDS: Final = (
    EventKind(
        "click",
        "clicks",
        True,
        ("view", "add_to_cart", "remove_from_cart", "wishlist", "campaign_click"),
    ),
    EventKind("search", "searches", True),
    EventKind("purchase", "purchases", True),
    EventKind("profile", "profiles", False),
)
EVENT_TYPES: Final = tuple(sorted(kind.name for kind in EVENT_KINDS))
ACTIVITY_TYPES: Final = tuple(kind.name for kind in EVENT_KINDS if kind.activity)
IS_ACTIVITY: Final = {kind.name: kind.activity for kind in EVENT_KINDS}
CLICK_ACTIONS: Final = frozenset(action for kind in EVENT_KINDS for action in kind.actions)
# What a user does, as kinds: an event type, or a click's action in place of "click".
BEHAVIOUR_KINDS: Final = tuple(
    name for kind in EVENT_KINDS if kind.activity for name in (kind.actions or (kind.name,))
)
CONSENT_CHANNELS: Final = ("email", "sms", "push")

MAX_ID_LENGTH: Final = 256
MAX_TEXT_LENGTH: Final = 1024
# Real orders can be wide (a wholesaler's restock runs to thousands of lines); every line is
# validated, and per-item work downstream is capped instead (features.ITEM_WORK_LINES).
MAX_ITEMS: Final = 10_000
# Per-item work (category interest, recommendations) looks at the first lines only, so a
# 2,000-line order costs about what a 50-line one does; totals always use every line.
ITEM_WORK_LINES: Final = 50
MAX_ATTRIBUTES: Final = 32
MAX_ATTRIBUTE_KEY: Final = 64
# Control characters (NUL above all) never appear in a user or event id: Pulse's own
# bookkeeping keys in the state table start with NUL, so no user id can reach them.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
# IANA zone names: "Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "UTC".
_ZONE_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}")
# Plausible event times: 1970-01-01 .. 2100-01-01 (UTC) by default, so shops can replay old
# history; `stream.earliest_event_time` raises the floor. Anything outside is a clock error.
MIN_TS: Final = 0
MAX_TS: Final = 4_102_444_800_000
# A *number* below this (1973-03-03 in ms) is epoch seconds sent as milliseconds: every
# epoch-seconds value up to the year 5138 falls below it. ISO strings are not ambiguous.
EPOCH_SECONDS_BELOW: Final = 100_000_000_000


@dataclass(slots=True)
class Event:
    """Fields every input event has; ``payload`` is the whole decoded object."""

    type: str
    event_id: str
    user_id: str
    ts: int
    payload: dict[str, Any]


@dataclass(slots=True)
class ClickEvent(Event):
    action: str
    item_id: str | None
    category: str | None
    price: float | None
    session_id: str | None
    message_id: str | None


@dataclass(slots=True)
class SearchEvent(Event):
    query: str
    results: int | None  # None: the source does not count results
    category: str | None


@dataclass(slots=True, frozen=True)
class LineItem:
    item_id: str
    category: str | None
    price: float
    quantity: int


@dataclass(slots=True)
class PurchaseEvent(Event):
    order_id: str
    items: tuple[LineItem, ...]
    total: float
    currency: str
    discount: float
    coupon: str | None
    message_id: str | None


@dataclass(slots=True)
class ProfileEvent(Event):
    consent: dict[str, bool]
    timezone: str | None
    attributes: dict[str, str | int | float | bool | None]
    erase: bool


AnyEvent = ClickEvent | SearchEvent | PurchaseEvent | ProfileEvent


def parse_json(raw: bytes | str, max_bytes: int) -> dict[str, Any]:
    """Parse one record to a JSON object, rejecting oversized, malformed and non-objects."""
    if len(raw) > max_bytes:
        raise InvalidEvent(OVERSIZED, f"record is {len(raw)} bytes; the limit is {max_bytes}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(MALFORMED_JSON, str(exc)) from None
    if not isinstance(data, dict):
        raise InvalidEvent(NOT_AN_OBJECT, f"expected a JSON object, got {type(data).__name__}")
    return data


def decode_event(raw: bytes | str, max_bytes: int = 524_288, earliest: int = MIN_TS) -> AnyEvent:
    """Decode and validate one input record (bytes or text of one JSON object)."""
    return validate_event(parse_json(raw, max_bytes), earliest)


def validate_event(data: dict[str, Any], earliest: int = MIN_TS) -> AnyEvent:
    """Validate an already-parsed object against the contract.

    `earliest` is the oldest event time accepted (epoch ms; `stream.earliest_event_time`).
    """
    version = data.get("v", SCHEMA_VERSION)
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise InvalidEvent(
            UNSUPPORTED_VERSION, f"schema version {version!r} is not supported (this is v1)"
        )
    kind = _required_str(data, "type")
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise InvalidEvent(
            UNKNOWN_TYPE, f"type {kind[:64]!r} is not one of {', '.join(EVENT_TYPES)}"
        )
    event_id = _required_id(data, "event_id")
    user_id = _required_id(data, "user_id")
    if "ts" not in data:
        raise InvalidEvent(MISSING_FIELD, "'ts' is required")
    try:
        ts = parse_ts(data["ts"])
    except TimestampError as exc:
        raise InvalidEvent(
            WRONG_TYPE if not isinstance(data["ts"], str) else INVALID_VALUE, f"'ts': {exc}"
        ) from None
    if not isinstance(data["ts"], str) and 0 <= ts < EPOCH_SECONDS_BELOW:
        raise InvalidEvent(
            ABSURD_TIMESTAMP,
            f"'ts' {data['ts']!r} looks like epoch seconds; send milliseconds or ISO-8601",
        )
    if not max(earliest, MIN_TS) <= ts < MAX_TS:
        raise InvalidEvent(
            ABSURD_TIMESTAMP,
            f"'ts' {data['ts']!r} is outside {format_ts(max(earliest, MIN_TS))[:10]}..2100-01-01"
            " (stream.earliest_event_time sets the floor)",
        )
    return decoder(data, event_id, user_id, ts)


def _decode_click(data: dict[str, Any], event_id: str, user_id: str, ts: int) -> ClickEvent:
    action = _required_str(data, "action")
    if action not in CLICK_ACTIONS:
        raise InvalidEvent(
            INVALID_VALUE,
            f"'action' {action[:64]!r} is not one of {', '.join(sorted(CLICK_ACTIONS))}",
        )
    message_id = _optional_id(data, "message_id")
    if action == "campaign_click":
        item_id = _optional_id(data, "item_id")
        if message_id is None:
            raise InvalidEvent(MISSING_FIELD, "'message_id' is required for a campaign_click")
    else:
        item_id = _required_id(data, "item_id")
    return ClickEvent(
        "click",
        event_id,
        user_id,
        ts,
        data,
        action,
        item_id,
        _optional_id(data, "category"),
        _optional_amount(data, "price"),
        _optional_id(data, "session_id"),
        message_id,
    )


def _decode_search(data: dict[str, Any], event_id: str, user_id: str, ts: int) -> SearchEvent:
    query = _required_str(data, "query")
    if len(query) > MAX_TEXT_LENGTH:
        raise InvalidEvent(INVALID_VALUE, f"'query' is longer than {MAX_TEXT_LENGTH} characters")
    # Optional: Segment's "Products Searched" and many site-search logs do not count results.
    results = data.get("results")
    if results is not None and (not isinstance(results, int) or isinstance(results, bool)):
        raise InvalidEvent(WRONG_TYPE, f"'results' must be an integer, got {_kind(results)}")
    if results is not None and results < 0:
        raise InvalidEvent(INVALID_VALUE, f"'results' must be >= 0, got {results}")
    return SearchEvent(
        "search", event_id, user_id, ts, data, query, results, _optional_id(data, "category")
    )


def _decode_purchase(data: dict[str, Any], event_id: str, user_id: str, ts: int) -> PurchaseEvent:
    order_id = _required_id(data, "order_id")
    if "items" not in data:
        raise InvalidEvent(MISSING_FIELD, "'items' is required")
    raw_items = data["items"]
    if not isinstance(raw_items, list):
        raise InvalidEvent(WRONG_TYPE, f"'items' must be a list, got {_kind(raw_items)}")
    if not raw_items:
        raise InvalidEvent(INVALID_VALUE, "'items' must not be empty")
    if len(raw_items) > MAX_ITEMS:
        raise InvalidEvent(INVALID_VALUE, f"'items' has more than {MAX_ITEMS} lines")
    items = tuple(_decode_line_item(item, index) for index, item in enumerate(raw_items))
    if "total" not in data:
        raise InvalidEvent(MISSING_FIELD, "'total' is required")
    total = _amount(data["total"], "total")
    currency = _required_str(data, "currency")
    if len(currency) != 3 or not currency.isalpha():
        raise InvalidEvent(
            INVALID_VALUE, f"'currency' must be an ISO-4217 code, got {currency[:16]!r}"
        )
    discount = _optional_amount(data, "discount") or 0.0
    return PurchaseEvent(
        "purchase",
        event_id,
        user_id,
        ts,
        data,
        order_id,
        items,
        total,
        currency.upper(),
        discount,
        _optional_id(data, "coupon"),
        _optional_id(data, "message_id"),
    )


def _decode_line_item(item: object, index: int) -> LineItem:
    """One order line; the common valid case in one test, the reason only on failure.

    Real orders carry thousands of lines, so the happy path builds no message strings.
    """
    if type(item) is dict:
        item_id = item.get("item_id")
        category = item.get("category")
        price = item.get("price")
        quantity = item.get("quantity", 1)
        if (
            type(item_id) is str
            and 0 < len(item_id) <= MAX_ID_LENGTH
            and (category is None or (type(category) is str and len(category) <= MAX_ID_LENGTH))
            and (type(price) is float or type(price) is int)
            and 0 <= price <= 1e12  # NaN fails both comparisons, inf the second
            and type(quantity) is int
            and 1 <= quantity <= 1_000_000
        ):
            return LineItem(item_id, category, float(price), quantity)
    return _checked_line_item(item, index)


def _checked_line_item(item: object, index: int) -> LineItem:
    where = f"items[{index}]"
    if not isinstance(item, dict):
        raise InvalidEvent(WRONG_TYPE, f"'{where}' must be an object, got {_kind(item)}")
    if "item_id" not in item:
        raise InvalidEvent(MISSING_FIELD, f"'{where}.item_id' is required")
    item_id = item["item_id"]
    if not isinstance(item_id, str) or not item_id or len(item_id) > MAX_ID_LENGTH:
        raise InvalidEvent(WRONG_TYPE, f"'{where}.item_id' must be a non-empty string")
    category = item.get("category")
    if category is not None and not isinstance(category, str):
        raise InvalidEvent(WRONG_TYPE, f"'{where}.category' must be a string or null")
    if category is not None and len(category) > MAX_ID_LENGTH:
        raise InvalidEvent(
            INVALID_VALUE, f"'{where}.category' is longer than {MAX_ID_LENGTH} characters"
        )
    if "price" not in item:
        raise InvalidEvent(MISSING_FIELD, f"'{where}.price' is required")
    price = _amount(item["price"], f"{where}.price")
    quantity = item.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise InvalidEvent(
            WRONG_TYPE, f"'{where}.quantity' must be an integer, got {_kind(quantity)}"
        )
    if not 1 <= quantity <= 1_000_000:
        raise InvalidEvent(INVALID_VALUE, f"'{where}.quantity' must be between 1 and 1000000")
    return LineItem(item_id, category, price, quantity)


def _decode_profile(data: dict[str, Any], event_id: str, user_id: str, ts: int) -> ProfileEvent:
    consent: dict[str, bool] = {}
    raw_consent = data.get("consent")
    if raw_consent is not None:
        if not isinstance(raw_consent, dict):
            raise InvalidEvent(WRONG_TYPE, f"'consent' must be an object, got {_kind(raw_consent)}")
        for channel, allowed in raw_consent.items():
            if channel not in CONSENT_CHANNELS:
                raise InvalidEvent(
                    INVALID_VALUE,
                    f"'consent.{str(channel)[:32]}' is not a channel ({', '.join(CONSENT_CHANNELS)})",
                )
            if not isinstance(allowed, bool):
                raise InvalidEvent(WRONG_TYPE, f"'consent.{channel}' must be true or false")
            consent[channel] = allowed
    timezone = _optional_id(data, "timezone")
    if timezone is not None and not _is_zone(timezone):
        raise InvalidEvent(INVALID_VALUE, f"'timezone' {timezone[:64]!r} is not an IANA time zone")
    attributes: dict[str, str | int | float | bool | None] = {}
    raw_attributes = data.get("attributes")
    if raw_attributes is not None:
        if not isinstance(raw_attributes, dict):
            raise InvalidEvent(
                WRONG_TYPE, f"'attributes' must be an object, got {_kind(raw_attributes)}"
            )
        if len(raw_attributes) > MAX_ATTRIBUTES:
            raise InvalidEvent(INVALID_VALUE, f"'attributes' has more than {MAX_ATTRIBUTES} keys")
        for key, value in raw_attributes.items():
            if len(key) > MAX_ATTRIBUTE_KEY or _CONTROL.search(key):
                raise InvalidEvent(
                    INVALID_VALUE,
                    f"attribute name {key[:32]!r} must be at most {MAX_ATTRIBUTE_KEY} "
                    "characters with no control characters",
                )
            if value is not None and not isinstance(value, str | int | float | bool):
                raise InvalidEvent(WRONG_TYPE, f"'attributes.{str(key)[:32]}' must be a scalar")
            if isinstance(value, str) and len(value) > MAX_TEXT_LENGTH:
                raise InvalidEvent(INVALID_VALUE, f"'attributes.{key[:32]}' is too long")
            attributes[key] = value
    erase = data.get("erase", False)
    if not isinstance(erase, bool):
        raise InvalidEvent(WRONG_TYPE, f"'erase' must be true or false, got {_kind(erase)}")
    return ProfileEvent(
        "profile", event_id, user_id, ts, data, consent, timezone, attributes, erase
    )


_DECODERS: Final[dict[str, Callable[[dict[str, Any], str, str, int], AnyEvent]]] = {
    "click": _decode_click,
    "search": _decode_search,
    "purchase": _decode_purchase,
    "profile": _decode_profile,
}
if set(_DECODERS) != set(EVENT_TYPES):  # a kind added to the registry needs its decoder
    raise RuntimeError(f"decoders {sorted(_DECODERS)} do not match EVENT_KINDS {EVENT_TYPES}")


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _required_str(data: dict[str, Any], field: str) -> str:
    if field not in data:
        raise InvalidEvent(MISSING_FIELD, f"'{field}' is required")
    value = data[field]
    if not isinstance(value, str):
        raise InvalidEvent(WRONG_TYPE, f"'{field}' must be a string, got {_kind(value)}")
    return value


def _required_id(data: dict[str, Any], field: str) -> str:
    value = _required_str(data, field)
    if not value or len(value) > MAX_ID_LENGTH:
        raise InvalidEvent(
            INVALID_VALUE, f"'{field}' must be 1..{MAX_ID_LENGTH} characters, got {len(value)}"
        )
    if _CONTROL.search(value):
        raise InvalidEvent(INVALID_VALUE, f"'{field}' must not contain control characters")
    return value


def _is_zone(name: str) -> bool:
    """A name the time-zone database holds. The pattern comes first: ZoneInfo reads files,
    and "America" (a directory) or 256 characters raise OSError, not a zone error.

    >>> _is_zone("Europe/Paris"), _is_zone("America"), _is_zone("../etc/passwd")
    (True, False, False)
    """
    if len(name) > 64 or not _ZONE_NAME.fullmatch(name):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _optional_id(data: dict[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent(WRONG_TYPE, f"'{field}' must be a string or null, got {_kind(value)}")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidEvent(INVALID_VALUE, f"'{field}' is longer than {MAX_ID_LENGTH} characters")
    return value


def _amount(value: object, field: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidEvent(WRONG_TYPE, f"'{field}' must be a number, got {_kind(value)}")
    amount = float(value)
    if not math.isfinite(amount) or amount < 0 or amount > 1e12:
        raise InvalidEvent(INVALID_VALUE, f"'{field}' must be between 0 and 1e12, got {value}")
    return amount


def _optional_amount(data: dict[str, Any], field: str) -> float | None:
    value = data.get(field)
    return None if value is None else _amount(value, field)
