"""Small blocking HTTP client for the emulator tests (standard library only, sees every failure mode)."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from dataclasses import dataclass

SIRENE_KEY = {"X-INSEE-Api-Key-Integration": "emulator-sirene-key"}


@dataclass
class Reply:
    """Status, headers and raw body of one response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def call(method: str, url: str, headers: dict | None = None, payload=None, timeout: float = 10) -> Reply:
    """One HTTP request; raises the client's own exception on resets and short bodies."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    body = json.dumps(payload).encode() if payload is not None else None
    all_headers = {"Content-Type": "application/json"} if body is not None else {}
    all_headers.update(headers or {})
    try:
        conn.request(method, parts.path + ("?" + parts.query if parts.query else ""), body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def get(url: str, headers: dict | None = None, **params) -> Reply:
    """GET with query parameters."""
    if params:
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params, doseq=True)
    return call("GET", url, headers)


def rne_token(rne_base: str, username: str = "kyc@emulator.test", password: str = "kyc-password") -> str:
    """Log in to the emulated RNE and return the bearer token."""
    reply = call("POST", rne_base + "/api/sso/login", payload={"username": username, "password": password})
    assert reply.status == 200, reply.body
    return reply.json()["token"]
