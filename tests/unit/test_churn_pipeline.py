"""Churn risk in the pipeline: prediction points, delayed labels in event time, bands."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from models.suite import suite_factory
from streams.core.churn import FEATURES
from streams.core.config import build_config
from streams.core.errors import ConfigError
from streams.core.pipeline import Pipeline
from streams.core.timefmt import parse_ts
from tests.helpers import DAY, HOUR, T0, click, purchase, raw


@dataclass
class FakeChurn:
    """A churn model that answers from a script and records what it learns."""

    answers: list[float] = field(default_factory=list)
    learned: list[tuple[dict[str, float], bool]] = field(default_factory=list)
    labels: int = 0
    drifts: int = 0
    baseline_due: int = 1 << 62  # never refit
    input_names: tuple[str, ...] = ("only",)

    def score(self, x: Mapping[str, float], base: float) -> tuple[float, list[float]]:
        answer = self.answers.pop(0) if self.answers else 0.5
        return answer, [answer]

    def learn(self, x: Mapping[str, float], inputs: list[float], y: bool) -> None:
        self.learned.append((dict(x), y))
        self.labels += 1

    def contributions(self, x: Mapping[str, float]) -> dict[str, float]:
        return {"orders": -0.2, "recency_days": 0.7, "views": 0.1}

    def fit_baseline(self, *args: object) -> None:
        raise AssertionError("not due")

    def baseline(self, *args: object) -> float:
        return 0.5


@dataclass
class FakeSuite:
    churn: FakeChurn
    clusters: None = None
    recommender: None = None


def pipeline_with(model: FakeChurn, **churn: object) -> Pipeline:
    config = build_config(
        {"stream": {"partitions": 1}, "models": {"churn": {"horizon_days": 10, **churn}}},
        "t.yaml",
    )
    return Pipeline(config, lambda partition: FakeSuite(model))


def feed(pipeline: Pipeline, events: list[dict]) -> list[dict]:
    out = []
    for number, event in enumerate(events, start=1):
        out += [o.value for o in pipeline.process(raw(event), {"line": number})]
    return out


def test_a_returning_label_is_learned_only_when_final_at_t_plus_h() -> None:
    """Resolving "returned" at the repurchase would skew every label towards "returned"."""
    model = FakeChurn()
    p = pipeline_with(model)
    feed(p, [purchase("a", T0), purchase("a", T0 + 2 * DAY), click("b", T0 + 9 * DAY)])
    assert model.learned == []  # a came back, but t + H has not passed: not final yet
    feed(p, [click("b", T0 + 10 * DAY + 2 * HOUR)])
    assert [y for _, y in model.learned] == [False]
    assert p.stats.churn.resolved == 1 and p.stats.churn.churned == 0


def test_event_time_passing_the_horizon_labels_churned_with_the_features_of_then() -> None:
    model = FakeChurn()
    p = pipeline_with(model)
    # a buys once, then only browses (views grow); b's events move event time on.
    events = [purchase("a", T0)] + [click("a", T0 + n * HOUR) for n in range(1, 6)]
    events += [click("b", T0 + 10 * DAY + 2 * HOUR)]
    feed(p, events)
    assert [y for _, y in model.learned] == [True]
    x, _ = model.learned[0]
    assert x["orders"] == 1.0 and x["views"] == 0.0  # as at the purchase, not later
    assert set(x) <= {*FEATURES, "bg_nbd_logit"}


def test_the_label_waits_for_the_watermark_not_for_wall_clock() -> None:
    model = FakeChurn()
    p = pipeline_with(model)
    feed(p, [purchase("a", T0), click("b", T0 + 9 * DAY)])
    assert model.learned == []  # t + H not reached in event time yet


def test_a_basket_split_over_several_purchase_events_is_one_prediction_point() -> None:
    model = FakeChurn()
    p = pipeline_with(model)
    feed(p, [purchase("a", T0), purchase("a", T0), purchase("a", T0)])
    assert p.stats.churn.scored == 1 and model.learned == []


def test_a_customer_who_stops_buying_rises_a_band_with_no_event_of_their_own() -> None:
    # a buys (score 0.2: low); then only b's events move event time on. Each step of a's
    # quiet spell (H/3 = 3.3 days with one order) rescores a from the watermark.
    model = FakeChurn(answers=[0.2, 0.5, 0.8])
    p = pipeline_with(model)
    out = feed(p, [purchase("a", T0)] + [click("b", T0 + n * DAY) for n in range(1, 10)])
    risks = [o for o in out if o["type"] == "churn_risk" and o["user_id"] == "a"]
    assert [(r["from"], r["band"]) for r in risks] == [
        (None, "low"),
        ("low", "medium"),
        ("medium", "high"),
    ]
    rescored = risks[1:]
    assert all(r["cause_event_id"] is None for r in rescored)
    assert all(T0 < parse_ts(r["ts"]) < T0 + 10 * DAY for r in rescored)  # before H passed
    assert len({r["id"] for r in risks}) == 3
    assert p.stats.churn.rescored == 2


def test_rescoring_stops_once_the_horizon_has_passed() -> None:
    model = FakeChurn()
    p = pipeline_with(model)
    feed(p, [purchase("a", T0)] + [click("b", T0 + n * DAY) for n in range(1, 40)])
    assert p.stats.churn.rescored == 2  # steps at H/3 and 2H/3; none at or after H
    assert p.stats.churn.scored == 3


def test_bands_change_with_hysteresis_and_each_change_is_one_output() -> None:
    model = FakeChurn(answers=[0.75, 0.68, 0.62, 0.3, 0.45], labels=1)
    p = pipeline_with(model, hysteresis=0.05)
    events = [purchase("a", T0 + n * DAY) for n in range(5)]
    risks = [o for o in feed(p, events) if o["type"] == "churn_risk"]
    # 0.75 high; 0.68 stays high (within 0.05 of 0.7); 0.62 → medium; 0.3 → low;
    # 0.45 → medium (going up needs no margin).
    assert [(r["from"], r["band"]) for r in risks] == [
        (None, "high"),
        ("high", "medium"),
        ("medium", "low"),
        ("low", "medium"),
    ]
    first = risks[0]
    assert first["score"] == 0.75 and first["horizon_days"] == 10
    assert first["cause_event_id"] == events[0]["event_id"]
    later = risks[1]
    assert [f["feature"] for f in later["top_features"]] == ["recency_days", "views"]


def test_nothing_is_explained_before_the_model_has_a_label() -> None:
    model = FakeChurn(answers=[0.75])
    p = pipeline_with(model)
    risks = [o for o in feed(p, [purchase("a", T0)]) if o["type"] == "churn_risk"]
    assert risks[0]["top_features"] == []


def test_a_real_model_scores_in_the_open_interval_even_for_a_same_minute_repeat() -> None:
    config = build_config({"stream": {"partitions": 1}}, "t.yaml")
    p = Pipeline(config, suite_factory(config))
    scores: list[float] = []
    p.partitions[0].on_score = lambda scored: scores.append(scored.score)
    feed(p, [purchase("a", T0), purchase("a", T0 + 2 * 60_000)])
    assert len(scores) == 2 and all(0.0 < s < 1.0 for s in scores)


def test_ids_are_deterministic_and_replays_are_identical() -> None:
    events = [purchase(f"u{n % 5}", T0 + n * 3 * DAY, total=20.0 + n) for n in range(40)]
    events += [click(f"u{n % 7}", T0 + n * DAY + HOUR) for n in range(60)]
    events.sort(key=lambda e: e["ts"])
    config = build_config({"models": {"churn": {"horizon_days": 20}}}, "t.yaml")
    runs = []
    for _ in range(2):
        p = Pipeline(config, suite_factory(config))
        runs.append(feed(p, events))
    assert runs[0] == runs[1]
    assert any(o["type"] == "churn_risk" for o in runs[0])


def test_horizon_must_be_shorter_than_the_state_ttl() -> None:
    with pytest.raises(ConfigError, match="horizon_days"):
        build_config(
            {"stream": {"state_ttl_days": 30}, "models": {"churn": {"horizon_days": 60}}},
            "pulse.yaml",
            {("models", "churn", "horizon_days"): 12},
        )
    with pytest.raises(ConfigError, match="qualifying"):
        build_config({"models": {"churn": {"qualifying": ["purchse"]}}}, "pulse.yaml")


def test_replay_is_byte_identical_across_processes_with_different_string_hashing(
    tmp_path: Path,
) -> None:
    """Models must not depend on set order (River sums some distances over key sets)."""
    log = tmp_path / "sim.jsonl"
    pulse = [sys.executable, "-m", "streams.cli.main"]
    subprocess.run(
        [*pulse, "simulate", "--users", "120", "--days", "60", "--seed", "5", "--out", str(log)],
        check=True,
        capture_output=True,
    )
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}"
        subprocess.run(
            [*pulse, "replay", str(log), "--out", str(out), "--all-scores", "--quiet"],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outs.append(out)
    for name in ("segment-changes.jsonl", "churn-risk.jsonl", "churn-scores.jsonl"):
        first = (outs[0] / name).read_bytes()
        assert first, name
        assert first == (outs[1] / name).read_bytes(), name
    assert b'"dimension":"persona"' in (outs[0] / "segment-changes.jsonl").read_bytes()


@dataclass
class ExplainingChurn(FakeChurn):
    """Effects on sentinels, consent flags and negligible terms, beside real reasons."""

    def contributions(self, x: Mapping[str, float]) -> dict[str, float]:
        return {
            "ipt_days": 2.0,  # -1 for a one-order customer: "no gap yet" is not a reason
            "consent_email": 1.5,
            "views": 0.01,  # negligible
            "purchase_recency_days": 0.9,
            "orders": 0.4,
        }


def test_churn_reasons_leave_out_sentinels_consent_and_negligible_effects() -> None:
    model = ExplainingChurn(answers=[0.9], labels=1)
    risk = next(
        o for o in feed(pipeline_with(model), [purchase("a", T0)]) if o["type"] == "churn_risk"
    )
    assert [f["feature"] for f in risk["top_features"]] == ["purchase_recency_days", "orders"]
    assert risk["reason"] == (
        "risk raised most by: days since the last purchase = 0; purchases = 1"
    )
