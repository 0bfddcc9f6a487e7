"""The input contract: every bad-input case gets its own reason; valid input is kept whole."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.errors import InvalidEvent
from streams.core.events import (
    ClickEvent,
    ProfileEvent,
    PurchaseEvent,
    SearchEvent,
    decode_event,
    validate_event,
)
from tests.helpers import T0, click, profile, purchase, raw, search


def reason_of(record: bytes | str, **kwargs: int) -> str:
    with pytest.raises(InvalidEvent) as info:
        decode_event(record, **kwargs)
    return info.value.reason


def test_valid_events_of_every_type_decode_to_their_schema() -> None:
    assert isinstance(decode_event(raw(click("u", T0))), ClickEvent)
    assert isinstance(decode_event(raw(search("u", T0, results=0))), SearchEvent)
    assert isinstance(decode_event(raw(purchase("u", T0, discount=5.0, coupon="X"))), PurchaseEvent)
    event = decode_event(
        raw(
            profile(
                "u",
                T0,
                consent={"email": True},
                timezone="Europe/Paris",
                attributes={"age_band": "25-34"},
            )
        )
    )
    assert isinstance(event, ProfileEvent)
    assert event.consent == {"email": True} and event.timezone == "Europe/Paris"


def test_timestamps_iso_with_offset_and_epoch_ms_are_the_same_instant() -> None:
    iso = decode_event(raw(click("u", "2026-01-01T01:00:00+01:00")))  # type: ignore[arg-type]
    epoch = decode_event(raw(click("u", T0)))
    assert iso.ts == epoch.ts == T0


def test_unknown_fields_are_kept_not_rejected() -> None:
    event = decode_event(raw(click("u", T0, utm_source="newsletter", nested={"a": 1})))
    assert event.payload["utm_source"] == "newsletter"
    assert event.payload["nested"] == {"a": 1}


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (b'{"type": "click", ', "malformed_json"),
        (b"", "malformed_json"),
        (b"\xff\xfe not utf8", "malformed_json"),
        (b"[1, 2]", "not_an_object"),
        (b'"just a string"', "not_an_object"),
        (raw({"event_id": "e", "user_id": "u", "ts": T0}), "missing_field"),
        (raw({k: v for k, v in click("u", T0).items() if k != "user_id"}), "missing_field"),
        (raw({k: v for k, v in click("u", T0).items() if k != "ts"}), "missing_field"),
        (raw({k: v for k, v in click("u", T0).items() if k != "item_id"}), "missing_field"),
        (raw({k: v for k, v in search("u", T0).items() if k != "query"}), "missing_field"),
        (raw({k: v for k, v in purchase("u", T0).items() if k != "items"}), "missing_field"),
        (raw({**click("u", T0), "user_id": 42}), "wrong_type"),
        (raw({**click("u", T0), "price": "10"}), "wrong_type"),
        (raw({**search("u", T0), "results": "3"}), "wrong_type"),
        (raw({**search("u", T0), "results": True}), "wrong_type"),
        (raw({**purchase("u", T0), "items": {"item_id": "x"}}), "wrong_type"),
        (
            raw({**purchase("u", T0), "items": [{"item_id": "x", "price": 1, "quantity": 1.5}]}),
            "wrong_type",
        ),
        (raw({**profile("u", T0), "consent": {"email": "yes"}}), "wrong_type"),
        (raw({**click("u", T0), "ts": True}), "wrong_type"),
        (raw({**click("u", T0), "type": "refund"}), "unknown_type"),
        (raw({**click("u", T0), "action": "hover"}), "invalid_value"),
        (raw({**click("u", T0), "price": -1}), "invalid_value"),
        (raw({**click("u", T0), "user_id": ""}), "invalid_value"),
        (raw({**click("u", T0), "ts": "yesterday"}), "invalid_value"),
        (raw({**click("u", T0), "ts": "2026-01-01T00:00:00"}), "invalid_value"),
        (raw({**search("u", T0), "results": -1}), "invalid_value"),
        (raw({**purchase("u", T0), "items": []}), "invalid_value"),
        (raw({**purchase("u", T0), "currency": "euro"}), "invalid_value"),
        (raw({**profile("u", T0), "timezone": "Mars/Olympus"}), "invalid_value"),
        # ZoneInfo raises IsADirectoryError / OSError on these: they must not escape.
        (raw({**profile("u", T0), "timezone": "America"}), "invalid_value"),
        (raw({**profile("u", T0), "timezone": "a" * 256}), "invalid_value"),
        (raw({**profile("u", T0), "timezone": "../../etc/passwd"}), "invalid_value"),
        # A NUL-prefixed id would reach the state table's bookkeeping keys.
        (raw({**click("u", T0), "user_id": "\x00pulse-model\x002\x00churn"}), "invalid_value"),
        (raw({**click("u", T0), "event_id": "e1\nforged"}), "invalid_value"),
        (raw({**profile("u", T0), "attributes": {"k" * 60_000: "v"}}), "invalid_value"),
        (raw({**profile("u", T0), "consent": {"fax": True}}), "invalid_value"),
        (raw({**click("u", T0), "ts": 1_767_225_600}), "absurd_timestamp"),  # epoch seconds
        (raw({**click("u", T0), "ts": 0}), "absurd_timestamp"),
        (raw({**click("u", T0), "ts": "2999-01-01T00:00:00Z"}), "absurd_timestamp"),
        (raw({**click("u", T0), "v": 2}), "unsupported_version"),
    ],
)
def test_each_bad_input_gets_a_specific_reason(record: bytes, reason: str) -> None:
    assert reason_of(record) == reason


def test_oversized_records_are_rejected_before_parsing() -> None:
    big = raw(click("u", T0, note="x" * 5000))
    assert reason_of(big, max_bytes=1024) == "oversized"


def test_epoch_seconds_get_a_hint_in_the_detail() -> None:
    with pytest.raises(InvalidEvent, match="epoch seconds"):
        decode_event(raw({**click("u", T0), "ts": 1_767_225_600}))


# -- properties ----------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_either_decode_or_raise_invalid_event(data: bytes) -> None:
    try:
        decode_event(data)
    except InvalidEvent as exc:
        assert exc.reason


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "type",
                "event_id",
                "user_id",
                "ts",
                "action",
                "item_id",
                "category",
                "price",
                "query",
                "results",
                "items",
                "total",
                "currency",
                "consent",
                "timezone",
                "erase",
            ]
        ),
        json_values,
        max_size=12,
    )
)
def test_arbitrary_objects_never_crash_the_validator(data: dict[str, object]) -> None:
    try:
        validate_event(data)
    except InvalidEvent as exc:
        assert exc.reason


@settings(max_examples=200, deadline=None)
@given(
    user=st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40),
    ts=st.integers(946_684_800_000, 4_102_444_799_999),
    price=st.one_of(st.none(), st.floats(0, 1e6)),
    action=st.sampled_from(["view", "add_to_cart", "remove_from_cart", "wishlist"]),
)
def test_valid_clicks_always_decode_with_their_values(
    user: str, ts: int, price: float | None, action: str
) -> None:
    event = decode_event(orjson.dumps(click(user, ts, action=action, price=price)))
    assert isinstance(event, ClickEvent)
    assert (event.user_id, event.ts, event.action, event.price) == (user, ts, action, price)


def test_one_registry_of_event_kinds_feeds_topics_config_rules_and_models() -> None:
    from streams.core.config import LifecycleConfig
    from streams.core.events import (
        _DECODERS,
        ACTIVITY_TYPES,
        BEHAVIOUR_KINDS,
        CLICK_ACTIONS,
        EVENT_KINDS,
        EVENT_TYPES,
    )
    from streams.core.feature_view import BEHAVIOUR, CLICKS
    from streams.core.models_config import KINDS
    from streams.core.topics import INPUT_TOPIC_BY_TYPE

    names = {kind.name for kind in EVENT_KINDS}
    assert set(EVENT_TYPES) == names == set(_DECODERS) == set(INPUT_TOPIC_BY_TYPE)
    assert {kind.topic for kind in EVENT_KINDS} == set(INPUT_TOPIC_BY_TYPE.values())
    assert LifecycleConfig().activity == ACTIVITY_TYPES and "profile" not in ACTIVITY_TYPES
    assert KINDS == BEHAVIOUR_KINDS and frozenset(BEHAVIOUR_KINDS) == BEHAVIOUR
    assert CLICKS == CLICK_ACTIONS and CLICK_ACTIONS <= BEHAVIOUR


def test_a_search_without_a_result_count_is_accepted_and_not_counted_as_empty() -> None:
    from streams.core.features import UserFeatures

    without = {k: v for k, v in search("u", T0).items() if k != "results"}
    features = UserFeatures()
    for record in (without, {**without, "results": None}, search("u", T0, results=0)):
        event = decode_event(raw(record))
        assert isinstance(event, SearchEvent)
        features.update(event)
    assert (features.searches, features.searches_counted, features.searches_no_results) == (3, 1, 1)
