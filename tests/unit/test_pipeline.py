"""The pipeline: nothing lost, every rejection explained, same input → same bytes."""

from __future__ import annotations

import random

import orjson

from streams.core.config import build_config
from streams.core.outputs import encode
from streams.core.pipeline import Pipeline
from tests.helpers import DAY, HOUR, MINUTE, T0, click, purchase, raw, search


def run(records: list[bytes], config: dict | None = None) -> tuple[Pipeline, list[dict]]:
    pipeline = Pipeline(build_config(config or {}, "test.yaml"))
    outputs = []
    for number, record in enumerate(records, start=1):
        outputs += [o.value for o in pipeline.process(record, {"file": "t", "line": number})]
    return pipeline, outputs


def test_every_record_is_either_accepted_or_dead_lettered_with_its_source() -> None:
    good = [raw(click("u1", T0 + n * MINUTE)) for n in range(5)]
    bad = [b"{nope", b"[]", raw({"type": "click"}), raw({**click("u1", T0), "ts": 5})]
    records = [good[0], bad[0], good[1], bad[1], good[2], bad[2], good[3], bad[3], good[4]]
    pipeline, outputs = run(records)
    dead = [o for o in outputs if o["type"] == "dead_letter"]
    assert sum(pipeline.stats.accepted.values()) == 5
    assert sum(pipeline.stats.rejected.values()) == len(dead) == 4
    assert [d["source"]["line"] for d in dead] == [2, 4, 6, 8]
    assert [d["payload"].encode() for d in dead] == bad
    assert {d["reason"] for d in dead} == {
        "malformed_json",
        "not_an_object",
        "missing_field",
        "absurd_timestamp",
    }


def test_duplicates_are_dead_lettered_and_the_original_counts_once() -> None:
    event = click("u1", T0)
    pipeline, outputs = run([raw(event), raw(event), raw({**event, "note": "retry"})])
    reasons = [o["reason"] for o in outputs if o["type"] == "dead_letter"]
    assert reasons == ["duplicate_event_id", "duplicate_event_id"]
    assert pipeline.stats.accepted["click"] == 1


def test_events_behind_the_watermark_are_too_late_within_lateness_they_are_fine() -> None:
    records = [
        raw(click("u1", T0 + 5 * HOUR)),
        raw(click("u2", T0 + 4 * HOUR + 1)),
        raw(click("u3", T0 + 3 * HOUR)),
    ]
    _, outputs = run(records, {"stream": {"partitions": 1, "allowed_lateness_minutes": 60}})
    dead = [o for o in outputs if o["type"] == "dead_letter"]
    assert [d["user_id"] for d in dead] == ["u3"] and dead[0]["reason"] == "too_late"
    assert "behind the watermark" in dead[0]["detail"]


def test_oversized_and_non_utf8_records_keep_their_original_bytes() -> None:
    big = raw(click("u1", T0, blob="x" * 600))
    binary = b"\x00\xff\xfe{"
    _, outputs = run([big, binary], {"stream": {"max_event_bytes": 256}})
    assert outputs[0]["reason"] == "oversized" and outputs[0]["payload"].encode() == big
    assert outputs[1]["reason"] == "malformed_json" and "payload_base64" in outputs[1]


def test_a_rule_failing_at_run_time_is_counted_and_the_stream_goes_on() -> None:
    # Passes the start-up checks (orders 0 and 3), divides by zero for a one-order user.
    config = {"segments": [{"name": "ratio", "enter": "views / (orders - 1) > 2"}]}
    records = [raw(purchase("u1", T0)), raw(click("u1", T0 + 1)), raw(click("u2", T0 + 2))]
    pipeline, _ = run(records, config)
    assert pipeline.stats.rule_errors == 2
    assert "division by zero" in pipeline.stats.last_rule_error
    assert "'ratio'" in pipeline.stats.last_rule_error
    assert sum(pipeline.stats.accepted.values()) == 3


def test_rule_segment_with_exit_rule_has_hysteresis() -> None:
    # The share of empty searches: 1, 1, .67, .5, .4, .33, .29, .25, .33, .4, .45, .5
    results = [0, 0, 5, 5, 5, 5, 5, 5, 0, 0, 0, 0]
    events = [raw(search("u", T0 + n, results=r)) for n, r in enumerate(results)]
    enter = "search_no_result_share >= 0.5"
    sticky = {"segments": [{"name": "s", "enter": enter, "exit": "search_no_result_share < 0.3"}]}
    plain = {"segments": [{"name": "s", "enter": enter}]}

    def moves(config: dict) -> list[tuple[int, str]]:
        outputs = run(events, config)[1]
        return [
            (int(o["cause_event_id"][1:]), o["to"])
            for o in outputs
            if o.get("dimension") == "rule:s"
        ]

    with_exit, without = moves(sticky), moves(plain)
    first = int(orjson.loads(events[0])["event_id"][1:])
    assert [(n - first, to) for n, to in with_exit] == [(0, "in"), (6, "out"), (11, "in")]
    assert [(n - first, to) for n, to in without] == [(0, "in"), (4, "out"), (11, "in")]


def simulated_records(seed: int, users: int = 60, days: int = 40) -> list[bytes]:
    rng = random.Random(seed)
    records = []
    for user in range(users):
        ts = T0 + rng.randrange(5 * DAY)
        for _ in range(rng.randrange(1, 30)):
            ts += rng.choice((MINUTE, HOUR, DAY, 12 * DAY))
            if ts > T0 + days * DAY:
                break
            kind = rng.random()
            event = (
                purchase(f"u{user}", ts, total=rng.uniform(5, 400))
                if kind < 0.15
                else search(f"u{user}", ts, results=rng.choice((0, 4)))
                if kind < 0.3
                else click(f"u{user}", ts, action=rng.choice(("view", "add_to_cart")))
            )
            records.append((ts, event["event_id"], raw(event)))
    return [record for _, _, record in sorted(records)]


def test_replaying_the_same_records_gives_the_same_bytes_and_unique_ids() -> None:
    records = simulated_records(3)
    first = [encode(o) for o in run(records)[1]]
    second = [encode(o) for o in run(records)[1]]
    assert first == second and len(first) > 100
    ids = [orjson.loads(line)["id"] for line in first]
    assert len(ids) == len(set(ids))


def test_partition_count_changes_timing_but_each_users_own_story_is_the_same_without_lateness_effects() -> (
    None
):
    records = simulated_records(5)
    _, one = run(records, {"stream": {"partitions": 1}})
    _, four = run(records, {"stream": {"partitions": 4}})

    def event_driven(outputs: list[dict]) -> list[bytes]:
        return sorted(
            encode(o)
            for o in outputs
            if o.get("dimension") in ("lifecycle", "membership") and o.get("cause_event_id")
        )

    assert event_driven(one) == event_driven(four)


def test_a_pipeline_rebuilt_from_stored_users_continues_exactly_like_an_uninterrupted_one() -> None:
    records = simulated_records(8, users=80, days=60)
    config = build_config({"stream": {"partitions": 2}}, "test.yaml")
    whole = Pipeline(config)
    expected = [encode(o.value) for r in records for o in whole.process(r, {})]
    first = Pipeline(config)
    half = len(records) // 2
    got = [encode(o.value) for r in records[:half] for o in first.process(r, {})]
    # A "restart": a fresh pipeline whose users come from the first one's stores.
    second = Pipeline(config)
    for old, new in zip(first.partitions, second.partitions, strict=True):
        for state in old.store.values():
            new.store.put(state)
        new.rebuild(new.store.values())
    got += [encode(o.value) for r in records[half:] for o in second.process(r, {})]
    assert got == expected
    assert second.populations() == whole.populations()


def test_a_wholesale_order_of_2000_lines_is_accepted_whole() -> None:
    items = [
        {"item_id": f"sku-{n}", "category": f"c{n % 30}", "price": 1.25, "quantity": 12}
        for n in range(2000)
    ]
    order = purchase("shop-42", T0, items=items, total=30_000.0)
    config = {"models": {"churn": {"enabled": True}}}
    pipeline, outputs = run([raw(order), raw(click("other", T0 + HOUR))], config)
    assert pipeline.stats.accepted["purchase"] == 1 and not pipeline.stats.rejected
    state = pipeline.partition_of("shop-42").store.get("shop-42")
    assert state is not None and state.features.orders == 1
    assert state.features.monetary == 30_000.0  # the total counts every line
    assert len(state.features.categories) <= 30
    assert any(o["type"] == "segment_change" and o["user_id"] == "shop-42" for o in outputs)


def test_records_from_the_1990s_are_accepted_and_epoch_seconds_are_not() -> None:
    old = click("u", "1997-03-04T10:00:00Z")  # type: ignore[arg-type]
    seconds = {**click("u", T0), "ts": 857_469_600}  # 1997 in epoch seconds
    pipeline, outputs = run([raw(old), raw(seconds)])
    assert pipeline.stats.accepted["click"] == 1
    dead = [o for o in outputs if o["type"] == "dead_letter"]
    assert [d["reason"] for d in dead] == ["absurd_timestamp"]
    assert "epoch seconds" in dead[0]["detail"]


def test_an_event_years_ahead_of_its_partition_is_refused_not_allowed_to_stall_it() -> None:
    typo = click("u", T0 + 40 * 365 * DAY)  # 2066 for 2026
    pipeline, outputs = run(
        [raw(click("u", T0)), raw(typo), raw(click("u", T0 + MINUTE))],
        {"stream": {"partitions": 1}},
    )
    assert [o["reason"] for o in outputs if o["type"] == "dead_letter"] == ["absurd_timestamp"]
    assert pipeline.stats.accepted["click"] == 2  # the next event is not `too_late`


def test_the_floor_is_configuration() -> None:
    config = {"stream": {"earliest_event_time": "2000-01-01T00:00:00Z"}}
    _, outputs = run([raw(click("u", "1999-12-31T23:00:00Z"))], config)  # type: ignore[arg-type]
    assert outputs[0]["reason"] == "absurd_timestamp" and "2000-01-01" in outputs[0]["detail"]


def test_a_dead_letter_of_a_huge_record_stays_small_and_keeps_length_and_hash() -> None:
    huge = raw(click("u", T0, note="\x01" * 600_000))
    _, outputs = run([huge])
    letter = outputs[0]
    assert letter["reason"] == "oversized" and letter["payload_truncated"] is True
    assert letter["payload_bytes"] == len(huge) and len(letter["payload_blake2b"]) == 32
    assert len(encode(letter)) < 200_000


def test_dead_letters_can_leave_the_rejected_bytes_out() -> None:
    secret = raw({**click("u", T0), "price": "not a number", "email": "a@example.com"})
    too_late = raw(click("w", T0 - 10 * 3_600_000))  # same user: same partition clock
    config = {"stream": {"dead_letter_payload": "redact"}}
    _, outputs = run([raw(click("w", T0)), secret, too_late], config)  # type: ignore[arg-type]
    letters = [o for o in outputs if o["type"] == "dead_letter"]
    assert [o["reason"] for o in letters] == ["wrong_type", "too_late"]
    for letter in letters:
        assert "payload" not in letter and letter["payload_redacted"] is True
        assert b"example.com" not in encode(letter)


def test_a_100k_line_order_and_a_50_mb_line_are_dead_letters_and_the_log_goes_on() -> None:
    lines = [{"item_id": f"i{n}", "price": 1.0, "quantity": 1} for n in range(100_000)]
    wide = raw({**purchase("u", T0), "items": lines, "total": 100_000.0})
    within = raw({**purchase("u", T0 + 1), "items": lines[:10_001], "total": 10_001.0})
    huge = b'{"type":"click","pad":"' + b"x" * 50_000_000 + b'"}'
    config = {"stream": {"max_event_bytes": 4_000_000}}  # let the 10,001 lines be parsed
    pipeline, outputs = run([wide, within, huge, raw(click("u", T0 + 2))], config)
    letters = [o for o in outputs if o["type"] == "dead_letter"]
    assert [o["reason"] for o in letters] == ["oversized", "invalid_value", "oversized"]
    assert "more than 10000 lines" in letters[1]["detail"]
    assert all(len(encode(o)) < 64 * 1024 for o in letters)
    assert pipeline.stats.accepted["click"] == 1  # the next record is processed as usual


def test_users_land_on_the_partition_kafkas_default_partitioner_picks() -> None:
    """The in-process split equals what Java clients and aiokafka do for a keyed record
    (murmur2); a user's state lives where their events arrive."""
    from aiokafka.partitioner import DefaultPartitioner

    from streams.core.ids import partition_for

    keys = ["u1", "user-42", "ä-üser", "0", "x" * 200, *(f"u{n:06d}" for n in range(2000))]
    for partitions in (1, 4, 12, 48):
        every = list(range(partitions))
        for key in keys:
            expected = DefaultPartitioner()(key.encode("utf-8"), every, every)
            assert partition_for(key, partitions) == expected, (key, partitions)
