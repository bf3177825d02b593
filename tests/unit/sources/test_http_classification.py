"""Every kind of bad answer is classified into the error class operators act on."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from kyc_core.errors import (
    MalformedResponse,
    QuotaExceeded,
    RecordNotFound,
    SourceUnusable,
    TransientSourceError,
)
from kyc_core.sources.http import SourceTimeout, classify, quota_reset_at, request_json
from sources_testkit import json_response, raw_server, serve

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _app() -> web.Application:
    """Routes that each misbehave in one way."""

    async def html_ok(request):
        return web.Response(text="<html><body>Maintenance</body></html>", content_type="text/html")

    async def html_502(request):
        return web.Response(text="<html>Bad gateway</html>", status=502, content_type="text/html")

    async def truncated_json(request):
        return web.Response(body=b'{"header": {"statut": 200, "mess', content_type="application/json")

    async def malformed_json(request):
        return web.Response(body=b"{'header': {'statut': 200}}", content_type="application/json")

    async def wrong_type(request):
        return web.Response(body=b'{"header": {"statut": 200}}', content_type="text/plain")

    async def empty(request):
        return web.Response(body=b"", content_type="application/json")

    async def status(request):
        code = int(request.match_info["code"])
        return json_response({"header": {"statut": code, "message": "x"}}, status=code)

    async def quota(request):
        headers = {request.query["h"]: request.query["v"]} if "h" in request.query else None
        return json_response({"message": "quota"}, status=429, headers=headers)

    async def slow(request):
        await asyncio.sleep(2)
        return json_response({})

    async def ok(request):
        return web.Response(body=b'{"ok": true}', content_type="application/problem+json")

    app = web.Application()
    app.router.add_get("/html-ok", html_ok)
    app.router.add_get("/html-502", html_502)
    app.router.add_get("/truncated", truncated_json)
    app.router.add_get("/malformed", malformed_json)
    app.router.add_get("/wrong-type", wrong_type)
    app.router.add_get("/empty", empty)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/quota", quota)
    app.router.add_get("/slow", slow)
    app.router.add_get("/ok", ok)
    return app


async def _call(path: str, *, timeout_s: float = 5.0, params=None):
    async with serve(_app()) as base, aiohttp.ClientSession() as session:
        return await request_json(
            session,
            "GET",
            base + path,
            source="sirene",
            operation="legal_unit",
            params=params,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        )


def _raised(path: str, **kwargs) -> Exception:
    with pytest.raises(Exception) as info:
        asyncio.run(_call(path, **kwargs))
    return info.value


@pytest.mark.parametrize(
    ("path", "error", "fragment"),
    [
        ("/html-ok", MalformedResponse, "HTML page"),
        ("/truncated", MalformedResponse, "truncated JSON"),
        ("/malformed", MalformedResponse, "malformed JSON"),
        ("/wrong-type", MalformedResponse, "wrong content type 'text/plain'"),
        ("/empty", MalformedResponse, "empty body"),
        ("/status/404", RecordNotFound, "not found"),
        ("/status/401", SourceUnusable, "401"),
        ("/status/403", SourceUnusable, "403"),
        ("/status/400", SourceUnusable, "rejected"),
        ("/status/500", TransientSourceError, "server error 500"),
        ("/status/503", TransientSourceError, "server error 503"),
        ("/html-502", TransientSourceError, "server error 502"),
    ],
)
def test_bad_answers_are_classified(path, error, fragment):
    exc = _raised(path)
    assert type(exc) is error
    assert fragment in str(exc)
    assert exc.source == "sirene" and exc.operation == "legal_unit"
    assert exc.http_status == (
        200 if error is MalformedResponse else int(path.rsplit("/", 1)[-1].replace("html-", ""))
    )


def test_not_found_is_an_answer_and_malformed_is_a_retryable_failure():
    not_found = _raised("/status/404")
    assert not not_found.counts_as_failure and not not_found.retryable
    malformed = _raised("/malformed")
    assert malformed.counts_as_failure and malformed.retryable
    unusable = _raised("/status/401")
    assert not unusable.retryable


def test_quota_with_retry_after_seconds_gives_reset_time():
    before = datetime.now(UTC)
    exc = _raised("/quota", params={"h": "Retry-After", "v": "120"})
    assert isinstance(exc, QuotaExceeded) and exc.http_status == 429
    assert before + timedelta(seconds=119) <= exc.reset_at <= datetime.now(UTC) + timedelta(seconds=121)


def test_quota_without_headers_has_no_reset_time():
    exc = _raised("/quota")
    assert isinstance(exc, QuotaExceeded) and exc.reset_at is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "90"}, NOW + timedelta(seconds=90)),
        ({"Retry-After": "Mon, 02 Mar 2026 13:30:00 GMT"}, datetime(2026, 3, 2, 13, 30, tzinfo=UTC)),
        (
            {"X-RateLimit-Reset": str(int(datetime(2026, 3, 3, tzinfo=UTC).timestamp()))},
            datetime(2026, 3, 3, tzinfo=UTC),
        ),
        (
            {"x-ratelimit-reset": str(int(datetime(2026, 3, 3, tzinfo=UTC).timestamp()) * 1000)},
            datetime(2026, 3, 3, tzinfo=UTC),
        ),
        ({"RateLimit-Reset": "30"}, NOW + timedelta(seconds=30)),
        ({"X-RateLimit-Reset": "2026-03-03T00:00:00Z"}, datetime(2026, 3, 3, tzinfo=UTC)),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_quota_reset_header_shapes(headers, expected):
    assert quota_reset_at(headers, now=NOW) == expected


def test_classify_passes_structured_json_types():
    assert classify("bodacc", "notices", 200, {}, "application/json", b'{"results": []}') == {"results": []}
    assert asyncio.run(_call("/ok")).data == {"ok": True}


def test_slow_answer_is_a_timeout():
    exc = _raised("/slow", timeout_s=0.2)
    assert type(exc) is SourceTimeout
    assert exc.retryable and exc.counts_as_failure


def test_refused_connection_is_transient():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def call():
        async with aiohttp.ClientSession() as session:
            await request_json(
                session, "GET", f"http://127.0.0.1:{port}/x", source="rne", operation="company"
            )

    with pytest.raises(TransientSourceError) as info:
        asyncio.run(call())
    assert type(info.value) is TransientSourceError
    assert "connection error" in str(info.value)


def test_body_cut_before_content_length_is_malformed():
    payload = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n"
        b'Connection: close\r\n\r\n{"header": {"statut": 200, "message": "OK"}, "uniteLegale": {"siren": "88'
    )

    async def call():
        async with raw_server(payload) as base, aiohttp.ClientSession() as session:
            await request_json(
                session, "GET", base + "/siren/880878145", source="sirene", operation="legal_unit"
            )

    with pytest.raises(MalformedResponse) as info:
        asyncio.run(call())
    assert "truncated body" in str(info.value)


def test_unusable_base_url_is_a_configuration_error():
    async def call():
        async with aiohttp.ClientSession() as session:
            await request_json(session, "GET", "http://[::1/x", source="bodacc", operation="notices")

    with pytest.raises(SourceUnusable) as info:
        asyncio.run(call())
    assert "base URL" in str(info.value)
