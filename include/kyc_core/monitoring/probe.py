"""Canary probes: one free, cheap request per source so availability is known without customer traffic.

Never a paid request. Sirene: one legal unit (free; a 404 is an answer). RNE: the SSO login (free;
the company records are what is billed; beneficial owners come from the same record, so RNE's
probe is theirs). BODACC: the open-data records endpoint
with ``limit=1``. Sanctions lists: a HEAD request on the list file (no body is transferred).
Probes do not go through the breaker (they must reach a source the breaker has shut) and cost
nothing; each is one `source_call` row with operation ``probe``, so the SLA windows see it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp

from kyc_core.monitoring.windows import PROBE
from kyc_core.registry.endpoints import RegistryEndpoints
from kyc_core.resilience.ledger import CallContext, CallRecord

#: Any well-formed SIREN: an unknown one is answered 404, which proves the service answers.
PROBE_SIREN = "552100554"
SIRENE_KEY_HEADER = "X-INSEE-Api-Key-Integration"
BODACC_RECORDS = "api/explore/v2.1/catalog/datasets/annonces-commerciales/records"


@dataclass(frozen=True)
class ProbeTarget:
    """One probe request; `body` is sent as JSON. The secret fields never appear in a repr."""

    source: str
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    body: dict | None = field(default=None, repr=False)


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


def register_targets(endpoints: RegistryEndpoints) -> list[ProbeTarget]:
    """Probes of Sirene, RNE and BODACC."""
    sirene_headers = {SIRENE_KEY_HEADER: endpoints.sirene.secret} if endpoints.sirene.secret else {}
    login = {"username": endpoints.rne.login or "", "password": endpoints.rne.secret or ""}
    rne_login = _join(endpoints.rne.base_url, "api/sso/login")
    return [
        ProbeTarget(
            "sirene", "GET", _join(endpoints.sirene.base_url, f"siren/{PROBE_SIREN}"), sirene_headers
        ),
        ProbeTarget("rne", "POST", rne_login, body=login),
        ProbeTarget("bodacc", "GET", _join(endpoints.bodacc.base_url, BODACC_RECORDS) + "?limit=1"),
    ]


def list_targets(urls: dict[str, str]) -> list[ProbeTarget]:
    """A HEAD on each list's file, keyed by guard source."""
    return [ProbeTarget(source, "HEAD", url) for source, url in urls.items()]


def outcome_of_status(status: int) -> str:
    """Ledger outcome of a probe answer."""
    if 200 <= status < 400:
        return "ok"
    if status == 404:
        return "not_found"
    return "error"


async def probe_one(session: aiohttp.ClientSession, target: ProbeTarget, context: CallContext) -> CallRecord:
    """Run one probe; its ledger row (never raises)."""
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    status: int | None = None
    error_class: str | None = None
    try:
        async with session.request(
            target.method, target.url, headers=target.headers, json=target.body
        ) as resp:
            status = resp.status
            await resp.read()
        outcome = outcome_of_status(status)
        if outcome == "error":
            error_class = {401: "SourceUnusable", 403: "SourceUnusable", 429: "QuotaExceeded"}.get(
                status, "TransientSourceError"
            )
    except TimeoutError:
        outcome, error_class = "timeout", "TimeoutError"
    except (aiohttp.ClientError, OSError) as exc:
        outcome, error_class = "error", type(exc).__name__
    return CallRecord(
        source=target.source,
        operation=PROBE,
        started_at=started,
        latency_ms=round((time.perf_counter() - t0) * 1000.0, 3),
        outcome=outcome,
        http_status=status,
        error_class=error_class,
        run_id=context.run_id,
        task_id=context.task_id,
    )


async def run_probes(
    targets: Iterable[ProbeTarget], *, context: CallContext | None = None, timeout_s: float = 10.0
) -> list[CallRecord]:
    """Every probe concurrently, each bounded by `timeout_s`."""
    context = context or CallContext()
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        return list(await asyncio.gather(*(probe_one(session, t, context) for t in targets)))
