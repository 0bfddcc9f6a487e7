"""A Kafka client .properties file read into settings; OAUTHBEARER tokens from an endpoint."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from streams.core.errors import ConfigError
from streams.kafka_properties import jaas_options, parse_properties, settings_fields
from streams.settings import Settings
from streams.worker.kafka_clients import aiokafka_options, faust_credentials
from streams.worker.oauth import ClientCredentialsTokens, TokenError, token_provider
from tests.integration.token_server import TokenServer

OAUTH = """
bootstrap.servers=kafka-1:9093,kafka-2:9093
security.protocol=SASL_SSL
sasl.mechanism=OAUTHBEARER
sasl.oauthbearer.token.endpoint.url=https://idp.example.com/oauth2/token
sasl.login.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler
sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \\
    clientId="pulse" clientSecret="a\\\\"b" scope="kafka";
ssl.truststore.type=PEM
ssl.truststore.location=/etc/pulse/ca.pem
"""


def test_a_java_oauth_client_file_sets_every_connection_setting() -> None:
    fields = settings_fields(parse_properties(OAUTH), "client.properties")
    assert fields == {
        "broker": "kafka://kafka-1:9093;kafka://kafka-2:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "OAUTHBEARER",
        "oauth_token_url": "https://idp.example.com/oauth2/token",
        "oauth_client_id": "pulse",
        "oauth_client_secret": 'a"b',
        "oauth_scope": "kafka",
        "ssl_cafile": Path("/etc/pulse/ca.pem"),
    }


def test_librdkafka_names_and_a_pem_key_store_for_mutual_tls() -> None:
    text = (
        "security.protocol=SSL\nssl.ca.location=/ca.pem\nssl.keystore.type=PEM\n"
        "ssl.keystore.location=/me.pem\nssl.key.password=k\n"
        "ssl.endpoint.identification.algorithm=\n"
    )
    fields = settings_fields(parse_properties(text), "f")
    assert fields["ssl_certfile"] == fields["ssl_keyfile"] == Path("/me.pem")
    assert fields["ssl_cafile"] == Path("/ca.pem") and fields["ssl_key_password"] == "k"
    assert fields["ssl_check_hostname"] is False


def test_scram_credentials_come_from_the_jaas_line() -> None:
    text = (
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="pulse" password="p;w d";'
    )
    fields = settings_fields(parse_properties(text), "f")
    assert (fields["sasl_username"], fields["sasl_password"]) == ("pulse", "p;w d")
    assert jaas_options('M required a=1 b="x y";') == ("M", {"a": "1", "b": "x y"})


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("group.id=mine", "PULSE_APP_ID"),
        ("enable.auto.commit=true", "commits offsets itself"),
        ("linger.ms=5", "not a property Pulse can apply"),
        ("ssl.truststore.location=/ts.jks", "PEM files only"),
        ("ssl.keystore.type=PKCS12", "PEM files only"),
        ("security.protocol=SASL_SSLX", "not supported"),
        ("sasl.mechanism=GSSAPI", "not supported"),
        ("sasl.jaas.config=com.sun.security.auth.module.Krb5LoginModule required;", "LoginModule"),
        ("sasl.login.callback.handler.class=com.acme.MyHandler", "Java code"),
        ("sasl.oauthbearer.method=default\nsasl.mechanism=OAUTHBEARER", "no token endpoint"),
        ("ssl.endpoint.identification.algorithm=none", "use https"),
    ],
)
def test_what_pulse_cannot_honour_is_refused_with_the_reason(line: str, says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        settings_fields(parse_properties(line), "client.properties")
    assert says in str(refused.value) and str(refused.value).startswith("client.properties")


def test_the_file_completes_the_environment_and_must_agree_with_it(tmp_path: Path) -> None:
    path = tmp_path / "client.properties"
    path.write_text("security.protocol=SSL\nssl.ca.location=/ca.pem\n")
    env = {"PULSE_KAFKA_PROPERTIES": str(path), "PULSE_BROKER": "kafka://b:9093"}
    settings = Settings.from_env(env)
    assert (settings.security_protocol, settings.ssl_cafile) == ("SSL", Path("/ca.pem"))
    assert settings.broker == "kafka://b:9093"
    with pytest.raises(ConfigError, match="PULSE_SECURITY_PROTOCOL"):
        Settings.from_env({**env, "PULSE_SECURITY_PROTOCOL": "SASL_SSL"})
    assert Settings.from_env({**env, "PULSE_SECURITY_PROTOCOL": "SSL"}).security_protocol == "SSL"
    with pytest.raises(ConfigError, match="cannot be read"):
        Settings.from_env({"PULSE_KAFKA_PROPERTIES": str(tmp_path / "missing")})


def test_oauthbearer_settings_give_a_token_provider_to_both_clients() -> None:
    settings = Settings(
        broker="kafka://b:9093",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="OAUTHBEARER",
        oauth_token_url="http://127.0.0.1:1/token",
        oauth_client_id="pulse",
        oauth_client_secret="s",
    )
    options = aiokafka_options(settings)
    assert isinstance(options["sasl_oauth_token_provider"], ClientCredentialsTokens)
    assert "sasl_plain_password" not in options
    assert type(faust_credentials(settings)).__name__ == "OAuthCredentials"
    assert any("clear text" in warning for warning in settings.warnings())
    with pytest.raises(ConfigError, match="PULSE_OAUTH_CLIENT_SECRET"):
        aiokafka_options(Settings(**{**_fields(settings), "oauth_client_secret": None}))
    with pytest.raises(ConfigError, match="not an http"):
        token_provider("file:///etc/passwd", "a", "b", "")


def _fields(settings: Settings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in Settings.__slots__}


def test_tokens_are_fetched_once_and_refreshed_before_they_expire() -> None:
    now = [0.0]
    with TokenServer("pulse", "s3cret", lifetime_s=100) as server:
        tokens = ClientCredentialsTokens(server.url, "pulse", "s3cret", "kafka", lambda: now[0])

        async def three() -> list[str]:
            first = await tokens.token()
            now[0] = 79.0  # before 80 % of the lifetime: the same token
            second = await tokens.token()
            now[0] = 81.0
            return [first, second, await tokens.token()]

        first, second, third = asyncio.run(three())
        assert first == second and server.issued == 2 and third.count(".") == 2
        assert server.scopes == ["kafka", "kafka"]
        wrong = ClientCredentialsTokens(server.url, "pulse", "guess", "")
        with pytest.raises(TokenError, match="answered 401"):
            asyncio.run(wrong.token())
    with pytest.raises(TokenError, match="cannot be reached"):
        asyncio.run(ClientCredentialsTokens(server.url, "pulse", "s3cret").token())
