"""One register-watch pass over the monitored book: BODACC notices since the watermark, then register changes.

The monitored book is every registered company customer (its SIREN). Each step reads through the same guards
(breaker, rate limit, cache, ledger) as onboarding, keeps every raw answer as a `registry_snapshot`, stores each
event once with its evidence, flags the customers concerned and audits both, one transaction per batch or
company. A source that could not be read leaves its watermark where it was: the next run reads it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from kyc_core.customers.subjects import RegisteredFacts, customer_subjects
from kyc_core.errors import SourceError
from kyc_core.lists.active import active_list_hashes, load_active_parties
from kyc_core.policy import load_policy
from kyc_core.registry.endpoints import RegistryEndpoints
from kyc_core.registry.events import breaker_audit_callback
from kyc_core.registry.fetch import CompanyFetchResult, RegistryFetcher, SourceState, classify
from kyc_core.registry.snapshots import SnapshotRow, store_snapshots
from kyc_core.resilience import CallContext, SourceGuard
from kyc_core.resilience.config import load_source_config
from kyc_core.screening.index import Screener
from kyc_core.screening.persist import screener_for
from kyc_core.store import customers as customer_repo
from kyc_core.store import flags
from kyc_core.store import registry_events as repo
from kyc_core.store.db import session_scope
from kyc_core.watch.changes import Change, compare, view_of
from kyc_core.watch.events import WATCHED_FAMILIES, DetectedEvent, notice_events

log = logging.getLogger(__name__)

#: Watermark of the BODACC feed: (source, scope); its position is the first publication date not yet read.
BODACC_WATERMARK = ("bodacc", "notices")
#: Register answers the change watch compares, per source: (operation, request key template).
_COMPARED = {
    "sirene": (("legal_unit", "siren:{siren}"), ("establishments", "siren:{siren}:establishments:0")),
    "rne": (("company", "companies/{siren}"),),
}


@dataclass(frozen=True)
class WatchOptions:
    """Tunables of one watch pass (defaults in the README's Registry watch section)."""

    #: SIRENs per BODACC where-clause: one paged query per batch.
    batch_size: int = 50
    #: How far back the first run (no watermark yet) reads BODACC.
    initial_lookback_days: int = 30
    #: Days between two re-fetches of a company's Sirene and RNE answers (their cache TTL: one day).
    cadence_days: int = 1
    #: Oldest cached answer a due re-fetch accepts (a same-day onboarding answer is reused, not paid twice).
    max_age_s: float = 3600.0
    #: Companies re-fetched per run, least recently checked first (None: every due company). Sirene allows
    #: 30 requests a minute and a company costs two.
    max_companies: int | None = None
    #: Companies fetched at once.
    concurrency: int = 8


@dataclass
class _Context:
    """Where and as whom a pass runs."""

    database_url: str
    endpoints: RegistryEndpoints
    actor: str
    run_id: str | None
    options: WatchOptions
    fetcher_options: dict[str, Any] = field(default_factory=dict)


class _FreshGuard(SourceGuard):
    """A guard that serves a cached answer only when it is at most `fresh_s` old."""

    fresh_s: float | None = None

    async def call(self, operation: str, request_key: str, fetch: Any, *, cacheable: bool = True,
                   decode: Any = None, codec: Any = None, max_age_s: float | None = None) -> Any:
        return await super().call(operation, request_key, fetch, cacheable=cacheable, decode=decode, codec=codec,
                                  max_age_s=self.fresh_s if max_age_s is None else max_age_s)


class WatchFetcher(RegistryFetcher):
    """The registry fetcher with guards that want answers no older than `fresh_s`."""

    def __init__(self, endpoints: RegistryEndpoints, *, fresh_s: float, **options: Any) -> None:
        super().__init__(endpoints, **options)
        self.fresh_s = fresh_s

    def _guard(self, source: str) -> SourceGuard:
        guard = _FreshGuard(
            source,
            backend=self.backend,
            config=load_source_config(source, self.source_config),
            ledger=self.ledger,
            context=self.context,
            on_state_change=breaker_audit_callback(self.database_url, actor=self.actor, run_id=self.context.run_id),
        )
        guard.fresh_s = self.fresh_s
        return guard


def monitored_book(session: Session) -> dict[str, list[str]]:
    """SIREN -> ids of the company customers registered under it."""
    book: dict[str, list[str]] = {}
    for row in customer_repo.book(session):
        if row.kind != "person" and row.siren:
            book.setdefault(row.siren, []).append(row.id)
    return book


def _store(session: Session, events: Iterable[DetectedEvent], book: Mapping[str, Sequence[str]], *, actor: str,
           run_id: str | None, moment: datetime) -> list[int]:
    """Record each event once and flag its customers; ids of the events that were new."""
    new: list[int] = []
    for event in events:
        customers = list(book.get(event.siren, ()))
        row = repo.record(
            session, siren=event.siren, event_type=event.kind.value, evidence_key=event.evidence_key,
            source=event.source, severe=event.severe, customer_ids=customers, actor=actor, moment=moment,
            run_id=run_id, notice_id=event.notice_id, snapshot_before_id=event.snapshot_before_id,
            snapshot_after_id=event.snapshot_after_id, event_date=event.event_date, detail=event.detail,
        )
        if row is None:
            continue
        new.append(row.id)
        for customer_id in customers:
            flags.raise_flag(
                session, customer_id, reason="registry_event", actor=actor, moment=moment, run_id=run_id,
                key=f"{event.kind.value}:{event.evidence_key}",
                detail={"event_type": event.kind.value, "registry_event_id": row.id, "siren": event.siren,
                        "severe": event.severe, "source": event.source, "notice_id": event.notice_id,
                        "snapshot_ids": [i for i in (event.snapshot_before_id, event.snapshot_after_id) if i]},
            )
    return new


def _batches(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


# --- BODACC ----------------------------------------------------------------------------------------------


async def _read_bodacc(ctx: _Context, book: Mapping[str, Sequence[str]], since: date, moment: datetime,
                       progress: Callable[[str], None]) -> dict[str, Any]:
    """Read every batch; store answers, events and flags batch by batch; the counts and the first failure."""
    batches = _batches(sorted(book), max(1, ctx.options.batch_size))
    counts: dict[str, Any] = {"batches": len(batches), "batches_read": 0, "notices": 0, "events_new": 0,
                              "error": None, "error_class": None}
    async with WatchFetcher(ctx.endpoints, fresh_s=ctx.options.max_age_s, database_url=ctx.database_url,
                            actor=ctx.actor, context=CallContext(run_id=ctx.run_id, task_id="bodacc_notices"),
                            **ctx.fetcher_options) as fetcher:
        for number, batch in enumerate(batches, 1):
            try:
                pages = await fetcher.bodacc.notices_for_sirens(batch, since, families=WATCHED_FAMILIES)
            except SourceError as exc:
                _state, reason = classify(exc)
                counts["error"] = counts["error"] or (reason.value if reason else "not_found")
                counts["error_class"] = counts["error_class"] or type(exc).__name__
                log.warning("bodacc batch %d/%d unread: %s", number, len(batches), type(exc).__name__)
                continue
            digest = hashlib.sha256(",".join(batch).encode()).hexdigest()[:16]
            rows = [SnapshotRow("bodacc", "notices_for_sirens", f"notices:{since.isoformat()}:{digest}:{n}", page,
                                moment) for n, page in enumerate(pages.pages)]
            events = notice_events(pages.model, set(batch))

            def persist(rows: list[SnapshotRow] = rows, events: list[DetectedEvent] = events) -> int:
                with session_scope(ctx.database_url) as session:
                    ids, _new = store_snapshots(session, rows, run_id=ctx.run_id)
                    evidence = ids[0] if ids else None
                    stored = [replace(e, snapshot_after_id=evidence) for e in events]
                    return len(_store(session, stored, book, actor=ctx.actor, run_id=ctx.run_id, moment=moment))

            counts["events_new"] += await asyncio.to_thread(persist)
            counts["batches_read"] += 1
            counts["notices"] += len(pages.model)
            progress(f"bodacc batch {number}/{len(batches)}: {len(pages.model)} notice(s), "
                     f"{counts['events_new']} new event(s) so far")
    return counts


def watch_bodacc(database_url: str, endpoints: RegistryEndpoints, *, actor: str, run_id: str | None = None,
                 today: date | None = None, options: WatchOptions | None = None,
                 progress: Callable[[str], None] = log.info, **fetcher_options: Any) -> dict[str, Any]:
    """BODACC notices published since the watermark for the monitored SIRENs; the watermark moves only when
    every batch was read.

    :param fetcher_options: any further :class:`RegistryFetcher` argument (backend, redis_url, source_config...).
    """
    options = options or WatchOptions()
    today = today or datetime.now(UTC).date()
    moment = datetime.now(UTC)
    with session_scope(database_url) as session:
        book = monitored_book(session)
        mark = repo.watermark(session, *BODACC_WATERMARK)
        since = date.fromisoformat(mark.position) if mark else today - timedelta(days=options.initial_lookback_days)
    summary: dict[str, Any] = {"since": since.isoformat(), "until": today.isoformat(), "companies": len(book)}
    if not book:
        counts: dict[str, Any] = {"batches": 0, "batches_read": 0, "notices": 0, "events_new": 0, "error": None,
                                  "error_class": None}
    else:
        ctx = _Context(database_url, endpoints, actor, run_id, options, dict(fetcher_options))
        counts = asyncio.run(_read_bodacc(ctx, book, since, moment, progress))
    summary.update(counts)
    complete = counts["batches_read"] == counts["batches"]
    summary["status"] = "ok" if complete else "unavailable"
    if complete and since < today:
        # The next run starts again at today's date: notices published later today are read then (idempotent).
        with session_scope(database_url) as session:
            repo.advance(session, *BODACC_WATERMARK, today.isoformat(), moment=moment, actor=actor, run_id=run_id)
    with session_scope(database_url) as session:
        mark = repo.watermark(session, *BODACC_WATERMARK)
        summary["watermark"] = mark.position if mark else None
    return summary


# --- Sirene and RNE changes ------------------------------------------------------------------------------


def _keys(source: str, siren: str) -> list[tuple[str, str, str]]:
    return [(source, operation, template.format(siren=siren)) for operation, template in _COMPARED[source]]


def _position(ids: Sequence[int]) -> str:
    return ",".join(str(i) for i in ids)


def _differing(before: Sequence[int], after: Sequence[int]) -> tuple[int, int]:
    """The first pair of compared answers that differ: the evidence of a change."""
    return next(((b, a) for b, a in zip(before, after, strict=False) if b != a), (before[-1], after[-1]))


def _ids(position: str | None) -> list[int]:
    return [int(p) for p in (position or "").split(",") if p]


@dataclass
class _Plan:
    """Which companies are due, and the answers each is compared against."""

    due: list[str]
    baselines: dict[tuple[str, str], list[int]]


def _plan(session: Session, book: Mapping[str, Sequence[str]], today: date, options: WatchOptions) -> _Plan:
    marks = {source: repo.watermarks(session, source, book) for source in _COMPARED}
    horizon = today - timedelta(days=options.cadence_days)

    def last_checked(siren: str) -> datetime | None:
        checked = [m[siren].checked_at for m in marks.values() if siren in m]
        return min(checked) if len(checked) == len(marks) else None

    def is_due(siren: str) -> bool:
        checked = last_checked(siren)
        return checked is None or checked.date() <= horizon

    def order(siren: str) -> tuple[datetime, str]:
        checked = last_checked(siren) or datetime.min
        # SQLite hands back naive datetimes, written in UTC.
        return (checked.replace(tzinfo=None), siren)

    due = sorted((s for s in book if is_due(s)), key=order)
    if options.max_companies is not None:
        due = due[: options.max_companies]
    latest = repo.latest_snapshot_ids(session, [k for s in due for source in _COMPARED for k in _keys(source, s)])
    baselines: dict[tuple[str, str], list[int]] = {}
    for siren in due:
        for source in _COMPARED:
            mark = marks[source].get(siren)
            if mark is not None:
                baselines[(source, siren)] = _ids(mark.position)
            else:
                found = [latest[k] for k in _keys(source, siren) if k in latest]
                if found:
                    baselines[(source, siren)] = found
    return _Plan(due, baselines)


class _LazyScreener:
    """The active lists' screener, opened on first use; None when no list is active (fail closed)."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self._loaded = False
        self._screener: Screener | None = None
        self._lock = threading.Lock()

    def get(self) -> Screener | None:
        with self._lock:
            if not self._loaded:
                with session_scope(self.database_url) as session:
                    hashes = active_list_hashes(session)
                    if hashes:
                        self._screener = screener_for(hashes, lambda: load_active_parties(session))
                self._loaded = True
        return self._screener


def _screened(change: Change, screener: _LazyScreener) -> dict[str, Any]:
    """The change's detail with its new people screened: listed matches, or `screened: false` without lists."""
    detail = dict(change.detail)
    if not change.persons:
        return detail
    engine = screener.get()
    if engine is None:
        detail["screened"] = False
        return detail
    facts = RegisteredFacts(officers=tuple(p for r, p in change.persons if r == "officer"),
                            owners=tuple(p for r, p in change.persons if r == "owner"))
    listed, review = [], 0
    for _role, subject in customer_subjects({"customer": {"kind": "entity"}}, facts):
        for hit in engine.screen(subject):
            if hit.verdict == "match":
                listed.append({"subject_key": hit.subject_key, "list": hit.list_key, "entry_id": hit.entry_id,
                               "score": round(hit.score, 3)})
            else:
                review += 1
    detail.update({"screened": True, "listed": listed, "review_hits": review})
    return detail


def _sensitive_naf(segments: Iterable[str], cache: dict[str, frozenset[str]]) -> frozenset[str]:
    codes: set[str] = set()
    for segment in segments:
        if segment not in cache:
            cache[segment] = frozenset(load_policy(segment).activities.codes)
        codes |= cache[segment]
    return frozenset(codes)


def _compare_company(ctx: _Context, siren: str, customers: Sequence[str], result: CompanyFetchResult,
                     baselines: Mapping[tuple[str, str], list[int]], screener: _LazyScreener,
                     naf_cache: dict[str, frozenset[str]], moment: datetime) -> dict[str, Any]:
    """Compare one company's new answers with its baseline, screen new people, then store events, flags and
    watermarks in one transaction."""
    out: dict[str, Any] = {"unavailable": [], "changed": [], "baseline": [], "events_new": 0}
    found: list[tuple[str, list[int], list[int], Change]] = []
    advances: list[tuple[str, list[int]]] = []
    with session_scope(ctx.database_url) as session:
        segments = list(customer_repo.segments(session, customers).values())
        for source in _COMPARED:
            outcome = result.outcomes.get(source)
            if outcome is None or outcome.state is not SourceState.OK or not outcome.snapshot_ids:
                out["unavailable"].append(source)
                continue
            after = list(outcome.snapshot_ids[: len(_COMPARED[source])])
            before = baselines.get((source, siren))
            advances.append((source, after))
            if not before:
                out["baseline"].append(source)
                continue
            if before == after:
                continue
            payloads = repo.snapshot_payloads(session, before + after)
            try:
                old = view_of(source, [payloads[i] for i in before if i in payloads])
                new = view_of(source, [payloads[i] for i in after])
            except Exception as exc:  # noqa: BLE001 - an unreadable old answer must not stop the book
                log.warning("siren=%s %s snapshots %s unreadable (%s): new baseline", siren, source, before,
                            type(exc).__name__)
                continue
            out["changed"].append(source)
            found += [(source, before, after, change) for change in compare(old, new, _sensitive_naf(segments, naf_cache))]
    # Screening opens its own session: never inside another one (SQLite writers hold the file).
    events = [
        DetectedEvent(
            siren=siren, kind=change.kind, source=source,
            evidence_key=f"{source}:{_position(before)}:{_position(after)}",
            snapshot_before_id=_differing(before, after)[0], snapshot_after_id=_differing(before, after)[1],
            event_date=moment.date(),
            detail={**_screened(change, screener), "snapshot_ids_before": before, "snapshot_ids_after": after})
        for source, before, after, change in found
    ]
    with session_scope(ctx.database_url) as session:
        out["events_new"] = len(_store(session, events, {siren: customers}, actor=ctx.actor, run_id=ctx.run_id,
                                       moment=moment))
        for source, after in advances:
            repo.advance(session, source, siren, _position(after), moment=moment, actor=ctx.actor, run_id=ctx.run_id)
    return out


async def _read_registers(ctx: _Context, book: Mapping[str, Sequence[str]], plan: _Plan, moment: datetime,
                          progress: Callable[[str], None]) -> dict[str, Any]:
    totals: dict[str, Any] = {"due": len(plan.due), "checked": 0, "changed": 0, "baselines": 0, "events_new": 0,
                              "unavailable": {source: 0 for source in _COMPARED}}
    screener = _LazyScreener(ctx.database_url)
    naf_cache: dict[str, frozenset[str]] = {}
    limit = asyncio.Semaphore(max(1, ctx.options.concurrency))
    async with WatchFetcher(ctx.endpoints, fresh_s=ctx.options.max_age_s, database_url=ctx.database_url,
                            actor=ctx.actor, context=CallContext(run_id=ctx.run_id, task_id="register_changes"),
                            **ctx.fetcher_options) as fetcher:

        async def one(siren: str) -> None:
            async with limit:
                result = await fetcher.fetch(siren, customer_id=book[siren][0], sources=tuple(_COMPARED))
            found = await asyncio.to_thread(_compare_company, ctx, siren, book[siren], result, plan.baselines,
                                            screener, naf_cache, moment)
            for source in found["unavailable"]:
                totals["unavailable"][source] += 1
            totals["checked"] += 1
            totals["changed"] += bool(found["changed"])
            totals["baselines"] += bool(found["baseline"])
            totals["events_new"] += found["events_new"]
            if totals["checked"] % 50 == 0 or totals["checked"] == len(plan.due):
                progress(f"registers: {totals['checked']}/{len(plan.due)} companies checked, "
                         f"{totals['events_new']} new event(s)")

        await asyncio.gather(*(one(siren) for siren in plan.due))
    return totals


def watch_registers(database_url: str, endpoints: RegistryEndpoints, *, actor: str, run_id: str | None = None,
                    today: date | None = None, options: WatchOptions | None = None,
                    progress: Callable[[str], None] = log.info, **fetcher_options: Any) -> dict[str, Any]:
    """Re-fetch the due companies from Sirene and the RNE and compare each with its last compared answers.

    A company seen for the first time (no stored answer) sets its baseline and raises nothing. A source that
    could not be read keeps that company's watermark: it is due again next run.
    """
    options = options or WatchOptions()
    today = today or datetime.now(UTC).date()
    moment = datetime.now(UTC)
    with session_scope(database_url) as session:
        book = monitored_book(session)
        plan = _plan(session, book, today, options)
    summary: dict[str, Any] = {"companies": len(book)}
    if not plan.due:
        summary.update({"due": 0, "checked": 0, "changed": 0, "baselines": 0, "events_new": 0,
                        "unavailable": {source: 0 for source in _COMPARED}})
    else:
        ctx = _Context(database_url, endpoints, actor, run_id, options, dict(fetcher_options))
        summary.update(asyncio.run(_read_registers(ctx, book, plan, moment, progress)))
    summary["status"] = "unavailable" if any(summary["unavailable"].values()) else "ok"
    return summary


def severe_of_run(database_url: str, run_id: str) -> dict[str, Any]:
    """The severe events a run detected and the customers they concern (what the asset event carries)."""
    with session_scope(database_url) as session:
        events = repo.of_run(session, run_id, severe_only=True)
        customers = sorted({c for e in events for c in e.customer_ids})
        return {
            "run_id": run_id,
            "customer_ids": customers,
            "events": [{"id": e.id, "siren": e.siren, "event_type": e.event_type} for e in events],
        }
