"""A Kafka client `.properties` file, as Kafka shops already keep one, read into settings.

`PULSE_KAFKA_PROPERTIES=/etc/pulse/client.properties` takes the connection and security
part of a Java (or librdkafka) client configuration: bootstrap servers, TLS and mutual TLS
(PEM files), SASL PLAIN / SCRAM, and SASL OAUTHBEARER with an OIDC token endpoint (client
credentials, KIP-768). Each property becomes the `Settings` field it names; nothing in the
file is executed, and a property Pulse cannot honour is an error that says why, never
silently dropped (a dropped `security.protocol` would connect in clear text).

>>> props = parse_properties('''
... # Confluent Cloud style
... bootstrap.servers=b1:9092,b2:9092
... security.protocol=SASL_SSL
... sasl.mechanism=PLAIN
... sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\
...     username="pulse" password="p=w;rd";
... ''')
>>> fields = settings_fields(props, "client.properties")
>>> fields["broker"], fields["sasl_username"], fields["sasl_password"]
('kafka://b1:9092;kafka://b2:9092', 'pulse', 'p=w;rd')
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

from streams.core.errors import ConfigError

_SEPARATOR: Final = re.compile(r"(?<!\\)[=:]|(?<!\\)\s")
_JAAS_OPTION: Final = re.compile(r'([A-Za-z_][\w.]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]+))')
_ESCAPES: Final = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}

PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
_OAUTH_HANDLER: Final = "OAuthBearerLoginCallbackHandler"

# What Pulse decides itself, with the reason a user gets when the file sets it.
OWNED: Final = {
    "group.id": "the consumer group is PULSE_APP_ID",
    "client.id": "client ids derive from PULSE_APP_ID",
    "enable.auto.commit": "Pulse commits offsets itself, after the outputs are written",
    "auto.offset.reset": "Pulse reads its input topics from the start of what it has not committed",
    "isolation.level": "Pulse reads read_committed under exactly_once",
    "acks": "Pulse's producers wait for all in-sync replicas",
    "enable.idempotence": "set by PULSE_PROCESSING_GUARANTEE",
    "transactional.id": "set per input partition under PULSE_PROCESSING_GUARANTEE=exactly_once",
    "key.serializer": "Pulse writes its own bytes",
    "value.serializer": "Pulse writes its own bytes",
    "key.deserializer": "Pulse reads bytes",
    "value.deserializer": "Pulse reads bytes",
    "partitioner.class": "Pulse keys records by user id with Kafka's default partitioner",
}
# Supported keys, each to the Settings field it sets (None: handled below).
SUPPORTED: Final[dict[str, str | None]] = {
    "bootstrap.servers": "broker",
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",  # librdkafka's spelling
    "sasl.username": "sasl_username",  # librdkafka
    "sasl.password": "sasl_password",  # librdkafka
    "sasl.jaas.config": None,
    "sasl.login.callback.handler.class": None,
    "sasl.oauthbearer.method": None,  # librdkafka: must be oidc
    "sasl.oauthbearer.token.endpoint.url": "oauth_token_url",
    "sasl.oauthbearer.client.id": "oauth_client_id",  # librdkafka
    "sasl.oauthbearer.client.secret": "oauth_client_secret",  # librdkafka
    "sasl.oauthbearer.scope": "oauth_scope",  # librdkafka
    "ssl.ca.location": "ssl_cafile",  # librdkafka
    "ssl.certificate.location": "ssl_certfile",  # librdkafka
    "ssl.key.location": "ssl_keyfile",  # librdkafka
    "ssl.key.password": "ssl_key_password",
    "ssl.truststore.location": "ssl_cafile",  # Java, with ssl.truststore.type=PEM
    "ssl.truststore.type": None,
    "ssl.keystore.location": None,  # Java, with ssl.keystore.type=PEM: certificate and key
    "ssl.keystore.type": None,
    "ssl.endpoint.identification.algorithm": None,
}
PATHS: Final = frozenset({"ssl_cafile", "ssl_certfile", "ssl_keyfile"})


def parse_properties(text: str) -> dict[str, str]:
    """Java `.properties` syntax: `key=value`, `key: value` or `key value`; `#`/`!` comments;
    a trailing backslash continues the line; `\\\\`, `\\=`, `\\:` and `\\t`-style escapes.

    >>> parse_properties("a = 1\\n! note\\nb: x \\\\\\n  y\\nc\\\\=d=2")
    {'a': '1', 'b': 'x y', 'c=d': '2'}
    """
    properties: dict[str, str] = {}
    lines = iter(text.splitlines())
    for first in lines:
        line = first.lstrip()
        if not line or line[0] in "#!":
            continue
        while _continues(line):
            line = line[:-1] + next(lines, "").lstrip()
        split = _SEPARATOR.search(line)
        if split is None:
            key, value = line, ""
        else:
            key = line[: split.start()]
            value = line[split.end() :].lstrip()
            if split.group().isspace() and value[:1] in ("=", ":"):
                value = value[1:].lstrip()
        properties[_unescape(key)] = _unescape(value)
    return properties


def _continues(line: str) -> bool:
    """An odd number of trailing backslashes continues the line."""
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def _unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append(_ESCAPES.get(following, following))
        else:
            out.append(char)
    return "".join(out)


def jaas_options(config: str) -> tuple[str, dict[str, str]]:
    """The login module's class name and its options, from `sasl.jaas.config`.

    >>> jaas_options('x.OAuthBearerLoginModule required clientId="pulse" scope=kafka;')
    ('x.OAuthBearerLoginModule', {'clientId': 'pulse', 'scope': 'kafka'})
    """
    module, _, rest = config.strip().partition(" ")
    options: dict[str, str] = {}
    for found in _JAAS_OPTION.finditer(rest):
        quoted, bare = found[2], found[3]
        options[found[1]] = bare if bare is not None else re.sub(r"\\(.)", r"\1", quoted)
    return module, options


def settings_fields(properties: dict[str, str], source: str) -> dict[str, Any]:
    """The `Settings` fields a properties file sets, or a ConfigError naming the key."""
    for key in properties:
        if key in OWNED:
            _refuse(source, f"{key} is not taken from the file: {OWNED[key]}", f"remove {key}")
        if key not in SUPPORTED:
            _refuse(
                source,
                f"{key} is not a property Pulse can apply",
                "remove it; supported: " + ", ".join(sorted(SUPPORTED)),
            )
    fields: dict[str, Any] = {}
    for key, value in properties.items():
        name = SUPPORTED[key]
        if name is not None:
            fields[name] = Path(value) if name in PATHS else value
    if "broker" in fields:
        hosts = [host.strip() for host in fields["broker"].split(",") if host.strip()]
        fields["broker"] = ";".join(f"kafka://{host}" for host in hosts)
    _check_choice(source, "security.protocol", fields.get("security_protocol"), PROTOCOLS)
    _check_choice(source, "sasl.mechanism", fields.get("sasl_mechanism"), MECHANISMS)
    fields.update(_jaas(properties, source))
    fields.update(_stores(properties, source))
    method = properties.get("sasl.oauthbearer.method", "oidc").lower()
    if method not in ("oidc", "default") or (
        method == "default" and fields.get("sasl_mechanism") == "OAUTHBEARER"
    ):
        _refuse(
            source,
            f"sasl.oauthbearer.method={method} gives no token endpoint",
            "use sasl.oauthbearer.method=oidc with sasl.oauthbearer.token.endpoint.url",
        )
    handler = properties.get("sasl.login.callback.handler.class", _OAUTH_HANDLER)
    if not handler.endswith(_OAUTH_HANDLER):
        _refuse(
            source,
            f"sasl.login.callback.handler.class={handler} is Java code Pulse cannot run",
            "use OAUTHBEARER with sasl.oauthbearer.token.endpoint.url (client credentials)",
        )
    algorithm = properties.get("ssl.endpoint.identification.algorithm")
    if algorithm is not None:
        if algorithm.lower() not in ("", "https"):
            _refuse(source, f"ssl.endpoint.identification.algorithm={algorithm}", "use https")
        fields["ssl_check_hostname"] = algorithm.lower() == "https"
    return fields


def _jaas(properties: dict[str, str], source: str) -> dict[str, Any]:
    config = properties.get("sasl.jaas.config")
    if config is None:
        return {}
    module, options = jaas_options(config)
    if module.endswith(("PlainLoginModule", "ScramLoginModule")):
        return {
            name: options[option]
            for option, name in (("username", "sasl_username"), ("password", "sasl_password"))
            if option in options
        }
    if module.endswith("OAuthBearerLoginModule"):
        named = {"clientId": "oauth_client_id", "clientSecret": "oauth_client_secret"}
        fields = {name: options[option] for option, name in named.items() if option in options}
        if "scope" in options:
            fields["oauth_scope"] = options["scope"]
        return fields
    _refuse(
        source,
        f"sasl.jaas.config names {module or 'no login module'}",
        "use PlainLoginModule, ScramLoginModule or OAuthBearerLoginModule",
    )
    return {}


def _stores(properties: dict[str, str], source: str) -> dict[str, Any]:
    """Java's trust store and key store, when they are PEM files (Python reads no JKS)."""
    fields: dict[str, Any] = {}
    for store in ("truststore", "keystore"):
        location = properties.get(f"ssl.{store}.location")
        kind = properties.get(f"ssl.{store}.type", "JKS" if location else "PEM").upper()
        if kind != "PEM":
            _refuse(
                source,
                f"ssl.{store}.type={kind}: Python's TLS reads PEM files only",
                f"convert it (keytool -importkeystore -deststoretype PKCS12, then openssl "
                f"pkcs12 -nodes) and set ssl.{store}.type=PEM",
            )
        if store == "keystore" and location:
            # A PEM key store holds the certificate chain and the private key.
            fields["ssl_certfile"] = Path(location)
            if "ssl.key.location" not in properties:
                fields["ssl_keyfile"] = Path(location)
    return fields


def _check_choice(source: str, key: str, value: str | None, choices: tuple[str, ...]) -> None:
    if value is not None and value not in choices:
        _refuse(source, f"{key}={value} is not supported", "use one of " + ", ".join(choices))


def _refuse(source: str, problem: str, fix: str) -> None:
    raise ConfigError(source, None, problem, fix)


def read_properties(path: Path) -> dict[str, Any]:
    """The `Settings` fields of a properties file (a ConfigError says what to fix)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            str(path),
            None,
            f"the Kafka client properties cannot be read ({exc})",
            "point PULSE_KAFKA_PROPERTIES at a readable client.properties file",
        ) from None
    return settings_fields(parse_properties(text), str(path))
