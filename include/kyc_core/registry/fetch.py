"""A company's registry data: Sirene, RNE, RBE and BODACC fetched concurrently behind their guards.

Every answer is stored verbatim as a `registry_snapshot` row, every call lands in the ledger, and each
source's outcome is reported as it is (ok, not found, unavailable with its error class). Whether an
unavailable source blocks a decision is the policy's call, made later: here nothing is hidden.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import aiohttp

from kyc_core.errors import (
    CircuitOpen,
    QuotaExceeded,
    RateLimited,
    RecordNotFound,
    SourceError,
    SourceUnusable,
    TransientSourceError,
)
from kyc_core.registry.endpoints import RegistryEndpoints
from kyc_core.registry.events import breaker_audit_callback, fetch_idempotency_key, record_fetch_events
from kyc_core.registry.snapshots import SnapshotRow, store_snapshots
from kyc_core.resilience import CallContext, CallLedger, SourceGuard, StateBackend, get_backend, get_ledger
from kyc_core.resilience.backend import RedisBackend
from kyc_core.resilience.config import load_source_config
from kyc_core.resilience.infra import (
    INFRASTRUCTURE_UNAVAILABLE,
    KYC_DATABASE,
    InfrastructureUnavailable,
    database_unavailable,
    record_infrastructure_event,
)
from kyc_core.sources import BodaccClient, RneClient, SireneClient
from kyc_core.sources.base import Fetched, checked_siren
from kyc_core.sources.models import (
    BeneficialOwnersAvailability,
    BeneficialOwnersResult,
    BodaccNotice,
    Company,
    RneRecord,
)
from kyc_core.sources.parsing import as_dict
from kyc_core.sources.rne import single_record
from kyc_core.sources.sirene import with_establishments
from kyc_core.store.audit import EventType
from kyc_core.store.db import session_scope

log = logging.getLogger(__name__)

#: The guarded sources of one company lookup; RBE is the RNE's beneficial-owner block, priced apart.
SOURCES = ("sirene", "rne", "rbe", "bodacc")


class SourceState(StrEnum):
    """What one source answered for one company."""

    OK = "ok"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"


class Unavailability(StrEnum):
    """Why a source could not answer; operators and the policy act on these."""

    CIRCUIT_OPEN = "circuit_open"
    QUOTA = "quota"
    TRANSIENT = "transient"
    UNUSABLE = "unusable"
    #: Not the register: Redis (shared breaker/limit/cache state) failed, so it was not consulted.
    INFRASTRUCTURE = INFRASTRUCTURE_UNAVAILABLE


def classify(exc: SourceError | InfrastructureUnavailable) -> tuple[SourceState, Unavailability | None]:
    """The reported state of a source that raised `exc` (or could not be called because of our infrastructure)."""
    if isinstance(exc, InfrastructureUnavailable):
        return SourceState.UNAVAILABLE, Unavailability.INFRASTRUCTURE
    if isinstance(exc, RecordNotFound):
        return SourceState.NOT_FOUND, None
    if isinstance(exc, CircuitOpen):
        return SourceState.UNAVAILABLE, Unavailability.CIRCUIT_OPEN
    if isinstance(exc, (QuotaExceeded, RateLimited)):
        return SourceState.UNAVAILABLE, Unavailability.QUOTA
    if isinstance(exc, SourceUnusable):
        return SourceState.UNAVAILABLE, Unavailability.UNUSABLE
    return SourceState.UNAVAILABLE, Unavailability.TRANSIENT


@dataclass(frozen=True)
class SourceOutcome:
    """One source's answer for one company, without any of the data itself."""

    source: str
    state: SourceState
    error: Unavailability | None = None
    error_class: str | None = None
    from_cache: bool = False
    snapshot_ids: tuple[int, ...] = ()

    def summary(self) -> dict[str, Any]:
        """JSON-safe view (states, error class names, ids)."""
        return {
            "status": self.state.value,
            "error": self.error.value if self.error else None,
            "error_class": self.error_class,
            "from_cache": self.from_cache,
            "snapshot_ids": list(self.snapshot_ids),
        }


@dataclass(frozen=True)
class CompanyFetchResult:
    """Everything fetched for one SIREN: per-source outcomes, snapshot ids and the parsed models."""

    siren: str
    customer_id: str | None
    outcomes: Mapping[str, SourceOutcome]
    snapshot_ids: tuple[int, ...]
    snapshots_new: int
    company: Company | None = None
    rne: RneRecord | None = None
    beneficial_owners: BeneficialOwnersResult | None = None
    notices: tuple[BodaccNotice, ...] | None = None

    @property
    def unavailable(self) -> list[str]:
        """Sources that could not be consulted."""
        return [s for s, o in self.outcomes.items() if o.state is SourceState.UNAVAILABLE]

    @property
    def unusable(self) -> list[str]:
        """Sources refused by configuration or credentials (no retry can help)."""
        return [s for s, o in self.outcomes.items() if o.error is Unavailability.UNUSABLE]

    @property
    def infrastructure(self) -> list[str]:
        """Sources not consulted because Redis failed (not the registers' fault; a later try may succeed)."""
        return [s for s, o in self.outcomes.items() if o.error is Unavailability.INFRASTRUCTURE]

    @property
    def transient(self) -> list[str]:
        """Sources that may answer on a later try (transient error, open breaker, spent quota)."""
        return [s for s in self.unavailable if s not in self.unusable]

    def summary(self) -> dict[str, Any]:
        """Ids, counts and states only: safe for XCom, logs and audit payloads (no personal data)."""
        owners = self.beneficial_owners
        return {
            "siren": self.siren,
            "customer_id": self.customer_id,
            "sources": {name: outcome.summary() for name, outcome in self.outcomes.items()},
            "unavailable": self.unavailable,
            "snapshot_ids": list(self.snapshot_ids),
            "snapshots_new": self.snapshots_new,
            "beneficial_owners": owners.availability.value if owners else None,
            "counts": {
                "establishments": len(self.company.establishments) if self.company else 0,
                "officers": len(self.rne.officers) if self.rne else 0,
                "beneficial_owners": len(owners.owners) if owners else 0,
                "notices": len(self.notices) if self.notices is not None else 0,
            },
        }


@dataclass
class _Part:
    """What one source task produced: its answers to store, its model, or the error it ended with."""

    source: str
    rows: list[SnapshotRow] = field(default_factory=list)
    model: Any = None
    error: SourceError | InfrastructureUnavailable | None = None
    #: Class of an unexpected exception reported through `error` as a transient failure.
    error_class: str | None = None

    def add(self, operation: str, request_key: str, fetched: Fetched) -> None:
        """Keep one raw answer for the snapshot table."""
        self.rows.append(SnapshotRow(self.source, operation, request_key, fetched, datetime.now(UTC)))

    def outcome(self, snapshot_ids: Sequence[int]) -> SourceOutcome:
        """The reported outcome once the answers are stored."""
        from_cache = bool(self.rows) and all(r.fetched.from_cache for r in self.rows)
        if self.error is None:
            return SourceOutcome(
                self.source, SourceState.OK, from_cache=from_cache, snapshot_ids=tuple(snapshot_ids)
            )
        state, reason = classify(self.error)
        error_class = self.error_class or type(self.error).__name__
        return SourceOutcome(self.source, state, reason, error_class, from_cache, tuple(snapshot_ids))


def distinguish_absent_block(owners: BeneficialOwnersResult, raw: bytes) -> BeneficialOwnersResult:
    """Beneficial owners where an absent block reads "not available" and only an empty one "none declared".

    The RNE parser reads an absent block as "none declared" for entitled accounts, but the register
    omits the block whenever this account may not see a company's owners (C-37/20 restrictions are
    per record too), and reporting "nobody" there would let a hidden owner pass as none.
    """
    if owners.availability is not BeneficialOwnersAvailability.NONE_DECLARED:
        return owners
    try:
        content = as_dict(as_dict(single_record(json.loads(raw)).get("formality")).get("content"))
    except (ValueError, SourceError):
        return BeneficialOwnersResult.not_available(owners.siren)
    blocks = [as_dict(content.get(key)) for key in ("personneMorale", "personnePhysique", "exploitation")]
    if any("beneficiairesEffectifs" in block for block in blocks):
        return owners
    return BeneficialOwnersResult.not_available(owners.siren)


async def _run_part(source: str, work: Callable[[_Part], Awaitable[None]]) -> _Part:
    """Run one source's work; a classified source error ends that source only."""
    part = _Part(source)
    try:
        await work(part)
    except SourceError as exc:
        part.error = exc
        log.info("source=%s unavailable or empty: %s", source, type(exc).__name__)
    except InfrastructureUnavailable as exc:
        if exc.component == KYC_DATABASE:
            # Without the KYC database nothing can be recorded or decided: the task fails and is retried.
            raise
        part.error = exc
        log.error("source=%s not consulted: %s", source, exc)
    except Exception as exc:
        # An answer no parser expected: the source is reported unavailable (the decision then fails
        # closed) instead of losing the other sources' answers.
        # Only the class is logged: parser messages can quote payload values, i.e. personal data.
        part.error = TransientSourceError(source, f"unexpected {type(exc).__name__}")
        part.error_class = type(exc).__name__
        log.error("source=%s failed unexpectedly: %s", source, type(exc).__name__)
    return part


class RegistryFetcher:
    """One aiohttp session, one guard per source, the clients; fetches companies until closed.

    :param endpoints: base URLs and credentials of the registers.
    :param database_url: the KYC database (snapshots, ledger, audit events).
    :param redis_url: shared breaker/limit/cache state; None uses settings, then the in-process fallback.
    :param key_prefix: prefix of every Redis key.
    :param context: run and task ids written on every ledger row.
    :param actor: who audit events name.
    :param backend: explicit state backend (tests); overrides `redis_url`.
    :param ledger: explicit call ledger; default is this process's ledger for `database_url`.
    :param source_config: per-source resilience overrides, ``{source | "*": {field: value}}``.
    :param max_concurrency: sources fetched at once for one company.
    :param per_source_concurrency: HTTP requests in flight per source across every company.
    :param max_calls_in_flight: source calls in progress across every company; each may hold one
        Redis connection, and redis-py's pool refuses (not queues) past its 100 connections.
    :param timeout_s: total time allowed to one HTTP request.
    :param max_establishments: establishments read per company (La Poste has 12,000+).
    :param max_notices: BODACC notices read per company.
    :param record_events: append `registry_fetched` / `source_unavailable` audit events per company.
    """

    def __init__(
        self,
        endpoints: RegistryEndpoints,
        *,
        database_url: str,
        redis_url: str | None = None,
        key_prefix: str = "kyc:",
        context: CallContext | None = None,
        actor: str = "kyc:registry",
        backend: StateBackend | None = None,
        ledger: CallLedger | None = None,
        source_config: Mapping[str, Mapping[str, Any]] | None = None,
        max_concurrency: int = 4,
        per_source_concurrency: int = 8,
        max_calls_in_flight: int = 64,
        timeout_s: float = 20.0,
        max_establishments: int = 100,
        max_notices: int = 100,
        record_events: bool = True,
    ) -> None:
        self.endpoints = endpoints
        self.database_url = database_url
        self.context = context or CallContext()
        self.actor = actor
        self._own_backend = backend is None
        self.backend = backend or get_backend(redis_url, key_prefix)
        self.ledger = ledger or get_ledger(database_url)
        self.source_config = source_config
        self.max_concurrency = max_concurrency
        self.per_source_concurrency = per_source_concurrency
        self.max_calls_in_flight = max_calls_in_flight
        self._calls = asyncio.Semaphore(max_calls_in_flight)
        self.timeout_s = timeout_s
        self.max_establishments = max_establishments
        self.max_notices = max_notices
        self.record_events = record_events
        self._session: aiohttp.ClientSession | None = None
        self.guards: dict[str, SourceGuard] = {}

    def _guard(self, source: str) -> SourceGuard:
        """The source's guard; breaker transitions become audit events (state names and reasons only)."""
        return SourceGuard(
            source,
            backend=self.backend,
            config=load_source_config(source, self.source_config),
            ledger=self.ledger,
            context=self.context,
            on_state_change=breaker_audit_callback(
                self.database_url, actor=self.actor, run_id=self.context.run_id
            ),
        )

    async def __aenter__(self) -> RegistryFetcher:
        self._session = aiohttp.ClientSession()
        self.guards = {source: self._guard(source) for source in SOURCES}
        common: dict[str, Any] = {"max_concurrency": self.per_source_concurrency, "timeout_s": self.timeout_s}
        e = self.endpoints
        self.sirene = SireneClient(
            self._session, e.sirene.base_url, api_key=e.sirene.secret, guard=self.guards["sirene"], **common
        )
        self.rne = RneClient(
            self._session,
            e.rne.base_url,
            username=e.rne.login or "",
            password=e.rne.secret or "",
            guard=self.guards["rne"],
            rbe_guard=self.guards["rbe"],
            rbe_entitled=e.rbe_entitled,
            **common,
        )
        self.bodacc = BodaccClient(self._session, e.bodacc.base_url, guard=self.guards["bodacc"], **common)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.flush()
        except Exception as exc:
            fault = database_unavailable(exc, "ledger")
            if fault is None:
                raise
            # The rows stay buffered for the next flush (or the one at exit); an error already raised wins.
            if exc_info[0] is None:
                raise fault from exc
            log.error("call ledger not flushed: %s", fault)
        finally:
            if self._session is not None:
                await self._session.close()
            if self._own_backend and isinstance(self.backend, RedisBackend):
                await self.backend.aclose()

    async def flush(self) -> int:
        """Write the ledger rows still buffered; how many were written."""
        return await self.ledger.aflush()

    async def _sirene(self, siren: str, part: _Part) -> None:
        unit = await self.sirene.legal_unit(siren)
        part.add("legal_unit", f"siren:{siren}", unit)
        try:
            pages = await self.sirene.establishments(siren, max_results=self.max_establishments)
        except RecordNotFound:
            # INSEE answers 404 to a search without results: a unit with no establishment on file.
            part.model = unit.model
            return
        for n, page in enumerate(pages.pages):
            part.add("establishments", f"siren:{siren}:establishments:{n}", page)
        part.model = with_establishments(unit.model, pages.model)

    async def _rne(self, siren: str, part: _Part) -> None:
        record = await self.rne.record(siren)
        part.add("company", f"companies/{siren}", record)
        owners = distinguish_absent_block(record.model.beneficial_owners, record.raw)
        part.model = record.model.model_copy(update={"beneficial_owners": owners})

    async def _rbe(self, siren: str, part: _Part) -> None:
        if not self.endpoints.rbe_entitled:
            # The account cannot see the block: asking (and paying) would only confirm "not available".
            part.model = BeneficialOwnersResult.not_available(siren)
            return
        owners = await self.rne.beneficial_owners(siren)
        part.add("beneficial_owners", f"companies/{siren}", owners)
        part.model = distinguish_absent_block(owners.model, owners.raw)

    async def _bodacc(self, siren: str, part: _Part) -> None:
        pages = await self.bodacc.notices_for_siren(siren, max_results=self.max_notices)
        for n, page in enumerate(pages.pages):
            part.add("notices_for_siren", f"siren:{siren}:notices:{n}", page)
        part.model = tuple(pages.model)

    async def fetch(
        self, siren: str, *, customer_id: str | None = None, sources: Iterable[str] | None = None
    ) -> CompanyFetchResult:
        """Fetch one company from every register (or only `sources`) concurrently, store the answers, report each."""
        if self._session is None:
            raise RuntimeError("RegistryFetcher used outside `async with`")
        siren = checked_siren(siren)
        limit = asyncio.Semaphore(self.max_concurrency)
        work = {"sirene": self._sirene, "rne": self._rne, "rbe": self._rbe, "bodacc": self._bodacc}

        async def bounded(source: str) -> _Part:
            async with limit, self._calls:
                return await _run_part(source, lambda part: work[source](siren, part))

        wanted = SOURCES if sources is None else tuple(s for s in SOURCES if s in set(sources))
        parts = await asyncio.gather(*(bounded(source) for source in wanted))
        try:
            return await asyncio.to_thread(self._persist, siren, customer_id, list(parts))
        except Exception as exc:
            fault = database_unavailable(exc, "registry_snapshots")
            if fault is None or fault is exc:
                raise
            raise fault from exc

    def _persist(self, siren: str, customer_id: str | None, parts: list[_Part]) -> CompanyFetchResult:
        """Store the snapshots (and audit events) in one transaction and build the result."""
        rows = [row for part in parts for row in part.rows]
        with session_scope(self.database_url) as session:
            ids, new = store_snapshots(session, rows, run_id=self.context.run_id, customer_id=customer_id)
            outcomes: dict[str, SourceOutcome] = {}
            start = 0
            for part in parts:
                outcomes[part.source] = part.outcome(ids[start : start + len(part.rows)])
                start += len(part.rows)
            models = {part.source: part.model for part in parts}
            result = CompanyFetchResult(
                siren=siren,
                customer_id=customer_id,
                outcomes=outcomes,
                snapshot_ids=tuple(dict.fromkeys(ids)),
                snapshots_new=new,
                company=models.get("sirene"),
                rne=models.get("rne"),
                beneficial_owners=models.get("rbe"),
                notices=models.get("bodacc"),
            )
            if self.record_events:
                self._record_events(session, result, parts)
        log.info(
            "registry fetch siren=%s snapshots=%d new=%d unavailable=%s",
            siren,
            len(result.snapshot_ids),
            new,
            ",".join(result.unavailable) or "none",
        )
        return result


    def _record_events(self, session: Any, result: CompanyFetchResult, parts: list[_Part]) -> None:
        """The fetch's audit events; sources not consulted because of Redis are one `infrastructure_unavailable`."""
        summary = result.summary()
        infra = [part for part in parts if isinstance(part.error, InfrastructureUnavailable)]
        if infra:
            # Not a register failure: no `source_unavailable` event may blame a register for it.
            skipped = {part.source for part in infra}
            summary = {**summary, "sources": {k: v for k, v in summary["sources"].items() if k not in skipped},
                       "unavailable": [s for s in summary["unavailable"] if s not in skipped]}
        record_fetch_events(
            session, summary, actor=self.actor, run_id=self.context.run_id, customer_id=result.customer_id
        )
        if infra:
            fault = infra[0].error
            assert isinstance(fault, InfrastructureUnavailable)
            detail = {"siren": result.siren, "registers_not_consulted": sorted(part.source for part in infra)}
            payload = {**fault.payload(), **detail}
            record_infrastructure_event(
                session,
                fault,
                actor=self.actor,
                run_id=self.context.run_id,
                customer_id=result.customer_id,
                detail=detail,
                idempotency_key=fetch_idempotency_key(EventType.INFRASTRUCTURE_UNAVAILABLE, self.context.run_id, payload),
            )


async def fetch_company(
    siren: str,
    *,
    endpoints: RegistryEndpoints,
    database_url: str,
    redis_url: str | None = None,
    key_prefix: str = "kyc:",
    context: CallContext | None = None,
    customer_id: str | None = None,
    sources: Iterable[str] | None = None,
    **options: Any,
) -> CompanyFetchResult:
    """One company from Sirene, RNE, RBE and BODACC through one session; the ledger is flushed at the end.

    :param siren: the company (Luhn-checked; UserError before any call when invalid).
    :param sources: only these registers (default: all four); the others are absent from the result.
    :param options: any further :class:`RegistryFetcher` argument (backend, source_config, actor, ...).
    """
    async with RegistryFetcher(
        endpoints,
        database_url=database_url,
        redis_url=redis_url,
        key_prefix=key_prefix,
        context=context,
        **options,
    ) as fetcher:
        return await fetcher.fetch(siren, customer_id=customer_id, sources=sources)


async def fetch_companies(
    sirens: Iterable[str],
    *,
    endpoints: RegistryEndpoints,
    database_url: str,
    redis_url: str | None = None,
    key_prefix: str = "kyc:",
    context: CallContext | None = None,
    concurrency: int = 16,
    **options: Any,
) -> list[CompanyFetchResult]:
    """Many companies through one session and one set of guards, at most `concurrency` at a time."""
    limit = asyncio.Semaphore(concurrency)
    async with RegistryFetcher(
        endpoints,
        database_url=database_url,
        redis_url=redis_url,
        key_prefix=key_prefix,
        context=context,
        **options,
    ) as fetcher:

        async def one(siren: str) -> CompanyFetchResult:
            async with limit:
                return await fetcher.fetch(siren)

        return list(await asyncio.gather(*(one(siren) for siren in sirens)))
