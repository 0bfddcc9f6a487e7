"""Golden replay cases: a recorded log (+ optional config) and the reviewed expected outputs.

Each folder under tests/data/golden/ holds `input.jsonl`, maybe `pulse.yaml`, and
`expected/<topic>.jsonl`. The replay must reproduce the expected files byte for byte.
After a deliberate behaviour change, regenerate with PULSE_REGENERATE_GOLDEN=1, then
read the diff before committing it: these files are the reviewed specification.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from streams.config_loader import load_config
from streams.core.outputs import OUTPUT_TOPICS
from streams.replay import replay_to_dir

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
CASES = sorted(path.name for path in GOLDEN.iterdir() if (path / "input.jsonl").exists())


@pytest.mark.parametrize("case", CASES)
def test_replay_reproduces_the_golden_outputs(case: str, tmp_path: Path) -> None:
    folder = GOLDEN / case
    config_file = folder / "pulse.yaml"
    config = load_config(config_file if config_file.exists() else None)
    replay_to_dir(folder / "input.jsonl", tmp_path, config)
    expected = folder / "expected"
    if os.environ.get("PULSE_REGENERATE_GOLDEN") == "1":
        expected.mkdir(exist_ok=True)
        for topic in OUTPUT_TOPICS:
            shutil.copy(tmp_path / f"{topic}.jsonl", expected / f"{topic}.jsonl")
    for topic in OUTPUT_TOPICS:
        actual = (tmp_path / f"{topic}.jsonl").read_bytes()
        assert actual == (expected / f"{topic}.jsonl").read_bytes(), f"{case}: {topic} differs"


def test_every_golden_case_has_expected_outputs() -> None:
    assert len(CASES) >= 3
    for case in CASES:
        assert (GOLDEN / case / "expected" / "segment-changes.jsonl").exists(), case


def test_the_campaigns_case_covers_every_trigger_and_every_policy_outcome() -> None:
    import orjson

    folder = GOLDEN / "campaigns"
    rows = [
        orjson.loads(line)
        for line in (folder / "expected" / "campaign-messages.jsonl").read_bytes().splitlines()
    ]
    outcomes = {row.get("reason") or row["type"] for row in rows}
    assert outcomes >= {
        "campaign_message",
        "quiet_hours",  # deferred ...
        "no_consent",  # ... and suppressed later by an unsubscribe
        "holdout",
        "global_control",
        "frequency_cap",
        "cooldown",
        "arbitration",
        "expired",
        "not_in_audience",
        "erasure_confirmed",
        "campaign_stats",
    }
    triggers = {row["trigger"].split(" ")[0] for row in rows if row.get("trigger")}
    assert {"lifecycle", "churn", "first", "cart", "browsed", "2"} <= triggers  # "2 searches, ..."
