"""Connection options shared by Faust and the plain aiokafka clients Pulse uses."""

from __future__ import annotations

import ssl
from typing import Any

from streams.settings import Settings
from streams.worker.oauth import ClientCredentialsTokens, token_provider


def bootstrap_servers(broker_url: str) -> str:
    """`kafka://h1:9092;kafka://h2:9092` → `h1:9092,h2:9092`."""
    hosts = []
    for part in broker_url.replace(",", ";").split(";"):
        part = part.strip()
        if part:
            hosts.append(part.split("://", 1)[-1])
    return ",".join(hosts)


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if "SSL" not in settings.security_protocol:
        return None
    context = ssl.create_default_context(
        cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
    )
    # Off only when asked (ssl.endpoint.identification.algorithm=): the chain is still checked.
    context.check_hostname = settings.ssl_check_hostname
    if settings.ssl_certfile is not None:
        # Client certificate (mutual TLS): the broker authenticates the worker by it.
        context.load_cert_chain(
            str(settings.ssl_certfile),
            str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
            settings.ssl_key_password,
        )
    return context


def oauth_tokens(settings: Settings) -> ClientCredentialsTokens | None:
    """The OAUTHBEARER token provider, when the settings ask for OAUTHBEARER."""
    if not settings.security_protocol.startswith("SASL") or settings.sasl_mechanism != (
        "OAUTHBEARER"
    ):
        return None
    return token_provider(
        settings.oauth_token_url,
        settings.oauth_client_id,
        settings.oauth_client_secret,
        settings.oauth_scope,
    )


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer / AIOKafkaConsumer / admin clients."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers(settings.broker_urls()),
        "security_protocol": settings.security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.sasl_mechanism
        tokens = oauth_tokens(settings)
        if tokens is not None:
            options["sasl_oauth_token_provider"] = tokens
        else:
            options["sasl_plain_username"] = settings.sasl_username
            options["sasl_plain_password"] = settings.sasl_password
    return options


def faust_credentials(settings: Settings) -> Any:
    """Faust's credentials object for the same settings (None for PLAINTEXT)."""
    import faust

    context = ssl_context(settings)
    tokens = oauth_tokens(settings)
    if tokens is not None:
        return faust.OAuthCredentials(oauth_cb=tokens, ssl_context=context)
    if settings.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password,
            mechanism=settings.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
