"""One HTTP attempt and the classification of its outcome into the error classes callers act on.

Every registry client goes through :func:`request_json`, so a given HTTP symptom means the same
thing for every source: 404 is an answer, 401/403 are configuration, 429 is a quota, 5xx and network
trouble are transient, and any body that is not the JSON we asked for is malformed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from kyc_core.errors import (
    MalformedResponse,
    QuotaExceeded,
    RecordNotFound,
    SourceError,
    SourceUnusable,
    TransientSourceError,
)

log = logging.getLogger(__name__)

#: Opendatasoft, INSEE's gateway and others announce the quota reset under one of these names.
_RESET_HEADERS = ("X-RateLimit-Reset", "RateLimit-Reset", "X-Ratelimit-Reset-After")
#: Below this a numeric reset header is a delay in seconds; above it, a Unix timestamp.
_EPOCH_THRESHOLD = 1_000_000_000


class SourceTimeout(TransientSourceError):
    """The source did not answer within the configured time (the ledger records it as a timeout)."""


class RecordNotDiffusible(RecordNotFound):
    """The record exists but its holder refused public diffusion: an answer, like "not found"."""


#: A source-specific reading of an error answer (status, body) that takes precedence over the generic one.
Refine = Callable[[int, bytes], SourceError | None]


@dataclass(frozen=True)
class RawResponse:
    """A successful HTTP answer: status, exact body bytes and the decoded JSON."""

    status: int
    body: bytes
    data: Any
    url: str
    headers: Mapping[str, str]


@contextmanager
def client_errors_classified(source: str, operation: str, *, url_kind: str = "base URL") -> Iterator[None]:
    """The one place where aiohttp's exceptions become the source error taxonomy."""
    try:
        yield
    except TimeoutError as exc:
        raise SourceTimeout(source, "no complete answer within the timeout", operation=operation) from exc
    except aiohttp.ClientPayloadError as exc:
        # The server closed before sending Content-Length bytes: a cut-off body, not a network blip.
        raise MalformedResponse(source, "truncated body (payload incomplete)", operation=operation) from exc
    except aiohttp.InvalidURL as exc:
        raise SourceUnusable(source, f"invalid {url_kind} in configuration", operation=operation) from exc
    except aiohttp.ClientResponseError as exc:
        raise TransientSourceError(
            source, f"unreadable HTTP response ({exc.status})", operation=operation, http_status=exc.status
        ) from exc
    except aiohttp.ClientError as exc:
        raise TransientSourceError(source, f"connection error ({type(exc).__name__})", operation=operation) from exc


async def request_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    source: str,
    operation: str,
    params: Mapping[str, str | int] | list[tuple[str, str | int]] | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    timeout: aiohttp.ClientTimeout | None = None,
    semaphore: asyncio.Semaphore | None = None,
    refine: Refine | None = None,
) -> RawResponse:
    """Perform exactly one HTTP request and return its JSON, or raise the classified SourceError."""
    with client_errors_classified(source, operation):
        if semaphore is None:
            status, body, resp_headers, content_type, final_url = await _send(
                session, method, url, params, headers, json_body, timeout
            )
        else:
            async with semaphore:
                status, body, resp_headers, content_type, final_url = await _send(
                    session, method, url, params, headers, json_body, timeout
                )
    log.debug("source=%s operation=%s status=%s bytes=%d", source, operation, status, len(body))
    if refine is not None and not 200 <= status < 300:
        refined = refine(status, body)
        if refined is not None:
            raise refined
    data = classify(source, operation, status, resp_headers, content_type, body)
    return RawResponse(status=status, body=body, data=data, url=final_url, headers=resp_headers)


async def _send(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    params: Any,
    headers: Mapping[str, str] | None,
    json_body: Any,
    timeout: aiohttp.ClientTimeout | None,
) -> tuple[int, bytes, Mapping[str, str], str, str]:
    """Send the request and read the whole body inside the timeout."""
    request_headers = {"Accept": "application/json", **(headers or {})}
    async with session.request(
        method, url, params=params, headers=request_headers, json=json_body, timeout=timeout
    ) as resp:
        body = await resp.read()
        return resp.status, body, dict(resp.headers), resp.content_type, str(resp.url)


def classify(
    source: str,
    operation: str,
    status: int,
    headers: Mapping[str, str],
    content_type: str,
    body: bytes,
    *,
    now: datetime | None = None,
) -> Any:
    """Decoded JSON of a 2xx answer, or raise the SourceError matching the status and body."""
    kwargs: dict[str, Any] = {"operation": operation, "http_status": status}
    if status == 404:
        raise RecordNotFound(source, "record not found", **kwargs)
    if status in (401, 403):
        raise SourceUnusable(
            source, f"access refused ({status}): check credentials and entitlements", **kwargs
        )
    if status == 429:
        reset_at = quota_reset_at(headers, now=now)
        raise QuotaExceeded(source, "quota exceeded", reset_at=reset_at, **kwargs)
    if status == 408:
        raise SourceTimeout(source, "request timeout reported by the source", **kwargs)
    if status >= 500:
        raise TransientSourceError(source, f"server error {status}", **kwargs)
    if 400 <= status < 500:
        raise SourceUnusable(source, f"request rejected ({status})", **kwargs)
    if not 200 <= status < 300:
        raise MalformedResponse(source, f"unexpected status {status}", **kwargs)
    return decode_json_body(source, operation, status, content_type, body)


def decode_json_body(source: str, operation: str, status: int, content_type: str, body: bytes) -> Any:
    """Decoded JSON body, or MalformedResponse for HTML pages, wrong content types, truncated or bad JSON."""
    kwargs: dict[str, Any] = {"operation": operation, "http_status": status}
    stripped = body.lstrip()
    # Gateways in front of these APIs (INSEE's, Opendatasoft's) answer outages with a 200 HTML page.
    if content_type == "text/html" or stripped[:1] == b"<":
        raise MalformedResponse(source, "HTML page instead of JSON", **kwargs)
    if not _is_json_type(content_type):
        raise MalformedResponse(source, f"wrong content type {content_type or 'none'!r}", **kwargs)
    if not stripped:
        raise MalformedResponse(source, "empty body", **kwargs)
    try:
        return json.loads(body)
    except UnicodeDecodeError as exc:
        raise MalformedResponse(source, "body is not UTF-8", **kwargs) from exc
    except json.JSONDecodeError as exc:
        what = "truncated JSON" if _looks_truncated(body) else "malformed JSON"
        raise MalformedResponse(source, f"{what} at byte {exc.pos}", **kwargs) from exc


def _looks_truncated(body: bytes) -> bool:
    """True when the body ends inside a string or with brackets still open (cut off, not garbled)."""
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):  # { [
            depth += 1
        elif byte in (0x7D, 0x5D):  # } ]
            depth -= 1
    return in_string or depth > 0


def _is_json_type(content_type: str) -> bool:
    """True for application/json and the structured-syntax +json types."""
    return content_type == "application/json" or content_type.endswith("+json")


def quota_reset_at(headers: Mapping[str, str], *, now: datetime | None = None) -> datetime | None:
    """When the quota resets, from Retry-After or a rate-limit reset header; None when not announced."""
    now = now or datetime.now(UTC)
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = lowered.get("retry-after")
    if retry_after:
        parsed = _parse_retry_after(retry_after.strip(), now)
        if parsed is not None:
            return parsed
    for name in _RESET_HEADERS:
        value = lowered.get(name.lower())
        if value:
            parsed = _parse_reset_value(value.strip(), now)
            if parsed is not None:
                return parsed
    return None


def _parse_retry_after(value: str, now: datetime) -> datetime | None:
    """RFC 9110 Retry-After: delay in seconds or an HTTP-date."""
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_reset_value(value: str, now: datetime) -> datetime | None:
    """A reset header: seconds to wait, a Unix timestamp (s or ms), or an ISO date-time."""
    try:
        number = float(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if number >= _EPOCH_THRESHOLD * 1000:
        number /= 1000
    if number >= _EPOCH_THRESHOLD:
        return datetime.fromtimestamp(number, tz=UTC)
    return now + timedelta(seconds=number)
