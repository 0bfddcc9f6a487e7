"""A local OIDC token endpoint for tests: the client credentials grant, unsecured JWTs.

Kafka's default OAUTHBEARER validator accepts unsecured JWTs (`alg: none`) with `sub` and
`exp`, which is what this endpoint issues to a client that presents the right id and
secret (HTTP Basic); anything else gets the 401 a real identity provider answers.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


def unsecured_jwt(subject: str, lifetime_s: int) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    return f"{part({'alg': 'none'})}.{part({'sub': subject, 'iat': now, 'exp': now + lifetime_s})}."


class TokenServer:
    """`with TokenServer("pulse", "s3cret") as server:` … `server.url`, `server.issued`."""

    def __init__(self, client_id: str, client_secret: str, lifetime_s: int = 600) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.lifetime_s = lifetime_s
        self.issued = 0
        self.refused = 0
        self.scopes: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                auth = self.headers.get("Authorization", "")
                expected = f"{server.client_id}:{server.client_secret}".encode()
                good = auth == "Basic " + base64.b64encode(expected).decode()
                if not good or form.get("grant_type") != ["client_credentials"]:
                    server.refused += 1
                    self._answer(401, {"error": "invalid_client"})
                    return
                server.issued += 1
                server.scopes.extend(form.get("scope", []))
                token = unsecured_jwt(server.client_id, server.lifetime_s)
                body = {"access_token": token, "token_type": "Bearer"}
                self._answer(200, {**body, "expires_in": server.lifetime_s})

            def _answer(self, status: int, body: dict[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/oauth2/token"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> TokenServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._http.shutdown()
        self._http.server_close()
