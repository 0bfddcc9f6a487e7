"""Lifecycle on event time: dormancy fires when *event time* passes the threshold."""

from __future__ import annotations

from streams.core.config import build_config
from streams.core.outputs import encode
from streams.core.pipeline import Pipeline
from tests.helpers import DAY, HOUR, T0, click, profile, raw


def run(events: list[dict], partitions: int = 1, **stream: int) -> tuple[Pipeline, list[dict]]:
    config = build_config({"stream": {"partitions": partitions, **stream}}, "test.yaml")
    pipeline = Pipeline(config)
    outputs: list[dict] = []
    for number, event in enumerate(events):
        outputs += [o.value for o in pipeline.process(raw(event), {"line": number})]
    return pipeline, outputs


def lifecycle_of(outputs: list[dict], user: str) -> list[tuple[str | None, str, str]]:
    return [
        (o["from"], o["to"], o["ts"])
        for o in outputs
        if o.get("dimension") == "lifecycle" and o["user_id"] == user
    ]


def test_dormancy_fires_from_other_users_events_without_the_user_coming_back() -> None:
    # alice is active once; bob's later events move event time on. alice never returns.
    events = [click("alice", T0)] + [click("bob", T0 + day * DAY) for day in range(1, 40)]
    _, outputs = run(events)
    assert lifecycle_of(outputs, "alice") == [
        (None, "new", "2026-01-01T00:00:00.000Z"),
        ("new", "active", "2026-01-15T00:00:00.000Z"),
        ("active", "dormant", "2026-01-31T00:00:00.000Z"),
    ]


def test_a_change_fires_only_once_the_watermark_passes_its_due_time() -> None:
    # Dormancy is due at T0+30d; with 60 min lateness it fires when the clock reaches +60 min.
    base = [click("alice", T0), click("bob", T0 + 29 * DAY)]
    _, before = run([*base, click("bob", T0 + 30 * DAY + 59 * 60_000)])
    _, after = run([*base, click("bob", T0 + 30 * DAY + HOUR)])
    assert ("active", "dormant", "2026-01-31T00:00:00.000Z") not in lifecycle_of(before, "alice")
    assert ("active", "dormant", "2026-01-31T00:00:00.000Z") in lifecycle_of(after, "alice")


def test_profile_events_move_event_time_but_are_not_activity() -> None:
    events = [click("alice", T0), profile("alice", T0 + 35 * DAY, consent={"email": True})]
    _, outputs = run(events)
    assert lifecycle_of(outputs, "alice")[-1][1] == "dormant"


def test_a_returning_user_is_reactivated_then_active_again() -> None:
    events = [click("alice", T0), click("alice", T0 + 100 * DAY), click("alice", T0 + 115 * DAY)]
    _, outputs = run(events)
    assert [to for _, to, _ in lifecycle_of(outputs, "alice")] == [
        "new",
        "active",
        "dormant",
        "churned",
        "reactivated",
        "active",
    ]


def test_the_users_own_event_catches_up_missed_changes_with_their_due_times() -> None:
    # No other traffic: alice's return proves time passed; changes carry their due time.
    _, outputs = run([click("alice", T0), click("alice", T0 + 40 * DAY)])
    assert lifecycle_of(outputs, "alice")[2] == ("active", "dormant", "2026-01-31T00:00:00.000Z")


def test_state_expires_after_its_ttl_and_the_user_comes_back_as_reactivated() -> None:
    events = [
        click("alice", T0),
        click("bob", T0 + 10 * DAY),
        click("bob", T0 + 400 * DAY),
        click("alice", T0 + 401 * DAY),
    ]
    pipeline, outputs = run(events, state_ttl_days=200)
    alice = [to for _, to, _ in lifecycle_of(outputs, "alice")]
    assert alice == ["new", "active", "dormant", "churned", "expired", "reactivated"]
    assert pipeline.stats.users_expired == 2  # alice, then bob (200 days after his T0+10d)


def test_time_driven_outputs_do_not_depend_on_how_time_was_noticed() -> None:
    # Same user history, with and without other users' traffic moving the watermark.
    alone = [click("alice", T0), click("alice", T0 + 50 * DAY)]
    crowded = (
        [click("alice", T0)]
        + [click("bob", T0 + d * DAY) for d in range(1, 50)]
        + [click("alice", T0 + 50 * DAY, event_id=alone[1]["event_id"])]
    )
    crowded[0] = alone[0]
    _, a = run(alone)
    _, c = run(crowded)
    # Profiles are a view written whenever it moves, so how often depends on when time
    # was noticed; every other output, and the view after alice's event, do not.
    pick = lambda outs: [  # noqa: E731
        encode(o) for o in outs if o["user_id"] == "alice" and o["type"] != "user_profile"
    ]
    assert pick(a) == pick(c)
    last_view = lambda outs: [o for o in outs if o["type"] == "user_profile"][-1]  # noqa: E731
    assert encode(last_view(a)) == encode(last_view(c))
