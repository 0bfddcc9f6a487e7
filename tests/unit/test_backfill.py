"""Backfill: history builds state and models without messaging anyone; a replay of the
rest from the saved state ends in the same segments as one replay of the whole log."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from streams.cli.main import main
from streams.core.timefmt import format_ts, parse_ts
from streams.simulator.generator import SimulationSpec, simulate
from streams.snapshot import SnapshotError

START = parse_ts("2026-02-02T00:00:00Z")
SPLIT = START + 20 * 86_400_000


def write_log(path: Path, events: list[dict]) -> Path:
    with gzip.open(path, "wb") as out:
        for event in events:
            out.write(orjson.dumps(event) + b"\n")
    return path


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("backfill")
    # In time order, so the split by time is also a split by position.
    events = sorted(
        simulate(SimulationSpec(150, 40, 12, START))[0], key=lambda e: parse_ts(e["ts"])
    )
    history = [e for e in events if parse_ts(e["ts"]) < SPLIT]
    rest = [e for e in events if parse_ts(e["ts"]) >= SPLIT]
    assert history and rest
    return (
        write_log(folder / "whole.jsonl.gz", events),
        write_log(folder / "history.jsonl.gz", history),
        write_log(folder / "rest.jsonl.gz", rest),
    )


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def segments(out: Path) -> dict[tuple[str, str], str]:
    """Each user's latest value per segment dimension."""
    latest: dict[tuple[str, str], str] = {}
    for change in lines(out / "segment-changes.jsonl"):
        latest[(change["user_id"], change["dimension"])] = change["to"]
    return latest


def test_backfill_then_replay_of_the_rest_ends_in_the_same_segments(
    logs: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    whole, history, rest = logs
    # The history ends with its last event: `pulse backfill` mutes what was triggered
    # before that, as --backfill-until does for one replay of the whole log.
    with gzip.open(history) as source:
        split = format_ts(max(parse_ts(orjson.loads(line)["ts"]) for line in source) + 1)
    one = tmp_path / "one"
    # --send-expired: decide messages in the log's own time (2026-02), as a live worker did.
    replay = ["--quiet", "--send-expired"]
    assert main(["replay", str(whole), "--out", str(one), *replay, "--backfill-until", split]) == 0
    loaded, resumed = tmp_path / "backfill", tmp_path / "resumed"
    assert main(["backfill", str(history), "--out", str(loaded), "--quiet"]) == 0
    state = loaded / "state.jsonl.gz"
    assert main(["replay", str(rest), "--out", str(resumed), *replay, "--state", str(state)]) == 0
    # Nothing was decided for the history: no message, suppression or deferral.
    assert lines(loaded / "campaign-messages.jsonl") == []
    backfilled = lines(loaded / "segment-changes.jsonl")
    assert backfilled and all(change["backfill"] is True for change in backfilled)
    after = lines(resumed / "segment-changes.jsonl")
    # Time-driven moves due within the history but noticed after it are flagged too.
    end = parse_ts(split)
    assert after and all(("backfill" in c) == (parse_ts(c["ts"]) < end) for c in after)
    combined = {**segments(loaded), **segments(resumed)}
    assert combined == segments(one)
    # The same decisions on the rest as a whole-log replay that backfilled up to the split.
    ids = lambda out: sorted(m["id"] for m in lines(out / "campaign-messages.jsonl"))  # noqa: E731
    assert ids(resumed) and ids(resumed) == ids(one)
    summary = orjson.loads((loaded / "summary.json").read_bytes())
    assert summary["backfill"]["campaign_candidates_skipped"] > 0


def test_a_snapshot_from_another_partition_count_is_refused(
    logs: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, history, rest = logs
    assert main(["backfill", str(history), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    config = tmp_path / "eight.yaml"
    config.write_text("stream:\n  partitions: 8\n")
    from streams.config_loader import load_config
    from streams.replay import replay_to_dir

    with pytest.raises(SnapshotError, match="partitions"):
        replay_to_dir(
            rest, tmp_path / "r", load_config(config), resume=tmp_path / "b" / "state.jsonl.gz"
        )
    (tmp_path / "junk.gz").write_bytes(b"not gzip")
    code = main(
        [
            "replay",
            str(rest),
            "--out",
            str(tmp_path / "r2"),
            "--quiet",
            "--state",
            str(tmp_path / "junk.gz"),
        ]
    )
    assert code != 0


def test_replaying_an_old_log_messages_nobody_unless_asked(
    logs: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    whole = logs[0]
    assert main(["replay", str(whole), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    decided = [
        m
        for m in lines(tmp_path / "a" / "campaign-messages.jsonl")
        if m["type"] != "campaign_stats"
    ]
    assert decided and not any(m["type"] == "campaign_message" for m in decided)
    assert any("already expired when this replay ran" in m.get("detail", "") for m in decided)
    assert (
        main(["replay", str(whole), "--out", str(tmp_path / "b"), "--quiet", "--send-expired"]) == 0
    )
    sent = [
        m
        for m in lines(tmp_path / "b" / "campaign-messages.jsonl")
        if m["type"] == "campaign_message"
    ]
    assert sent
