"""Churn labels come from the log itself, in event time, and nothing is scored twice."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.cli.main import main
from streams.evaluation.churn import evaluate, summary
from streams.simulator.retail import RetailSpec
from streams.simulator.writer import write_simulation

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


def test_a_point_is_counted_only_once_its_label_is_final() -> None:
    # a buys once at day 0; the log ends at day 12: a's point (0 + 10 <= 12) is final
    # and churned; a's rescoring at day 6.7 and b's purchase at day 11 are not final yet.
    log = [purchase("a", 0, 1), purchase("b", 11, 1), view("x", 12)]
    figures = summary(evaluate(log, horizon_days=10, warmup_days=0))
    assert figures["final_labels"] == 1 and figures["churn_rate"] == 1.0
    assert figures["prediction_points"] == 3 and figures["rescored_points"] == 1


def test_a_return_within_h_is_a_final_not_churned_label_at_t_plus_h() -> None:
    log = [purchase("a", 0, 1), purchase("a", 4, 2), view("x", 10.5)]
    figures = summary(evaluate(log, horizon_days=10, warmup_days=0))
    assert figures["final_labels"] == 1 and figures["churn_rate"] == 0.0


def test_points_in_the_warm_up_are_learned_from_but_not_counted() -> None:
    log = [purchase("a", 0, 1), purchase("b", 20, 1), view("c", 31)]
    figures = summary(evaluate(log, horizon_days=10, warmup_days=15))
    assert figures["final_labels"] == 1 and figures["churn_rate"] == 1.0  # b's point only


def test_a_log_too_short_for_warm_up_and_horizon_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "short.jsonl"
    log.write_bytes(b"\n".join([purchase("a", 0, 1), view("x", 20)]) + b"\n")
    code = main(["evaluate", "churn", str(log), "--horizon-days", "90", "--warmup-days", "30"])
    err = " ".join(capsys.readouterr().err.split())
    assert code != 0
    assert "spans 20.0 days" in err and "need 120" in err and "nan" not in err


def test_a_mostly_rejected_log_is_an_error_not_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "bad.jsonl"
    log.write_bytes(b"\n".join([b"{not json"] * 5 + [purchase("a", 0, 1)]) + b"\n")
    assert main(["evaluate", "churn", str(log), "--horizon-days", "1"]) != 0
    assert "5 of 6 records were rejected" in " ".join(capsys.readouterr().err.split())


def test_a_1997_purchase_log_is_evaluated_with_every_point_scored(tmp_path: Path) -> None:
    spec = RetailSpec(customers=300, days=400, seed=5, start_ms=852_076_800_000)  # 1997-01-01
    log = tmp_path / "cdnow-like.jsonl"
    write_simulation(log, spec)
    lines = log.read_bytes().splitlines()
    result = evaluate(lines, horizon_days=60, warmup_days=100, keep_scores=True)
    figures = summary(result)
    baskets = {(orjson.loads(line)["user_id"], orjson.loads(line)["ts"]) for line in lines}
    assert result.rejected == 0 and figures["scored_from"].startswith("1997-04")
    assert figures["prediction_points"] == len(baskets) + figures["rescored_points"]
    assert figures["final_labels"] > 100 and figures["roc_auc"] > 0.6
    assert all(0.0 < point.score < 1.0 for point in result.scores)
    assert set(figures["inputs"]) == {"bg_nbd", "bg_nbd_calibrated", "regression", "stacked"}


def test_the_command_prints_the_score_its_inputs_and_a_baseline_and_writes_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [purchase(f"u{i % 7}", i * 3.0, i) for i in range(40)] + [view("x", 400)]
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    scores = tmp_path / "scores.jsonl"
    args = ["evaluate", "churn", str(log), "--horizon-days", "10", "--warmup-days", "0"]
    assert main([*args, "--scores-out", str(scores)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Pulse churn score" in out and "input: BG/NBD" in out and "1/(1+orders)" in out
    assert "Calibration by month" in out
    rows = [orjson.loads(line) for line in scores.read_bytes().splitlines()]
    assert len(rows) >= 40 and set(rows[0]) == {"cause", "user_id", "ts", "score", "inputs"}
    assert all(0.0 < row["score"] < 1.0 for row in rows)
    assert main([*args, "--json"]) == 0
    figures = orjson.loads(capsys.readouterr().out)
    assert figures["final_labels"] > 0 and "baselines" in figures


def test_a_basket_split_into_several_purchases_is_one_point() -> None:
    log = [purchase("a", 0, 1), purchase("a", 0, 2), purchase("a", 0, 3), view("x", 30)]
    figures = summary(evaluate(log, horizon_days=10, warmup_days=0))
    assert figures["prediction_points"] == 1 + figures["rescored_points"]
    assert figures["churn_rate"] == 1.0  # no "bought again" label from its own lines


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
    rows.append({"user_id": "u6", "churn_ts": "2026-01-03T00:00:00Z"})
    truth.write_bytes(b"\n".join(orjson.dumps(row) for row in rows) + b"\n")
    args = ["evaluate", "churn", str(log), "--horizon-days", "10", "--warmup-days", "0"]
    assert main([*args, "--truth", str(truth)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "against the simulator's truth" in out and "points from users who truly stop" in out


def test_the_figures_say_which_inputs_the_score_leans_on_and_why() -> None:
    # Three buyers, one label each: too few for a learned input to have been measured,
    # so the score is BG/NBD's alone, and the figures say so.
    log = [purchase(user, 0, 1) for user in ("a", "b", "c")] + [view("x", 12)]
    mixture = summary(evaluate(log, horizon_days=10, warmup_days=0))["mixture_at_end"]
    assert list(mixture) == ["bg_nbd", "bg_nbd_calibrated", "regression", "stacked"]
    assert mixture["bg_nbd"] == {"weight": 1.0, "measured_labels": 3}
    assert all(row["weight"] == 0.0 for name, row in mixture.items() if name != "bg_nbd")
