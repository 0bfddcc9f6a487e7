"""SASL OAUTHBEARER end to end on Apache Kafka, configured by a client .properties file.

The shop's own `client.properties` (Java names, an OIDC token endpoint with the client
credentials grant) is all the worker and the CLI are given: the log is replayed onto the
broker, the worker turns it into segment changes and `pulse tail` reads them back, every
connection authenticated with a bearer token from the endpoint. A wrong secret is refused
with the endpoint's answer, not a hang.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.integration.harness import Worker, in_process, make_log
from tests.integration.test_cli_on_broker import pulse as run_pulse
from tests.integration.token_server import TokenServer


def client_properties(path: Path, token_url: str, secret: str) -> Path:
    path.write_text(
        "# as a Kafka shop's Java clients have it\n"
        "security.protocol=SASL_PLAINTEXT\n"
        "sasl.mechanism=OAUTHBEARER\n"
        f"sasl.oauthbearer.token.endpoint.url={token_url}\n"
        "sasl.login.callback.handler.class=org.apache.kafka.common.security.oauthbearer."
        "OAuthBearerLoginCallbackHandler\n"
        "sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule "
        "required \\\n"
        f'    clientId="pulse-worker" clientSecret="{secret}" scope="kafka.pulse";\n'
    )
    return path


def pulse(prefix: str, properties: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pulse(*args, prefix=prefix, env={"PULSE_KAFKA_PROPERTIES": str(properties)})


def test_worker_and_cli_authenticate_with_oauth_tokens(
    oauth_broker_url: str, namespace: str, tmp_path: Path
) -> None:
    log = make_log(tmp_path / "log.jsonl.gz", users=30, days=10, seed=5, bad_rate=0.0)
    expected = in_process(log, tmp_path / "inproc")["segment-changes"]
    with TokenServer("pulse-worker", "s3cret") as tokens:
        properties = client_properties(tmp_path / "client.properties", tokens.url, "s3cret")
        env = {"PULSE_KAFKA_PROPERTIES": str(properties)}
        worker = Worker(oauth_broker_url, namespace, tmp_path, extra_env=env)
        try:
            replay = pulse(namespace, properties, "replay", str(log), "--broker", oauth_broker_url)
            assert replay.returncode == 0, replay.stdout + replay.stderr
            args = ["--broker", oauth_broker_url, "--from-beginning", "--limit", str(len(expected))]
            tail = pulse(namespace, properties, "tail", "segment-changes", *args)
        finally:
            worker.stop()
        assert tail.returncode == 0, tail.stderr
        assert sorted(line.encode() for line in tail.stdout.splitlines()) == sorted(expected)
        # Every process fetched its own token (worker, replay, tail), with the scope asked.
        assert tokens.issued >= 3 and tokens.refused == 0
        assert set(tokens.scopes) == {"kafka.pulse"}

        wrong = client_properties(tmp_path / "wrong.properties", tokens.url, "not-the-secret")
        refused = pulse(namespace, wrong, "tail", "segment-changes", *args)
        workdir = ["--workdir", str(tmp_path / "refused"), "--metrics-port", "0"]
        worker_refused = pulse(namespace, wrong, "worker", "--broker", oauth_broker_url, *workdir)
    for run in (refused, worker_refused):
        assert run.returncode != 0
        assert "answered 401" in run.stderr and "client id, secret" in run.stderr, run.stderr
    assert tokens.refused >= 2
