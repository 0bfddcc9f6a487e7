"""Worker settings: secrets from mounted files, client certificates, insecure combinations."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from streams.core.errors import ConfigError
from streams.settings import Settings


def test_a_secret_can_come_from_a_mounted_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    settings = Settings.from_env(
        {"PULSE_SASL_USERNAME": "pulse", "PULSE_SASL_PASSWORD_FILE": str(secret)}
    )
    assert settings.sasl_password == "s3cret" and settings.sasl_username == "pulse"
    # The plain variable wins when both are set.
    both = Settings.from_env(
        {"PULSE_SASL_PASSWORD": "direct", "PULSE_SASL_PASSWORD_FILE": str(secret)}
    )
    assert both.sasl_password == "direct"


def test_an_unreadable_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PULSE_SASL_PASSWORD_FILE"):
        Settings.from_env({"PULSE_SASL_PASSWORD_FILE": str(tmp_path / "missing")})


def test_plain_passwords_without_tls_are_warned_about() -> None:
    risky = Settings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN")
    assert any("clear text" in warning for warning in risky.warnings())
    assert Settings(security_protocol="SASL_SSL", sasl_mechanism="PLAIN").warnings() == []
    assert Settings().warnings() == []


def test_client_certificates_are_loaded_for_mutual_tls(tmp_path: Path) -> None:
    from streams.worker.kafka_clients import ssl_context

    settings = Settings(
        security_protocol="SSL",
        ssl_certfile=tmp_path / "missing-cert.pem",
        ssl_keyfile=tmp_path / "missing-key.pem",
    )
    with pytest.raises((FileNotFoundError, ssl.SSLError)):
        ssl_context(settings)  # the worker refuses to start without its certificate
    assert isinstance(ssl_context(Settings(security_protocol="SSL")), ssl.SSLContext)


def test_topics_are_created_with_the_configured_replication_factor() -> None:
    import asyncio
    from unittest import mock

    from streams.topic_admin import ensure_topics

    assert Settings.from_env({"PULSE_REPLICATION_FACTOR": "3"}).replication_factor == 3
    admin = mock.AsyncMock()
    admin.list_topics.return_value = []
    with mock.patch("streams.topic_admin.AIOKafkaAdminClient", return_value=admin):
        asyncio.run(ensure_topics({}, 4, "test", "p-", replication_factor=3))
    created = admin.create_topics.call_args.args[0]
    assert created and all(t.replication_factor == 3 and t.num_partitions == 4 for t in created)


def test_guarantee_and_timestamp_choices_are_checked_with_what_to_use() -> None:
    assert not Settings().exactly_once() and not Settings().event_timestamps()
    assert Settings.from_env({"PULSE_PROCESSING_GUARANTEE": "exactly_once"}).exactly_once()
    assert Settings.from_env({"PULSE_OUTPUT_TIMESTAMP": "event"}).event_timestamps()
    with pytest.raises(ConfigError, match="PULSE_PROCESSING_GUARANTEE='exactly-once'"):
        Settings.from_env({"PULSE_PROCESSING_GUARANTEE": "exactly-once"}).exactly_once()
    with pytest.raises(ConfigError, match=r"use produce \(the default\) or event"):
        Settings.from_env({"PULSE_OUTPUT_TIMESTAMP": "now"}).event_timestamps()


def test_the_lookup_address_names_this_machine_when_listening_everywhere() -> None:
    import socket

    assert Settings(metrics_host="127.0.0.1", metrics_port=9).lookup_url() == "http://127.0.0.1:9"
    everywhere = Settings(metrics_host="0.0.0.0", metrics_port=9464)
    assert everywhere.lookup_url() == f"http://{socket.gethostname()}:9464"
    advertised = Settings(advertised_url="http://pod-1:9464/")
    assert advertised.lookup_url() == "http://pod-1:9464"


def test_broker_quirks_are_one_setting_checked_before_anything_connects() -> None:
    assert Settings.from_env({}).tansu_quirks()  # the embedded broker's workarounds
    assert not Settings.from_env({"PULSE_BROKER_QUIRKS": "none"}).tansu_quirks()
    with pytest.raises(ConfigError, match="PULSE_BROKER_QUIRKS='kafka' is not one of tansu, none"):
        Settings.from_env({"PULSE_BROKER_QUIRKS": "kafka"}).check()
    with pytest.raises(ConfigError, match="PULSE_PROCESSING_GUARANTEE"):
        Settings.from_env({"PULSE_PROCESSING_GUARANTEE": "twice"}).check()
