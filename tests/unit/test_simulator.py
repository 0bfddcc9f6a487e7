"""The simulator: seeded, time-ordered, valid, with ground truth that matches the log."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import orjson

from streams.core.events import PurchaseEvent, decode_event
from streams.core.timefmt import parse_ts
from streams.simulator.generator import SimulationSpec
from streams.simulator.personas import PERSONA_NAMES
from streams.simulator.writer import truth_path, write_simulation

SPEC = SimulationSpec(users=150, days=60, seed=3, start_ms=parse_ts("2026-01-05T00:00:00Z"))


def lines(path: Path) -> list[bytes]:
    return gzip.open(path).read().splitlines()


def test_same_seed_same_bytes_other_seed_other_log(tmp_path: Path) -> None:
    write_simulation(tmp_path / "a.jsonl.gz", SPEC)
    write_simulation(tmp_path / "b.jsonl.gz", SPEC)
    write_simulation(tmp_path / "c.jsonl.gz", SimulationSpec(150, 60, 4, SPEC.start_ms))
    a, b, c = (lines(tmp_path / f"{n}.jsonl.gz") for n in "abc")
    assert a == b and a != c


def test_events_are_valid_time_ordered_and_cover_every_type(tmp_path: Path) -> None:
    path = tmp_path / "sim.jsonl.gz"
    counts = write_simulation(path, SPEC)
    events = [decode_event(line) for line in lines(path)]
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    assert set(counts) == {"click", "search", "purchase", "profile"}
    actions = Counter(e.action for e in events if e.type == "click")  # type: ignore[union-attr]
    assert {"view", "add_to_cart", "remove_from_cart", "wishlist"} <= set(actions)
    assert any(e.type == "search" and e.results == 0 for e in events)  # type: ignore[union-attr]
    assert any(e.type == "purchase" and e.discount > 0 for e in events)  # type: ignore[union-attr]


def test_ground_truth_lists_every_user_and_churners_stop_at_their_churn_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sim.jsonl.gz"
    write_simulation(path, SPEC)
    truth = [orjson.loads(line) for line in truth_path(path).read_bytes().splitlines()]
    assert len(truth) == SPEC.users
    assert {t["persona"] for t in truth} == set(PERSONA_NAMES)
    last_seen: dict[str, int] = {}
    buyers: set[str] = set()
    for event in map(decode_event, lines(path)):
        if event.type != "profile":
            last_seen[event.user_id] = event.ts
        if event.type == "purchase":
            buyers.add(event.user_id)
    for user in truth:
        if user["churn_ts"] is not None and user["user_id"] in last_seen:
            assert last_seen[user["user_id"]] <= parse_ts(user["churn_ts"]) + 3_600_000
        if user["persona"] == "browser":
            assert user["user_id"] not in buyers


def test_bad_rate_injects_bad_records_of_known_kinds(tmp_path: Path) -> None:
    counts = write_simulation(tmp_path / "noisy.jsonl.gz", SPEC, bad_rate=0.05)
    assert sum(v for k, v in counts.items() if k.startswith("bad:")) > 50


def test_the_retail_profile_looks_like_a_real_shops_purchase_log(tmp_path: Path) -> None:
    from streams.simulator.retail import RetailSpec, closed

    spec = RetailSpec(customers=600, days=700, seed=2, start_ms=parse_ts("1997-01-01T00:00:00Z"))
    path = tmp_path / "retail.jsonl"
    write_simulation(path, spec)
    again = tmp_path / "again.jsonl"
    write_simulation(again, spec)
    assert path.read_bytes() == again.read_bytes()  # seeded
    events = [decode_event(line) for line in path.read_bytes().splitlines()]
    orders = Counter(event.user_id for event in events)
    widths = [len(event.items) for event in events if isinstance(event, PurchaseEvent)]
    assert sum(1 for n in orders.values() if n == 1) / len(orders) > 0.4  # one-off buyers
    assert max(orders.values()) > 20 * (len(events) / len(orders))  # heavy buyers exist
    assert max(widths) >= 1000 and sorted(widths)[len(widths) // 2] <= 3  # wholesale tail
    assert not any(closed(event.ts) for event in events)  # the holiday closure is a gap
    assert min(event.ts for event in events) < parse_ts("1997-03-01T00:00:00Z")
