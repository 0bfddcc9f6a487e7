"""Per-user features: sessions, carts, decayed windows, categories, bounded state."""

from __future__ import annotations

import math

from streams.core.events import decode_event
from streams.core.features import TOP_CATEGORIES, UserFeatures
from tests.helpers import DAY, MINUTE, T0, click, profile, purchase, raw, search


def feed(features: UserFeatures, *events: dict) -> UserFeatures:
    for event in events:
        features.update(decode_event(raw(event)))
    return features


def test_sessions_split_on_a_30_minute_gap() -> None:
    f = feed(
        UserFeatures(),
        click("u", T0),
        click("u", T0 + 29 * MINUTE),
        click("u", T0 + 59 * MINUTE),
        click("u", T0 + 90 * MINUTE),
    )
    assert f.sessions == 2  # 0, 29, 59 are one session (gaps < 30 min); 90 starts another


def test_cart_left_in_a_finished_session_counts_as_abandoned() -> None:
    f = feed(
        UserFeatures(), click("u", T0, action="add_to_cart"), click("u", T0 + 2 * 60 * MINUTE)
    )  # new session, previous cart not bought
    assert (f.cart_abandonments, f.sessions_with_cart, f.cart_open) == (1, 1, True)
    f = feed(
        UserFeatures(),
        click("u", T0, action="add_to_cart"),
        purchase("u", T0 + MINUTE),
        click("u", T0 + 2 * 60 * MINUTE),
    )
    assert (f.cart_abandonments, f.cart_open) == (0, False)


def test_decayed_windows_weigh_an_order_by_its_age() -> None:
    f = feed(UserFeatures(), purchase("u", T0, total=100.0))
    assert f.decayed(f.orders_30d, 1, T0 + 30 * DAY) == math.exp(-1) * 1.0
    assert math.isclose(f.decayed(f.monetary_90d, 2, T0 + 45 * DAY), 100 * math.exp(-0.5))
    feed(f, purchase("u", T0 + 30 * DAY, total=100.0))
    assert math.isclose(f.orders_30d, 1 + math.exp(-1))
    assert f.orders == 2 and f.monetary == 200.0


def test_a_late_purchase_is_added_with_the_weight_of_its_age() -> None:
    f = feed(UserFeatures(), purchase("u", T0 + 10 * DAY), purchase("u", T0))
    assert math.isclose(f.orders_7d, 1 + math.exp(-10 / 7))
    assert f.last_purchase == T0 + 10 * DAY and f.first_purchase == T0


def test_inter_purchase_gap_is_an_ewma_of_day_gaps() -> None:
    f = feed(
        UserFeatures(),
        purchase("u", T0),
        purchase("u", T0 + 10 * DAY),
        purchase("u", T0 + 30 * DAY),
    )
    assert math.isclose(f.ipt_days, 0.3 * 20 + 0.7 * 10)


def test_searches_without_results_and_discount_share() -> None:
    f = feed(
        UserFeatures(),
        search("u", T0, results=0),
        search("u", T0 + 1, results=5),
        purchase("u", T0 + 2, discount=5.0),
        purchase("u", T0 + 3),
    )
    assert (f.searches, f.searches_no_results) == (2, 1)
    assert (f.discounted_orders, f.discount_total) == (1, 5.0)


def test_top_categories_are_capped_and_keep_the_strongest() -> None:
    f = UserFeatures()
    for index in range(20):
        feed(f, click("u", T0 + index * MINUTE, category=f"c{index}"))
    feed(f, purchase("u", T0 + 30 * MINUTE, category="c3"))
    assert len(f.categories) == TOP_CATEGORIES
    assert f.top_category() == "c3"


def test_active_days_count_distinct_days() -> None:
    f = feed(
        UserFeatures(),
        click("u", T0),
        click("u", T0 + 1),
        click("u", T0 + DAY),
        click("u", T0 + 3 * DAY),
    )
    assert f.active_days == 3


def test_profile_updates_consent_without_counting_as_behaviour() -> None:
    f = feed(
        UserFeatures(),
        profile("u", T0, consent={"email": True, "sms": False}, timezone="Asia/Tokyo"),
        profile("u", T0 + 1, consent={"email": False}),
    )
    assert f.consent == {"email": False, "sms": False}
    assert (f.timezone, f.events, f.sessions) == ("Asia/Tokyo", 0, 0)


def test_round_trip_through_a_plain_dict_is_exact_and_does_not_alias() -> None:
    f = feed(
        UserFeatures(),
        click("u", T0, action="add_to_cart"),
        purchase("u", T0 + DAY),
        profile("u", T0, consent={"push": True}, attributes={"age_band": "25-34"}),
    )
    data = f.to_dict()
    copy = UserFeatures.from_dict(data)
    assert copy == f
    data["categories"]["x"] = 1.0
    assert "x" not in copy.categories and "x" not in f.categories
