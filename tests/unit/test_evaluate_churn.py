"""Churn labels come from the log itself, in event time, and nothing is scored twice."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.cli.main import main
from streams.evaluation.churn import evaluate, summary

DAY = 86_400_000


def purchase(user: str, day: float, n: int) -> bytes:
    return orjson.dumps(
        {
            "type": "purchase",
            "event_id": f"{user}-{n}",
            "user_id": user,
            "ts": int(1_767_225_600_000 + day * DAY),
            "order_id": f"o-{user}-{n}",
            "items": [{"item_id": "i", "category": "c", "price": 10.0, "quantity": 1}],
            "total": 10.0,
            "currency": "EUR",
        }
    )


def view(user: str, day: float) -> bytes:
    return orjson.dumps(
        {
            "type": "click",
            "event_id": f"v-{user}-{day}",
            "user_id": user,
            "ts": int(1_767_225_600_000 + day * DAY),
            "action": "view",
            "item_id": "i",
            "category": "c",
            "price": 1.0,
        }
    )


def test_labels_come_from_the_next_purchase_or_the_watermark() -> None:
    log = [
        purchase("loyal", 0, 1),
        purchase("gone", 1, 1),
        purchase("loyal", 5, 2),  # within 10 days: loyal's first point resolves to 0
        view("other", 30),  # event time passes day 11: gone's point resolves to 1,
        #                     loyal's second point (day 5 + 10) too
        purchase("late", 29, 1),  # the log ends before day 39: unresolved
        b"{not json",
    ]
    result = evaluate(log, horizon_days=10, warmup_days=0)
    labels = sorted(row[0] for row in result.resolved)
    assert labels == [False, True, True]
    assert result.points == 4 and result.unresolved == 1 and result.invalid == 1


def test_points_in_the_warm_up_are_learned_from_but_not_scored() -> None:
    log = [purchase("a", 0, 1), purchase("b", 20, 1), view("c", 60)]
    result = evaluate(log, horizon_days=10, warmup_days=15)
    assert [row[0] for row in result.resolved] == [True]  # only b's point counts
    figures = summary(result)
    assert figures["scored_after_warmup"] == 1 and figures["churn_rate"] == 1.0


def test_the_command_prints_model_and_heuristic_and_writes_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [purchase(f"u{i % 7}", i * 3.0, i) for i in range(40)] + [view("x", 400)]
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    scores = tmp_path / "scores.jsonl"
    code = main(
        [
            "evaluate",
            "churn",
            str(log),
            "--horizon-days",
            "10",
            "--warmup-days",
            "0",
            "--scores-out",
            str(scores),
        ]
    )
    assert code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Pulse churn score" in out and "count heuristic" in out and "BG/NBD" in out
    rows = [orjson.loads(line) for line in scores.read_bytes().splitlines()]
    assert len(rows) == 40 and set(rows[0]) == {"event_id", "user_id", "ts", "score"}
    assert all(0.0 <= row["score"] <= 1.0 for row in rows)


def test_a_basket_split_into_several_purchases_is_one_point() -> None:
    log = [purchase("a", 0, 1), purchase("a", 0, 2), purchase("a", 0, 3), view("x", 30)]
    result = evaluate(log, horizon_days=10, warmup_days=0)
    assert result.points == 1
    assert [row[0] for row in result.resolved] == [True]  # no "bought again" label


def test_truth_option_scores_against_the_simulators_churn_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # u0..u5 buy every 3 days; u6 buys once and truly churns right after.
    lines = [purchase(f"u{i % 6}", i * 3.0, i) for i in range(36)]
    lines += [purchase("u6", 1.0, 99), view("x", 400)]
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    truth = tmp_path / "truth.jsonl"
    rows = [{"user_id": f"u{i}", "churn_ts": None} for i in range(6)]
    rows.append({"user_id": "u6", "churn_ts": "1970-01-03T00:00:00Z"})
    truth.write_bytes(b"\n".join(orjson.dumps(row) for row in rows) + b"\n")
    args = ["evaluate", "churn", str(log), "--horizon-days", "10", "--warmup-days", "0"]
    assert main([*args, "--truth", str(truth)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "against the simulator's truth (1 of 37 points" in out
