"""The Kubernetes manifests (deploy/k8s/) validate against the API's schemas and agree
with the worker, the alerts and each other."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/k8s"
KUBERNETES_VERSION = "1.30.0"


def documents() -> list[dict[str, Any]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in documents() if doc["kind"] == kind]


def test_core_objects_validate_against_the_kubernetes_schemas() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    core = [doc for doc in documents() if "monitoring.coreos.com" not in doc["apiVersion"]]
    assert {doc["kind"] for doc in core} == {"ConfigMap", "Job", "Deployment", "Service"}
    for doc in core:  # strict: an unknown or misspelled field fails too
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_worker_is_probed_on_its_own_endpoints_and_scraped_as_job_pulse() -> None:
    (deployment,) = of_kind("Deployment")
    (config,) = of_kind("ConfigMap")
    (service,) = of_kind("Service")
    (monitor,) = of_kind("ServiceMonitor")
    settings = Settings.from_env(config["data"])  # the worker reads these as PULSE_* vars
    assert settings.metrics_host == "0.0.0.0"
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["args"] == ["worker"]
    (port,) = container["ports"]
    assert port["containerPort"] == settings.metrics_port and port["name"] == "metrics"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [
        p["name"] for p in service["spec"]["ports"]
    ]
    # The alerts and the dashboard select job="pulse": the job label is the app's name.
    assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == "pulse"
    (job,) = of_kind("Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["topics"]


def test_the_prometheus_rule_holds_exactly_the_alerts_and_promtool_accepts_them(
    tmp_path: Path,
) -> None:
    (rule,) = of_kind("PrometheusRule")
    alerts = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (.ci/run installs it)")
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    checked = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
