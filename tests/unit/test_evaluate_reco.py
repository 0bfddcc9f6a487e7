"""pulse evaluate reco: progressive hit rate, asked before learning from the purchase."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.cli.main import main
from streams.evaluation.reco import evaluate_reco
from tests.helpers import DAY, HOUR, T0, click, purchase, raw


def shopper(user: str, start: int, seen: str, bought: str) -> list[bytes]:
    buy = purchase(user, start + HOUR)
    buy["items"][0]["item_id"] = bought
    return [raw(click(user, start, item=seen)), raw(buy)]


def test_items_bought_together_are_recommended_before_anyone_is_told() -> None:
    log: list[bytes] = []
    for n in range(30):  # people who look at a tent go on to buy a sleeping bag
        log += shopper(f"u{n}", T0 + n * DAY, "tent", "sleeping_bag")
        log += shopper(f"v{n}", T0 + n * DAY + 2 * HOUR, f"noise{n}", f"other{n}")
    result = evaluate_reco(log, k=3, warmup_days=0)
    figures = result.summary()
    assert figures["baskets"] == 60
    # Every basket is new to its user (never viewed what they bought).
    assert figures["new_item_baskets"] == 60
    # Only the first tent shopper could not be helped; "other" items never repeat.
    assert result.hits["pulse"] == 29
    assert result.hits["recently_viewed"] == 0
    assert figures["hit_rate"]["pulse"] == pytest.approx(29 / 60, abs=1e-4)


def test_the_command_prints_the_three_recommenders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "log.jsonl"
    lines = []
    for n in range(10):
        lines += shopper(f"u{n}", T0 + n * DAY, "tent", "sleeping_bag")
    log.write_bytes(b"\n".join(lines) + b"\n")
    assert main(["evaluate", "reco", str(log), "--k", "5", "--warmup-days", "0"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Pulse" in out and "most popular" in out and "recently viewed" in out
    assert "10 baskets scored" in out
