"""Helpers for the connector tests: real sample loading and a loopback HTTP server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


def real_json(shared_data: Path, relative: str) -> Any:
    """A recorded response from ../shared/data/real, unwrapped from its recording envelope."""
    data = json.loads((shared_data / "real" / relative).read_text(encoding="utf-8"))
    if isinstance(data, dict):
        for envelope in ("response", "result"):
            if envelope in data and ("match" in data or "searchTerms" in data):
                return data[envelope]
    return data


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run `app` on 127.0.0.1 with a random port; yield its base URL."""
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@asynccontextmanager
async def raw_server(payload: bytes) -> AsyncIterator[str]:
    """A TCP server that answers every connection with `payload` verbatim, then closes it."""
    import asyncio

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(payload)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


class RecordingGuard:
    """A stand-in for the resilience layer: records each call and runs `fetch` `attempts` times."""

    def __init__(self, attempts: int = 1):
        self.calls: list[tuple[str, str]] = []
        self.decoders: list[Callable[[bytes, int | None], Any] | None] = []
        self.attempts = attempts

    async def call(
        self,
        operation: str,
        request_key: str,
        fetch: Callable[[], Awaitable[Any]],
        *,
        decode: Callable[[bytes, int | None], Any] | None = None,
    ) -> Any:
        """Run the single-attempt factory as a retrying guard would."""
        self.calls.append((operation, request_key))
        self.decoders.append(decode)
        result = None
        for _ in range(self.attempts):
            result = await fetch()
        return result


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response with the exact bytes the test controls."""
    return web.Response(
        body=json.dumps(data).encode(), status=status, content_type="application/json", headers=headers
    )
