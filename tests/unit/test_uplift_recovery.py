"""The closed loop: simulated shoppers react to messages; the report recovers the effect."""

from __future__ import annotations

from pathlib import Path

import orjson

from streams.cli.main import main
from streams.config_loader import load_config
from streams.core.timefmt import parse_ts
from streams.core.uplift import campaign_table, pool_variants
from streams.replay import replay_to_dir
from streams.simulator.generator import SimulationSpec
from streams.simulator.loop import write_closed_loop

CONFIG = Path(__file__).resolve().parents[2] / "config" / "uplift-check.yaml"


def test_measured_uplift_recovers_the_simulated_effect(tmp_path: Path, capsys) -> None:
    config = load_config(CONFIG)
    log = tmp_path / "loop.jsonl.gz"
    spec = SimulationSpec(1200, 60, 12, parse_ts("2026-03-02T00:00:00Z"))
    truth = write_closed_loop(log, spec, config, {"*": 0.3})["campaigns"]["browse_reminder"]
    assert truth["added_purchases"] > 0 and truth["true_uplift"] > 0.1
    result = replay_to_dir(log, tmp_path / "out", config)
    final = result.summary()["campaigns"]["final_stats"]
    (row,) = campaign_table(pool_variants(final))
    assert row["treatment"] == truth["treatment_users"]
    assert row["uplift_low"] > 0  # clearly positive ...
    assert row["uplift_low"] <= truth["true_uplift"] <= row["uplift_high"]  # ... and right
    # The command prints the same comparison.
    truth_file = tmp_path / "loop.uplift.json"
    assert orjson.loads(truth_file.read_bytes())["campaigns"]["browse_reminder"] == truth
    assert main(["report", "campaigns", str(tmp_path / "out"), "--truth", str(truth_file)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "browse_reminder" in out and "yes" in out


def test_without_an_effect_the_interval_covers_zero(tmp_path: Path) -> None:
    config = load_config(CONFIG)
    log = tmp_path / "loop.jsonl.gz"
    spec = SimulationSpec(800, 45, 13, parse_ts("2026-03-02T00:00:00Z"))
    truth = write_closed_loop(log, spec, config, {"*": 0.0})["campaigns"]["browse_reminder"]
    assert truth["added_purchases"] == 0 and truth["true_uplift"] == 0
    result = replay_to_dir(log, tmp_path / "out", config)
    (row,) = campaign_table(pool_variants(result.summary()["campaigns"]["final_stats"]))
    assert row["uplift_low"] <= 0 <= row["uplift_high"]
