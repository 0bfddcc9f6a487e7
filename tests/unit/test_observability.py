"""Alert rules, Prometheus config and the metrics page, checked with promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not installed (Debian package 'prometheus'; .ci/run installs it)",
)


def declared_metrics() -> set[str]:
    names = set(re.findall(r'"(pulse_[a-z_]+)"', (ROOT / "streams/metrics.py").read_text()))
    return names | {
        name + suffix for name in names for suffix in ("_total", "_bucket", "_sum", "_count")
    }


@needs_promtool
def test_alert_rules_pass_promtool() -> None:
    done = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(ROOT / "deploy/prometheus/alerts.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    shutil.copy(ROOT / "deploy/prometheus/alerts.yml", tmp_path / "alerts.yml")
    config["rule_files"] = [str(tmp_path / "alerts.yml")]  # the container path, made local
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [str(PROMTOOL), "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_alerts_use_only_metrics_that_exist() -> None:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    used = {name for expr in exprs for name in re.findall(r"\b(pulse_[a-z_]+)", expr)}
    assert used and used <= declared_metrics(), used - declared_metrics()
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    for wanted in (
        "WorkerDown",
        "ConsumerLagGrowing",
        "EventTimeLagHigh",
        "DeadLetterRateHigh",
        "NoEventsProcessed",
    ):
        assert "Pulse" + wanted in names
