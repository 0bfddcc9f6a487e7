"""SASL OAUTHBEARER tokens from an OIDC token endpoint (the client credentials grant).

What Java clients do with `OAuthBearerLoginCallbackHandler` (KIP-768): POST
`grant_type=client_credentials` (and `scope`) to the endpoint with the client id and
secret as HTTP Basic credentials, use the `access_token` it answers, and fetch a new one
before it expires (at 80 % of `expires_in`). aiokafka calls `token()` at every connection.
"""

from __future__ import annotations

import asyncio
import base64
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Final

import orjson
from aiokafka.abc import AbstractTokenProvider

from streams.core.errors import ConfigError

REFRESH_AT: Final = 0.8  # of the token's lifetime
DEFAULT_LIFETIME_S: Final = 300.0  # when the endpoint gives no expires_in
TIMEOUT_S: Final = 10.0


class TokenError(Exception):
    """The token endpoint gave no usable token; the message says what it answered."""


class ClientCredentialsTokens(AbstractTokenProvider):  # type: ignore[misc] # untyped base
    """Bearer tokens for the Kafka connection, fetched and refreshed from `url`."""

    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str,
        scope: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.clock = clock
        self.fetched = 0  # tokens fetched so far (tests, logs)
        self._token = ""
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:  # connections opened together share one fetch
            if not self._token or self.clock() >= self._refresh_at:
                token, lifetime = await asyncio.to_thread(self.fetch)
                self._token, self._refresh_at = token, self.clock() + REFRESH_AT * lifetime
            return self._token

    def fetch(self) -> tuple[str, float]:
        """One token and its lifetime in seconds (blocking: runs off the event loop)."""
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        # RFC 6749 §2.3.1: id and secret form-encoded, then Basic.
        pair = f"{_quote(self.client_id)}:{_quote(self.client_secret)}"
        request = urllib.request.Request(  # noqa: S310 - the URL's scheme is checked
            self.url,
            data=urllib.parse.urlencode(form).encode(),
            headers={
                "Authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310
                body = answer.read(1 << 20)
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace")
            raise TokenError(
                f"the token endpoint {self.url} answered {exc.code}: {detail} "
                "(check sasl.oauthbearer client id, secret and scope)"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise TokenError(f"the token endpoint {self.url} cannot be reached: {exc}") from None
        try:
            answer_json = orjson.loads(body)
            token = answer_json["access_token"]
            lifetime = float(answer_json.get("expires_in", DEFAULT_LIFETIME_S))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise TokenError(
                f"the token endpoint {self.url} answered no access_token: {body[:200]!r}"
            ) from None
        if not isinstance(token, str) or not token:
            raise TokenError(f"the token endpoint {self.url} answered an empty access_token")
        self.fetched += 1
        return token, max(lifetime, 1.0)


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def token_provider(
    url: str, client_id: str | None, client_secret: str | None, scope: str
) -> ClientCredentialsTokens:
    """The provider for OAUTHBEARER settings, or a ConfigError saying what is missing."""
    missing = [
        name
        for name, value in (
            ("PULSE_OAUTH_TOKEN_URL (sasl.oauthbearer.token.endpoint.url)", url),
            ("PULSE_OAUTH_CLIENT_ID (clientId)", client_id),
            ("PULSE_OAUTH_CLIENT_SECRET (clientSecret)", client_secret),
        )
        if not value
    ]
    if missing:
        raise ConfigError(
            "settings",
            None,
            "SASL OAUTHBEARER needs " + ", ".join(missing),
            "set them, or put them in PULSE_KAFKA_PROPERTIES",
        )
    if not url.startswith(("https://", "http://")):
        raise ConfigError(
            "settings",
            None,
            f"the OAuth token endpoint {url!r} is not an http(s) URL",
            "use https://your-identity-provider/…/token",
        )
    assert client_id is not None and client_secret is not None
    return ClientCredentialsTokens(url, client_id, client_secret, scope)
