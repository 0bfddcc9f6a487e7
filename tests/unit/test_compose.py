"""The docker-compose stack, checked statically (no Docker engine here or in CI)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from streams.cli.main import build_parser
from streams.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]


def load(path: str) -> Any:
    return yaml.safe_load((ROOT / path).read_text())


def services() -> dict[str, Any]:
    return dict(load("docker-compose.yml")["services"])


def test_stack_has_kafka_topics_worker_prometheus_grafana() -> None:
    assert set(services()) == {"kafka", "topics", "pulse", "prometheus", "grafana"}
    kafka = services()["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert "healthcheck" in kafka


def test_worker_env_names_real_settings_and_reaches_kafka() -> None:
    kafka_env = services()["kafka"]["environment"]
    advertised = dict(
        item.split("://", 1) for item in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )
    for name in ("topics", "pulse"):
        env = services()[name]["environment"]
        for key in env:
            assert key.startswith(ENV_PREFIX)
            assert key[len(ENV_PREFIX) :].lower() in Settings.__slots__, key
        settings = Settings.from_env({k: str(v) for k, v in env.items()})
        assert settings.broker == "kafka://" + advertised["INTERNAL"]
    host_listener = advertised["HOST"]
    port = host_listener.split(":")[1]
    assert f"127.0.0.1:{port}:{port}" in services()["kafka"]["ports"]


def test_published_ports_are_bound_to_this_machine_only() -> None:
    """Kafka's host listener has no authentication: nothing is published on all interfaces."""
    published = [port for service in services().values() for port in service.get("ports", [])]
    assert published and all(str(port).startswith("127.0.0.1:") for port in published)


def test_services_run_commands_the_cli_has() -> None:
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in ("topics", "pulse"):
        assert services()[name]["command"][0] in commands
        assert services()[name]["build"] == "."
    order = services()["pulse"]["depends_on"]["topics"]["condition"]
    assert order == "service_completed_successfully"


def test_prometheus_scrapes_the_worker_metrics_port() -> None:
    env = services()["pulse"]["environment"]
    settings = Settings.from_env({k: str(v) for k, v in env.items()})
    assert settings.metrics_host == "0.0.0.0"
    assert str(settings.metrics_port) in services()["pulse"]["expose"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"EXPOSE {settings.metrics_port}" in dockerfile
    scrape = load("deploy/prometheus/prometheus.yml")["scrape_configs"][0]
    target = scrape["dns_sd_configs"][0]
    assert target["names"] == ["pulse"] and target["port"] == settings.metrics_port
    mounted = services()["prometheus"]["volumes"][0].split(":")[0]
    assert (ROOT / mounted).resolve() == (ROOT / "deploy/prometheus/prometheus.yml").resolve()


def test_grafana_is_provisioned_with_prometheus_and_a_dashboard_of_real_metrics() -> None:
    datasource = load("deploy/grafana/provisioning/datasources/prometheus.yml")["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    assert "127.0.0.1:9090:9090" in services()["prometheus"]["ports"]
    for volume in services()["grafana"]["volumes"]:
        assert (ROOT / volume.split(":")[0]).exists(), volume
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/pulse.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\b(pulse_[a-z_]+)", expr)}
    declared = set(re.findall(r'"(pulse_[a-z_]+)"', (ROOT / "streams/metrics.py").read_text()))
    # Counters are exposed with a _total suffix, histograms with _bucket/_sum/_count.
    suffixes = ("_total", "_bucket", "_sum", "_count")
    exposed = declared | {name + suffix for name in declared for suffix in suffixes}
    assert used <= exposed, used - exposed


def test_dockerfile_installs_the_package_and_runs_the_worker() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11" in dockerfile
    for copied in re.findall(r"^COPY (\S+)", dockerfile, re.MULTILINE):
        assert (ROOT / copied).exists(), copied
    assert 'ENTRYPOINT ["pulse"]' in dockerfile and 'CMD ["worker"]' in dockerfile
    # The container is judged by the worker's own liveness endpoint, on its metrics port.
    healthcheck = re.search(r"^HEALTHCHECK .*\n\s+CMD (.+)$", dockerfile, re.MULTILINE)
    assert healthcheck and "/healthz" in healthcheck.group(1)
    assert "PULSE_METRICS_PORT" in healthcheck.group(1)


def test_the_compose_kafka_is_the_version_the_integration_tests_run() -> None:
    pom = (ROOT / "tests/integration/kafka/pom.xml").read_text()
    tested = re.search(r"<artifactId>kafka_2.13</artifactId>\s*<version>([^<]+)<", pom)
    image = services()["kafka"]["image"]
    assert tested and image == f"apache/kafka:{tested.group(1)}"


def test_the_dashboard_follows_the_grafana_dashboard_linters_rules() -> None:
    # The rules of grafana/dashboard-linter: a datasource variable every panel and query
    # uses, job and instance variables every selector filters on, rates over
    # $__rate_interval (so the window follows the scrape interval and the zoom).
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/pulse.json").read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert {"job", "instance"} <= variables.keys()
    uses_datasource = {"type": "prometheus", "uid": "${datasource}"}
    for panel in dashboard["panels"]:
        assert panel["datasource"] == uses_datasource, panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            assert target["datasource"] == uses_datasource, expr
            for selector in re.findall(r"\bpulse_[a-z_]+(\{[^}]*\})?", expr):
                assert 'job=~"$job"' in selector and 'instance=~"$instance"' in selector, expr
            for window in re.findall(r"\brate\([^\[]*\[([^\]]+)\]", expr):
                assert window == "$__rate_interval", expr
