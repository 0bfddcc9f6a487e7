"""`pulse convert`: CSVs with a mapping and Segment-spec exports become Pulse logs that
replay cleanly; what cannot be converted is written with its reason, never dropped."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from streams.cli.main import main
from streams.convert.result import unmapped_path

REES46 = """event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session
2019-10-01 00:00:05 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,s1
2019-10-01 00:00:01 UTC,view,3900821,2053013552326770905,appliances.water_heater,aqua,33.20,554748717,s2
2019-10-01 00:02:00 UTC,cart,3900821,2053013552326770905,appliances.water_heater,aqua,33.20,554748717,s2
2019-10-01 00:03:00 UTC,purchase,3900821,2053013552326770905,appliances.water_heater,aqua,33.20,554748717,s2
2019-10-01 00:04:00 UTC,refund,3900821,2053013552326770905,appliances.water_heater,aqua,33.20,554748717,s2
2019-10-01 00:05:00 UTC,view,1004,20530
"""

TAOBAO = "1,2268318,2520377,pv,1511544070\n1,2333346,2520771,buy,1511561733\n2,2576651,149192,fav,1511500000\n"


def lines_of(path: Path) -> list[dict[str, object]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        return [orjson.loads(line) for line in handle if line.strip()]


def test_a_rees46_csv_becomes_a_time_ordered_log_that_replays_without_a_dead_letter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "rees46.csv"
    source.write_text(REES46)
    out = tmp_path / "shop.jsonl.gz"
    assert (
        main(["convert", str(source), "--from", "csv", "--mapping", "rees46", "--out", str(out)])
        == 0
    )
    events = lines_of(out)
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)  # sorted by time
    assert [e["type"] for e in events] == ["click", "click", "click", "purchase"]
    order = events[-1]
    assert order["items"] == [
        {"item_id": "3900821", "category": "appliances.water_heater", "price": 33.2, "quantity": 1}
    ]
    assert order["total"] == 33.2 and order["currency"] == "USD"
    assert events[0]["category"] == "appliances.water_heater"  # category_code first
    rejected = lines_of(unmapped_path(out))
    assert sorted(r["reason"] for r in rejected) == ["bad_record", "unmapped"]
    assert any("'refund'" in str(r["detail"]) for r in rejected)
    capsys.readouterr()
    assert main(["replay", str(out), "--out", str(tmp_path / "replayed"), "--quiet"]) == 0
    summary = orjson.loads((tmp_path / "replayed" / "summary.json").read_bytes())
    assert summary["accepted"] == 4 and summary["rejected_by_reason"] == {}


def test_a_taobao_csv_without_header_or_prices_converts_in_time_order(tmp_path: Path) -> None:
    source = tmp_path / "taobao.csv"
    source.write_text(TAOBAO)
    out = tmp_path / "tb.jsonl"
    assert (
        main(["convert", str(source), "--from", "csv", "--mapping", "taobao", "--out", str(out)])
        == 0
    )
    events = lines_of(out)
    assert [(e["user_id"], e["type"]) for e in events] == [
        ("2", "click"),
        ("1", "click"),
        ("1", "purchase"),
    ]
    assert events[0]["action"] == "wishlist" and events[2]["total"] == 0.0
    assert events[2]["currency"] == "CNY" and events[1]["event_id"] == "tb-1"


def test_a_segment_export_becomes_events_segments_and_churn_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def call(n: int, **fields: object) -> dict[str, object]:
        return {
            "messageId": f"m{n}",
            "userId": "ana",
            "timestamp": f"2024-03-0{1 + n // 10}T1{n % 10}:00:00Z",
            **fields,
        }

    calls = [
        call(
            0,
            type="identify",
            traits={"email": "a@b.c", "consent": {"email": True}},
            context={"timezone": "Europe/Paris"},
        ),
        call(
            1,
            type="track",
            event="Product Viewed",
            properties={"product_id": "p1", "category": "shoes", "price": 40},
        ),
        call(2, type="track", event="Products Searched", properties={"query": "red shoes"}),
        call(3, type="track", event="Product Added", properties={"product_id": "p1", "price": 40}),
        call(
            4,
            type="track",
            event="Order Completed",
            properties={
                "order_id": "o1",
                "total": 80,
                "currency": "eur",
                "products": [{"product_id": "p1", "category": "shoes", "price": 40, "quantity": 2}],
            },
        ),
        call(5, type="page", name="Home"),
        call(6, type="track", event="Coupon Entered", properties={}),
        call(
            17,
            type="track",
            event="Order Completed",
            properties={"order_id": "o2", "products": [{"sku": "p2", "price": 10}]},
        ),
    ]
    source = tmp_path / "segment.jsonl"
    source.write_bytes(b"".join(orjson.dumps(c) + b"\n" for c in calls) + b"{not json\n")
    out = tmp_path / "segment-pulse.jsonl"
    assert main(["convert", str(source), "--from", "segment", "--out", str(out)]) == 0
    events = lines_of(out)
    assert [e["type"] for e in events] == [
        "profile",
        "click",
        "search",
        "click",
        "purchase",
        "purchase",
    ]
    profile = events[0]
    assert profile["timezone"] == "Europe/Paris" and profile["consent"] == {"email": True}
    assert "email" not in orjson.dumps(profile).decode().replace(
        '"consent":{"email"', ""
    )  # no traits
    assert "results" not in events[2]  # the spec has no result count: accepted without one
    assert events[4]["currency"] == "EUR" and events[4]["total"] == 80.0
    assert events[5]["total"] == 10.0 and events[5]["currency"] == "USD"  # summed; default
    reasons = sorted(str(r["reason"]) for r in lines_of(unmapped_path(out)))
    assert reasons == ["bad_record", "unmapped", "unmapped"]
    capsys.readouterr()
    replayed = tmp_path / "replayed"
    assert main(["replay", str(out), "--out", str(replayed), "--all-scores", "--quiet"]) == 0
    summary = orjson.loads((replayed / "summary.json").read_bytes())
    assert summary["rejected_by_reason"] == {} and summary["accepted"] == 6
    assert (replayed / "segment-changes.jsonl").read_bytes().count(b'"dimension":"lifecycle"') >= 1
    assert len((replayed / "churn-scores.jsonl").read_bytes().splitlines()) >= 2  # each order


def test_a_broken_mapping_or_a_missing_one_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "x.csv"
    source.write_text(REES46)
    assert main(["convert", str(source), "--from", "csv", "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "--mapping" in capsys.readouterr().err
    bad = tmp_path / "m.yaml"
    bad.write_text(
        "user_id: user_id\nts: event_time\ntype: event_type\nitem_id: product_id\ntypes: {view: {type: click, action: stare}}\n"
    )
    code = main(
        [
            "convert",
            str(source),
            "--from",
            "csv",
            "--mapping",
            str(bad),
            "--out",
            str(tmp_path / "o.jsonl"),
        ]
    )
    shown = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "types.view" in shown and "Traceback" not in shown


SNOWPLOW_ACTION = (
    "unstruct_event_com_snowplowanalytics_snowplow_ecommerce_snowplow_ecommerce_action_1"
)
SNOWPLOW_PRODUCT = "contexts_com_snowplowanalytics_snowplow_ecommerce_product_1"
SNOWPLOW_TRANSACTION = "contexts_com_snowplowanalytics_snowplow_ecommerce_transaction_1"


def snowplow_log() -> list[dict[str, object]]:
    """Enriched events as Snowplow's Analytics SDK writes them (one key per entity)."""

    def event(n: int, **fields: object) -> dict[str, object]:
        return {
            "app_id": "shop",
            "event_id": f"ev-{n}",
            "domain_userid": "cookie-1",
            "user_id": "ana",
            "collector_tstamp": f"2024-03-0{1 + n // 10}T1{n % 10}:00:00.500Z",
            "derived_tstamp": f"2024-03-0{1 + n // 10}T1{n % 10}:00:00.000Z",
            **fields,
        }

    shoe = {"id": "p1", "category": "shoes", "price": 40, "currency": "EUR", "quantity": 2}
    return [
        event(0, event="page_view", event_name="page_view"),
        event(
            1,
            event="unstruct",
            event_name="snowplow_ecommerce_action",
            **{SNOWPLOW_ACTION: {"type": "product_view"}, SNOWPLOW_PRODUCT: [shoe]},
        ),
        event(
            2,
            event="unstruct",
            event_name="site_search",
            unstruct_event_com_snowplowanalytics_snowplow_site_search_1={
                "terms": ["red", "shoes"],
                "totalResults": 12,
            },
        ),
        event(
            3,
            event="unstruct",
            event_name="snowplow_ecommerce_action",
            **{SNOWPLOW_ACTION: {"type": "add_to_cart"}, SNOWPLOW_PRODUCT: [shoe]},
        ),
        event(
            4,
            event="unstruct",
            event_name="snowplow_ecommerce_action",
            **{
                SNOWPLOW_ACTION: {"type": "transaction"},
                SNOWPLOW_PRODUCT: [shoe],
                SNOWPLOW_TRANSACTION: [
                    {"transaction_id": "o1", "revenue": 80, "currency": "EUR", "total_quantity": 2}
                ],
            },
        ),
        event(5, event="unstruct", **{SNOWPLOW_ACTION: {"type": "list_view"}}),
        event(
            17,
            event="unstruct",
            **{
                SNOWPLOW_ACTION: {"type": "transaction"},
                SNOWPLOW_PRODUCT: [{"id": "p2", "price": 10, "category": "socks"}],
            },
        ),
        event(18, event="unstruct", **{SNOWPLOW_ACTION: {"type": "add_to_cart"}}),
    ]


def test_a_snowplow_export_becomes_events_segments_and_churn_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "snowplow.jsonl"
    source.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in snowplow_log()))
    out = tmp_path / "snowplow-pulse.jsonl"
    assert main(["convert", str(source), "--from", "snowplow", "--out", str(out)]) == 0
    events = lines_of(out)
    assert [(e["type"], e.get("action")) for e in events] == [
        ("click", "view"),
        ("search", None),
        ("click", "add_to_cart"),
        ("purchase", None),
        ("purchase", None),
    ]
    assert events[1]["query"] == "red shoes" and events[1]["results"] == 12
    assert events[3]["order_id"] == "o1" and events[3]["total"] == 80.0
    assert events[3]["currency"] == "EUR" and events[3]["items"][0]["quantity"] == 2
    assert events[4]["total"] == 10.0 and events[4]["currency"] == "USD"  # summed; default
    assert {e["user_id"] for e in events} == {"ana"}  # user_id before domain_userid
    unmapped = lines_of(unmapped_path(out))
    assert sorted((str(u["reason"]), str(u["detail"])[:20]) for u in unmapped) == [
        ("bad_record", "add_to_cart without "),
        ("unmapped", "ecommerce action 'li"),
        ("unmapped", "page_view events hav"),
    ]
    capsys.readouterr()
    replayed = tmp_path / "replayed"
    assert main(["replay", str(out), "--out", str(replayed), "--all-scores", "--quiet"]) == 0
    summary = orjson.loads((replayed / "summary.json").read_bytes())
    assert summary["rejected_by_reason"] == {} and summary["accepted"] == 5
    assert (replayed / "segment-changes.jsonl").read_bytes().count(b'"dimension":"lifecycle"') >= 1
    assert len((replayed / "churn-scores.jsonl").read_bytes().splitlines()) >= 2  # each order


def test_input_formats_per_topic_and_their_errors() -> None:
    from streams.convert.formats import parse_formats, to_pulse
    from streams.core.errors import ConfigError, InvalidEvent

    topics = ("clicks", "searches", "purchases", "profiles")
    assert parse_formats("", topics) == dict.fromkeys(topics, "pulse")
    assert parse_formats("clicks=snowplow", topics)["clicks"] == "snowplow"
    assert parse_formats("clicks=snowplow", topics)["purchases"] == "pulse"
    for bad in ("segmnet", "orders=segment", "clicks=xml"):
        with pytest.raises(ConfigError, match="PULSE_INPUT_FORMAT"):
            parse_formats(bad, topics)
    page = orjson.dumps(snowplow_log()[0])
    with pytest.raises(InvalidEvent) as unmapped:
        to_pulse(page, "snowplow", "USD", 10_000)
    assert unmapped.value.reason == "unmapped"
    with pytest.raises(InvalidEvent) as big:
        to_pulse(page, "snowplow", "USD", 10)
    assert big.value.reason == "oversized"
    view = orjson.loads(to_pulse(orjson.dumps(snowplow_log()[1]), "snowplow", "USD", 10_000))
    assert (view["type"], view["action"], view["item_id"]) == ("click", "view", "p1")
