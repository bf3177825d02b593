"""Downloading list files through the resilience guard, streamed to disk, never cached.

A list download is not cached at all: the stored version is the fallback when a source is down, and
a cached file could only delay a new designation (the design allows at most an hour; none is safer).
Every attempt goes through the source's breaker and retries and leaves one `source_call` row.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from kyc_core.errors import MalformedResponse, RecordNotFound, SourceUnusable
from kyc_core.lists.sources import ListFile, ListSource
from kyc_core.resilience.guard import SourceGuard
from kyc_core.sources.http import classify, client_errors_classified

log = logging.getLogger(__name__)

#: Whole-file budget: the largest official file (OFAC advanced XML) is about 120 MB.
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=900, connect=15, sock_read=120)
_CHUNK = 1 << 16
_HTML_STARTS = (b"<!doctype html", b"<html")


@dataclass(frozen=True, slots=True)
class Downloaded:
    """One file written to disk: where, how big, its SHA-256 and the HTTP status."""

    path: Path
    size: int
    sha256: str
    http_status: int


def _looks_like_html(content_type: str, head: bytes) -> bool:
    """Gateways answer maintenance windows with a 200 HTML page instead of the file."""
    return content_type == "text/html" or head.lstrip()[:14].lower().startswith(_HTML_STARTS)


async def fetch_file(
    session: aiohttp.ClientSession,
    file: ListFile,
    target: Path,
    *,
    source: str,
    timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
) -> Downloaded:
    """One HTTP attempt writing `file` to `target`; raises the classified SourceError on failure."""
    operation = f"download:{file.name}"
    digest = hashlib.sha256()
    size = 0
    with client_errors_classified(source, operation, url_kind="list URL"):
        async with session.get(file.url, timeout=timeout, headers={"Accept": "*/*"}) as resp:
            if not 200 <= resp.status < 300:
                body = await resp.read()
                try:
                    classify(source, operation, resp.status, dict(resp.headers), resp.content_type, body)
                except RecordNotFound as exc:
                    # A list file is always published: 404 means the configured URL is wrong.
                    raise SourceUnusable(
                        source,
                        "list file not found (404): check the configured URL",
                        operation=operation,
                        http_status=404,
                    ) from exc
            with target.open("wb") as handle:
                first = True
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    if first and _looks_like_html(resp.content_type, chunk):
                        raise MalformedResponse(
                            source,
                            "HTML page instead of the list file",
                            operation=operation,
                            http_status=resp.status,
                        )
                    first = False
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            status = resp.status
    if size == 0:
        raise MalformedResponse(source, "empty body", operation=operation, http_status=status)
    return Downloaded(target, size, digest.hexdigest(), status)


async def download_source(
    list_source: ListSource,
    directory: Path,
    guard: SourceGuard,
    *,
    timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
) -> list[Downloaded]:
    """Every file of one list into `directory`, each through the guard (breaker, retries, ledger)."""
    done: list[Downloaded] = []
    try:
        async with aiohttp.ClientSession() as session:
            for file in list_source.files:
                target = directory / file.name

                async def attempt(file: ListFile = file, target: Path = target) -> Downloaded:
                    return await fetch_file(session, file, target, source=list_source.source, timeout=timeout)

                guarded = await guard.call(f"download:{file.name}", file.url, attempt, cacheable=False)
                done.append(guarded.value)
                log.info(
                    "list=%s file=%s bytes=%d attempts=%d sha256=%s",
                    list_source.list_key,
                    file.name,
                    guarded.value.size,
                    guarded.attempts,
                    guarded.value.sha256[:16],
                )
    finally:
        await guard.aclose()
    return done
