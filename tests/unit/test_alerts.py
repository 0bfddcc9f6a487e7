"""Every alert is unit-tested with `promtool test rules` and has a runbook section."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/prometheus/alerts.yml"
CASES = ROOT / "tests/data/prometheus/alerts_test.yml"
PROMTOOL = shutil.which("promtool")


def alerts() -> list[dict[str, object]]:
    return [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]


def test_every_alert_has_a_promtool_case_and_a_runbook_section() -> None:
    cases = yaml.safe_load(CASES.read_text())["tests"]
    tested = {check["alertname"] for case in cases for check in case["alert_rule_test"]}
    runbook = (ROOT / "docs/operations.md").read_text()
    anchors = {heading.lower() for heading in re.findall(r"^### (\w+)$", runbook, re.MULTILINE)}
    for alert in alerts():
        name = str(alert["alert"])
        assert name in tested, f"{name} has no case in {CASES.name}"
        assert name.lower() in anchors, f"docs/operations.md has no section for {name}"
        annotations = alert["annotations"]
        assert isinstance(annotations, dict)
        assert annotations["runbook_url"] == f"docs/operations.md#{name.lower()}"


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (.ci/run installs it)")
def test_promtool_checks_the_rules_and_runs_every_case(tmp_path: Path) -> None:
    assert PROMTOOL is not None
    checked = subprocess.run(
        [PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    cases = tmp_path / "alerts_test.yml"
    cases.write_text(f"rule_files: [{RULES}]\n" + CASES.read_text())
    run = subprocess.run(
        [PROMTOOL, "test", "rules", str(cases)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
