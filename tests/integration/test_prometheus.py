"""A real Prometheus scrapes a real worker: the counters match what was fed.

Needs the `prometheus` binary (Debian package; .ci/run installs it). The server runs on
127.0.0.1 with a temporary config and data directory, and loads the shipped alert rules.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.broker import free_port
from tests.integration.harness import ROOT, Worker, in_process, make_log, produce, wait_for

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None,
    reason="prometheus/promtool not installed (Debian package 'prometheus'; .ci/run installs it)",
)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bytes(response.read())


def query(base: str, expr: str) -> dict[str, Any]:
    return dict(json.loads(get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))))


def ready(port: int) -> bool:
    try:
        return get(f"http://127.0.0.1:{port}/readyz").startswith(b"ready")
    except urllib.error.HTTPError as exc:
        assert exc.code == 503 and exc.read(), "not ready says why"
        return False


def answers(url: str) -> bool:
    try:
        get(url)
    except OSError:  # not listening yet (URLError is an OSError)
        return False
    return True


def scalar(base: str, expr: str) -> float:
    result = query(base, expr)["data"]["result"]
    return float(result[0]["value"][1]) if result else -1.0


def test_prometheus_scrapes_counters_that_match_the_log(
    broker_url: str, namespace: str, tmp_path: Path
) -> None:
    log = make_log(tmp_path / "log.jsonl.gz", users=80, days=20, seed=9, bad_rate=0.02)
    with gzip.open(log, "rb") as handle:
        lines = sum(1 for _ in handle)
    in_process(log, tmp_path / "inproc")
    summary = json.loads((tmp_path / "inproc/summary.json").read_text())
    rejected = sum(summary["rejected_by_reason"].values())
    assert rejected > 0, "the log holds bad lines"
    metrics_port, web_port = free_port(), free_port()
    worker = Worker(
        broker_url, namespace, tmp_path, extra_env={"PULSE_METRICS_PORT": str(metrics_port)}
    )
    shutil.copy(ROOT / "deploy/prometheus/alerts.yml", tmp_path / "alerts.yml")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "alerts.yml")],
        "scrape_configs": [
            {"job_name": "pulse", "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    server = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{web_port}",
        ],
        stdout=(tmp_path / "prometheus.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{web_port}"
    try:
        # Prometheus takes a moment to open its TSDB and listen (longer on a busy machine).
        assert wait_for(lambda: answers(f"{base}/-/ready"), timeout=60), (
            tmp_path / "prometheus.log"
        ).read_text()[-2000:]
        produce(broker_url, namespace, log)
        consumed = "sum(pulse_records_consumed_total)"
        assert wait_for(lambda: scalar(base, consumed) >= lines, timeout=120), (
            scalar(base, consumed),
            lines,
            worker.output()[-2000:],
        )
        assert scalar(base, consumed) == lines  # every line fed was consumed, once
        assert wait_for(
            lambda: scalar(base, "sum(pulse_events_rejected_total)") == rejected, timeout=20
        ), (scalar(base, "sum(pulse_events_rejected_total)"), rejected)
        assert scalar(base, 'up{job="pulse"}') == 1
        assert get(f"http://127.0.0.1:{metrics_port}/healthz").startswith(b"ok")
        # The process, the interpreter's GC and the build beside Pulse's own metrics.
        assert wait_for(lambda: scalar(base, "count(pulse_build_info)") == 1, timeout=20)
        assert scalar(base, 'process_resident_memory_bytes{job="pulse"}') > 0
        assert scalar(base, 'count(python_gc_collections_total{job="pulse"})') > 0
        # Readiness drops during a rebalance (tansu often runs a second join round).
        assert wait_for(lambda: ready(metrics_port), timeout=30), worker.output()[-2000:]
        # The page passes promtool's linter.
        page = get(f"http://127.0.0.1:{metrics_port}/metrics")
        lint = subprocess.run(
            [str(PROMTOOL), "check", "metrics"], input=page, capture_output=True, check=False
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr
        # Every dashboard query parses and finds data in Prometheus (or is a rate not yet
        # defined over a short run: it must still parse).
        dashboard = json.loads((ROOT / "deploy/grafana/dashboards/pulse.json").read_text())
        variables = {"$job": "pulse", "$instance": ".*", "$__rate_interval": "1m"}
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                for name, value in variables.items():  # as Grafana fills them in
                    expr = expr.replace(name, value)
                assert query(base, expr)["status"] == "success", expr
        rules = json.loads(get(f"{base}/api/v1/rules"))["data"]["groups"][0]["rules"]
        assert rules and all(rule["health"] != "err" for rule in rules), rules
    finally:
        server.terminate()
        server.wait(10)
        worker.stop()
