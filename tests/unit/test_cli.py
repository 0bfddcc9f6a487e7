"""The commands a user meets first: simulate, then replay; twice gives the same bytes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.cli.main import main
from streams.core.outputs import OUTPUT_TOPICS


def test_simulate_then_replay_twice_gives_byte_identical_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "sim.jsonl.gz"
    assert (
        main(
            [
                "simulate",
                "--users",
                "120",
                "--days",
                "45",
                "--seed",
                "9",
                "--bad-rate",
                "0.01",
                "--out",
                str(log),
                "--quiet",
            ]
        )
        == 0
    )
    assert main(["replay", str(log), "--out", str(tmp_path / "one")]) == 0
    shown = capsys.readouterr().out
    for heading in ("Events by type", "Rejected by reason", "Segment populations", "events/s"):
        assert heading in shown
    assert main(["replay", str(log), "--out", str(tmp_path / "two"), "--quiet"]) == 0
    for topic in OUTPUT_TOPICS:
        one = (tmp_path / "one" / f"{topic}.jsonl").read_bytes()
        assert one == (tmp_path / "two" / f"{topic}.jsonl").read_bytes(), topic
    summary = orjson.loads((tmp_path / "one" / "summary.json").read_bytes())
    assert summary["records"] == summary["accepted"] + sum(summary["rejected_by_reason"].values())
    assert summary["outputs_by_topic"]["dead-letters"] == sum(
        summary["rejected_by_reason"].values()
    )
    assert summary["segment_populations"]["lifecycle"]
    assert (tmp_path / "one" / "segment-changes.jsonl").stat().st_size > 0
    # The campaign report as data, for a script: the same figures as the table.
    capsys.readouterr()
    assert main(["report", "campaigns", str(tmp_path / "one"), "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["campaigns"] and all("uplift" in row for row in report["campaigns"])
    assert report["outcomes"]


def test_a_bad_config_is_a_clear_message_and_a_non_zero_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "one.jsonl"
    log.write_text(
        '{"type":"search","event_id":"e","user_id":"u","ts":1767225600000,'
        '"query":"q","results":1}\n'
    )
    config = tmp_path / "bad.yaml"
    config.write_text('segments:\n  - name: vip\n    enter: "monetary >> 3"\n')
    assert main(["replay", str(log), "--out", str(tmp_path / "o"), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}:3" in err and "vip" in err and "what to do" in err


def test_a_missing_log_says_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert "pulse simulate" in capsys.readouterr().err


def test_topics_without_a_broker_says_how_to_give_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PULSE_BROKER", raising=False)
    assert main(["topics"]) == 2
    assert "--broker kafka://HOST:PORT" in capsys.readouterr().err


def test_exactly_once_on_the_embedded_broker_is_refused_before_it_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PULSE_BROKER", raising=False)
    monkeypatch.setenv("PULSE_PROCESSING_GUARANTEE", "exactly_once")
    assert main(["worker"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "needs transactions" in err and "--broker kafka://HOST:PORT" in err


def test_worker_settings_come_from_the_environment_and_options_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streams.cli.main import build_parser
    from streams.cli.worker_cmd import settings_from

    monkeypatch.setenv("PULSE_BROKER", "kafka://env:9092")
    monkeypatch.setenv("PULSE_METRICS_PORT", "9999")
    args = build_parser().parse_args(["worker", "--broker", "kafka://cli:9092"])
    settings = settings_from(args)
    assert settings.broker == "kafka://cli:9092" and settings.metrics_port == 9999


def test_a_byte_order_mark_opening_the_log_is_not_part_of_the_first_record(
    tmp_path: Path,
) -> None:
    line = (
        b'{"type":"search","event_id":"e1","user_id":"u1","ts":"2026-01-01T00:00:00Z",'
        b'"query":"shoes","results":3}'
    )
    log = tmp_path / "excel-export.jsonl"
    log.write_bytes(b"\xef\xbb\xbf" + line + b"\r\n")
    assert main(["replay", str(log), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    summary = orjson.loads((tmp_path / "out" / "summary.json").read_bytes())
    assert summary["accepted"] == 1 and summary["rejected_by_reason"] == {}


def test_a_directory_instead_of_a_log_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "is a directory" in " ".join(capsys.readouterr().err.split())  # rich wraps lines


def test_an_unreachable_broker_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "one.jsonl"
    log.write_bytes(b"{}\n")
    from streams.broker import free_port

    url = f"kafka://127.0.0.1:{free_port()}"  # nothing listens there
    assert main(["replay", str(log), "--broker", url, "--max"]) == 2
    assert "cannot reach the broker" in " ".join(capsys.readouterr().err.split())


def test_the_demo_view_shows_campaign_decisions_readably() -> None:
    import orjson
    from rich.console import Console

    from streams.cli.demo_cmd import View

    view = View()
    base = {"v": 1, "user_id": "u1", "ts": "2026-01-01T22:00:00.000Z", "campaign": "welcome"}
    view.take(
        "campaign-messages", orjson.dumps({**base, "type": "campaign_message", "channel": "push"})
    )
    view.take(
        "campaign-messages",
        orjson.dumps({**base, "type": "message_suppressed", "reason": "holdout"}),
    )
    stats = {"type": "campaign_stats", "campaign": "welcome", "user_id": None, "ts": base["ts"]}
    view.take("campaign-messages", orjson.dumps(stats))  # not a decision: not listed
    console = Console(width=120, record=True)
    console.print(view.render("demo"))
    text = console.export_text()
    assert "welcome: sent via push" in text and "welcome: suppressed: holdout" in text
    assert text.count("welcome:") == 2


def test_the_entry_point_keeps_blas_to_one_thread_before_numpy_loads() -> None:
    import os
    import subprocess
    import sys

    probe = (
        "import os, sys; import streams.cli.main; "
        "print(os.environ['OPENBLAS_NUM_THREADS'], 'numpy' in sys.modules)"
    )  # NumPy loads later, in the commands that need it: after the setting
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.split() == ["1", "False"]


def test_the_demo_view_fits_an_80_by_24_terminal_with_changes_and_decisions() -> None:
    import orjson
    from rich.console import Console

    from streams.cli.demo_cmd import View

    view = View()
    dimensions = {
        "lifecycle": ["new", "active", "dormant", "churned", "reactivated"],
        "value_tier": ["champions", "loyal", "promising", "low", "prospect"],
        "membership": ["basic", "silver", "gold"],
        "persona": ["browser", "bargain_hunter", "loyal_spender", "average"],
        "rule:frequent_buyers": ["in"],
    }
    for n in range(400):
        dimension = list(dimensions)[n % len(dimensions)]
        to = dimensions[dimension][n % len(dimensions[dimension])]
        change = {
            "type": "segment_change",
            "ts": "2026-01-01T10:00:00.000Z",
            "user_id": f"user-{n}",
        }
        view.take(
            "segment-changes",
            orjson.dumps({**change, "dimension": dimension, "from": None, "to": to}),
        )
        decision = {**change, "type": "campaign_message", "campaign": "welcome", "channel": "email"}
        view.take("campaign-messages", orjson.dumps(decision))
    console = Console(width=80, height=24, record=True)
    console.print(
        view.render("Pulse demo — broker kafka://127.0.0.1:9092, metrics on :9464", 24, 80)
    )
    lines = console.export_text().rstrip("\n").split("\n")
    assert len(lines) <= 24 and max(map(len, lines)) <= 80
    text = "\n".join(lines)
    assert "latest segment changes" in text and "latest campaign decisions" in text
    assert "user-399" in text and "welcome: sent via email" in text
    assert all(f"{dimension}:" in text for dimension in dimensions)
