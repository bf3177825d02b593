"""Read models for the analysts' workspace: the cases list, one case in full, and the sources' health.

Everything here reads; the one write is :func:`record_case_view`, the audit event that says who looked at
which customer's case. Names and document numbers appear only in :func:`case_detail`, never in the list.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import MetaData, Table, Text, and_, case, cast, func, inspect, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from kyc_core.cases.casefile import find_decision, load_case
from kyc_core.cases.judging import judgements_of
from kyc_core.cases.review import reviews_of
from kyc_core.errors import UserError
from kyc_core.store.audit import GENESIS_HASH, EventType, append_event, event_hash
from kyc_core.store.models import (
    AuditEvent,
    Customer,
    Decision,
    ListEntry,
    ListVersion,
    RegistrySnapshot,
    SourceCall,
)

#: Sort keys the list accepts, each with the column it orders by (ties broken by decision id).
SORTS = {
    "created_at": Decision.created_at,
    "score": Decision.score,
    "outcome": Decision.outcome,  # replaced by the outcome as it stands (after review) when sorting
    "risk_level": Decision.risk_level,
    "segment": Customer.segment,
    "customer": Customer.id,
}
OUTCOMES = ("approve", "review", "edd_required", "reject")
RISK_LEVELS = ("low", "medium", "high", "prohibited")
MAX_PAGE_SIZE = 200
#: Registers every deployment calls; the health page adds any other source seen in the ledger.
REGISTER_SOURCES = ("sirene", "rne", "rbe", "bodacc")
#: Ledger outcomes that count as a failed call (a cache hit, `ok` and `not_found` are answers).
FAILED_OUTCOMES = ("error", "timeout", "circuit_open", "rate_limited")
#: The reason code a decision carries when a mandatory source could not be consulted.
SOURCE_UNAVAILABLE = "source_unavailable"
#: The reason code when it was not consulted because our Redis or KYC database failed, not the register.
INFRASTRUCTURE_UNAVAILABLE = "infrastructure_unavailable"
#: What the "source unavailable" filter matches: a mandatory register not consulted, whoever's fault it was.
NOT_CONSULTED = (SOURCE_UNAVAILABLE, INFRASTRUCTURE_UNAVAILABLE)


@dataclass(frozen=True)
class CaseFilter:
    """What the analyst narrowed the list to; None means "any"."""

    outcome: str | None = None
    segment: str | None = None
    risk_level: str | None = None
    awaiting_review: bool | None = None
    source_unavailable: bool | None = None
    flagged: bool | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class CasePage:
    """One page of the cases list."""

    rows: list[dict[str, Any]]
    total: int
    page: int
    page_size: int
    sort: str
    descending: bool
    filters: CaseFilter = field(default_factory=CaseFilter)

    @property
    def pages(self) -> int:
        """Number of pages (at least one)."""
        return max(1, math.ceil(self.total / self.page_size))


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; the store always writes UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _final_event():
    """The decision's `final_decision` event, if any (a decision row is never edited after review)."""
    return AuditEvent.__table__.alias("final_event")


def _json_field(session: Session, column: Any, key: str) -> Any:
    # Audit payloads are canonical JSON stored as text, so the field is read with each database's JSON function.
    if session.get_bind().dialect.name == "postgresql":
        return cast(column, JSONB)[key].astext
    return func.json_extract(column, f"$.{key}")


def _effective(session: Session, final: Any) -> tuple[Any, Any]:
    """The outcome and status as they stand: the final-decision event wins over the row as written."""
    outcome = func.coalesce(_json_field(session, final.c.payload, "outcome"), Decision.outcome)
    status = case((final.c.seq.is_not(None), "final"), else_=Decision.status)
    return outcome, status


def _conditions(flt: CaseFilter, outcome: Any, status: Any) -> list[Any]:
    conditions: list[Any] = []
    if flt.outcome:
        conditions.append(outcome == flt.outcome)
    if flt.segment:
        conditions.append(Customer.segment == flt.segment)
    if flt.risk_level:
        conditions.append(Decision.risk_level == flt.risk_level)
    if flt.awaiting_review is not None:
        awaiting = status == "pending_review"
        conditions.append(awaiting if flt.awaiting_review else ~awaiting)
    if flt.flagged is not None:
        conditions.append(Customer.flagged_for_review.is_(flt.flagged))
    if flt.source_unavailable is not None:
        # Reasons are a JSON list of {code, ...}; matching the quoted code in its text works on both databases.
        # A register not consulted because Redis or the KYC database failed is the same gap for the analyst.
        text = cast(Decision.reasons, Text)
        mentions = or_(*(text.like(f'%"{code}"%') for code in NOT_CONSULTED))
        conditions.append(mentions if flt.source_unavailable else ~mentions)
    if flt.date_from:
        conditions.append(Decision.created_at >= datetime.combine(flt.date_from, time.min, tzinfo=UTC))
    if flt.date_to:
        conditions.append(Decision.created_at < datetime.combine(flt.date_to + timedelta(days=1), time.min, tzinfo=UTC))
    return conditions


def list_cases(
    session: Session, flt: CaseFilter | None = None, *, sort: str = "created_at", descending: bool = True,
    page: int = 1, page_size: int = 50,
) -> CasePage:
    """One page of cases (one decision each), filtered and sorted in the database; ids and references only."""
    flt = flt or CaseFilter()
    if sort not in SORTS:
        raise ValueError(f"unknown sort key {sort!r} (known: {', '.join(SORTS)})")
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    page = max(1, int(page))
    final = _final_event()
    outcome, status = _effective(session, final)
    conditions = _conditions(flt, outcome, status)
    needs_final = flt.outcome is not None or flt.awaiting_review is not None or sort == "outcome"
    needs_customer = flt.segment is not None or flt.flagged is not None or sort in ("segment", "customer")

    def joined(query, *, with_final: bool, with_customer: bool):
        query = query.select_from(Decision)
        if with_customer:
            query = query.join(Customer, Customer.id == Decision.customer_id)
        if with_final:
            query = query.outerjoin(
                final, and_(final.c.case_id == Decision.id, final.c.event_type == EventType.FINAL_DECISION.value)
            )
        return query

    # Narrow first: count and pick the page's ids with only the joins the filters and sort need, then
    # read the wide rows of those ids alone.
    total = session.scalar(joined(select(func.count()), with_final=needs_final, with_customer=needs_customer).where(*conditions))
    column = outcome if sort == "outcome" else SORTS[sort]
    order = [column.desc().nulls_last() if descending else column.asc().nulls_last(),
             Decision.id.desc() if descending else Decision.id.asc()]
    ids = list(session.scalars(
        joined(select(Decision.id), with_final=needs_final, with_customer=needs_customer)
        .where(*conditions).order_by(*order).limit(page_size).offset((page - 1) * page_size)
    ))
    query = joined(select(
        Decision.id, Decision.customer_id, Decision.run_id, outcome.label("outcome"), status.label("status"),
        Decision.outcome.label("proposed"), Decision.risk_level, Decision.score, Decision.reasons, Decision.created_at,
        Decision.next_review_date, Customer.customer_ref, Customer.kind, Customer.segment, Customer.flagged_for_review,
    ), with_final=True, with_customer=True).where(Decision.id.in_(ids))
    position = {decision_id: index for index, decision_id in enumerate(ids)}
    rows = []
    for r in sorted(session.execute(query), key=lambda r: position[r.id]):
        codes = list(dict.fromkeys(x.get("code") for x in (r.reasons or []) if isinstance(x, dict)))
        rows.append({
            "decision_id": r.id,
            "customer_id": r.customer_id,
            "customer_ref": r.customer_ref,
            "kind": r.kind,
            "segment": r.segment,
            "run_id": r.run_id,
            "outcome": r.outcome,
            "proposed_outcome": r.proposed,
            "status": r.status,
            "awaiting_review": r.status == "pending_review",
            "risk_level": r.risk_level,
            "score": r.score,
            "reason_codes": codes,
            "source_unavailable": any(code in codes for code in NOT_CONSULTED),
            "infrastructure_unavailable": INFRASTRUCTURE_UNAVAILABLE in codes,
            "flagged": bool(r.flagged_for_review),
            "created_at": _iso(_utc(r.created_at)),
            "next_review_date": _iso(r.next_review_date),
        })
    return CasePage(rows, int(total or 0), page, page_size, sort, descending, flt)


# --- one case -----------------------------------------------------------------------------------------


def _customer_name(profile: dict[str, Any]) -> str | None:
    subject = (profile or {}).get("customer") or {}
    return subject.get("name") or subject.get("declared_name")


def _list_entry(session: Session, list_key: str, native_id: str, entry_hash: str) -> dict[str, Any] | None:
    """The listed entry a hit matched, in the newest version that holds it unchanged."""
    row = session.execute(
        select(ListEntry, ListVersion)
        .join(ListVersion, ListVersion.id == ListEntry.version_id)
        .where(ListEntry.list_key == list_key, ListEntry.native_id == native_id, ListEntry.entry_hash == entry_hash)
        .order_by(ListVersion.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    entry, version = row
    data = entry.data or {}
    return {
        "primary_name": entry.primary_name,
        "entry_type": entry.entry_type,
        "names": [n.get("full") for n in data.get("names", []) if isinstance(n, dict) and n.get("full")],
        "birth_dates": [b.get("text") for b in data.get("birth_dates", []) if isinstance(b, dict) and b.get("text")],
        "nationalities": list(data.get("nationalities", [])) + list(data.get("citizenships", [])),
        "programmes": list(data.get("programmes", [])),
        "listed_on": data.get("listed_on"),
        "remarks": data.get("remarks") or "",
        "list_version": {
            "id": version.id,
            "status": version.status,
            "content_hash": version.content_hash,
            "published_at": _iso(version.published_at),
            "loaded_at": _iso(version.loaded_at),
        },
    }


def _contributions(explanation: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The matcher's scored features (name similarity, then qualifiers by contribution) and its other details."""
    explanation = dict(explanation or {})
    aligned = explanation.pop("aligned", None) or []
    tokens = ", ".join(f"{a.get('left')}~{a.get('right')} ({a.get('how')}, {a.get('similarity')})" for a in aligned if isinstance(a, dict))
    features: list[dict[str, Any]] = []
    if isinstance(explanation.get("name"), int | float):
        features.append({"feature": "name", "contribution": float(explanation.pop("name")), "detail": tokens or None})
    qualifiers: list[dict[str, Any]] = [
        {"feature": k, "contribution": v.get("contribution"), "detail": v.get("detail")}
        for k, v in explanation.items() if isinstance(v, dict) and "contribution" in v
    ]
    features += sorted(qualifiers, key=lambda f: -abs(f["contribution"] or 0.0))
    details = {k: v for k, v in explanation.items() if not (isinstance(v, dict) and "contribution" in v)}
    return features, details


def verify_events(session: Session, events: list[AuditEvent]) -> dict[str, Any]:
    """Recompute each event's hash and check it links to the event just before it in the whole chain."""
    if not events:
        return {"ok": True, "events": 0, "problem": None}
    seqs = sorted({e.seq - 1 for e in events if e.seq > 1})
    previous = dict(session.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(seqs))).all()) if seqs else {}
    for e in events:
        expected_prev = GENESIS_HASH if e.seq == 1 else previous.get(e.seq - 1)
        if expected_prev is None:
            return {"ok": False, "events": len(events), "problem": f"event #{e.seq - 1} before #{e.seq} is missing"}
        if e.prev_hash != expected_prev:
            return {"ok": False, "events": len(events), "problem": f"event #{e.seq} does not link to event #{e.seq - 1}"}
        recomputed = event_hash(
            seq=e.seq, event_id=e.event_id, event_type=e.event_type, actor=e.actor, customer_id=e.customer_id,
            case_id=e.case_id, run_id=e.run_id, occurred_at=e.occurred_at, payload=e.payload, prev_hash=e.prev_hash,
        )
        if recomputed != e.hash:
            return {"ok": False, "events": len(events), "problem": f"event #{e.seq} ({e.event_type}) was altered"}
    return {"ok": True, "events": len(events), "problem": None}


def _outcome_history(decision: Decision, reviews: list[dict[str, Any]], timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Proposal, each reviewer's answer with its rationale, then the final outcome."""
    history = [{
        "step": "proposal",
        "at": _iso(_utc(decision.created_at)),
        "who": "policy " + (decision.policy_version or "?"),
        "outcome": (decision.lineage or {}).get("proposed_outcome", decision.outcome),
        "detail": "",
    }]
    for r in reviews:
        history.append({
            "step": f"review {r.get('stage')}",
            "at": r.get("responded_at"),
            "who": r.get("reviewer_id"),
            "outcome": r.get("choice"),
            "detail": r.get("rationale", ""),
        })
    finals = [e for e in timeline if e["event_type"] == EventType.FINAL_DECISION.value]
    if finals:
        final = finals[-1]
        history.append({
            "step": "final",
            "at": final["at"],
            "who": final["actor"],
            "outcome": final["payload"].get("outcome", decision.outcome),
            "detail": ", ".join(final["payload"].get("reviewers") or []),
        })
    elif decision.status == "pending_review":
        history.append({"step": "awaiting review", "at": None, "who": "", "outcome": "", "detail": ""})
    return history


def _register_facts(session: Session, customer_id: str, lineage: dict[str, Any]) -> dict[str, Any]:
    """Which register said what and when: source checks, raw answers by content hash, conflicts, quality."""
    snapshots = session.scalars(
        select(RegistrySnapshot).where(RegistrySnapshot.customer_id == customer_id).order_by(RegistrySnapshot.fetched_at, RegistrySnapshot.id)
    ).all()
    used = {h for hashes in (lineage.get("registry_snapshots") or {}).values() for h in (hashes or [])}
    answers = []
    for snap in snapshots:
        try:
            body = json.loads(snap.payload)
        except (TypeError, ValueError):
            body = snap.payload
        answers.append({
            "source": snap.source,
            "operation": snap.operation,
            "fetched_at": _iso(_utc(snap.fetched_at)),
            "http_status": snap.http_status,
            "from_cache": snap.from_cache,
            "content_hash": snap.content_hash,
            "used_by_decision": snap.content_hash in used,
            "payload": body,
        })
    return {
        "checks": lineage.get("sources") or {},
        "profile": lineage.get("profile") or {},
        "conflicts": lineage.get("conflicts") or [],
        "data_quality": lineage.get("data_quality") or {},
        "answers": answers,
    }


def case_detail(session: Session, ref: str) -> dict[str, Any]:
    """One case for an authorised analyst: the case file plus names, reviews, list entries and provenance."""
    case = load_case(session, ref)
    decision = find_decision(session, case["decision"]["id"])
    customer = session.get(Customer, decision.customer_id)
    if customer is None:  # the foreign key forbids it; a clear error rather than an AttributeError
        raise UserError(f"decision {decision.id} names an unknown customer")
    judged = {(j["subject_key"], j["list_key"], j["native_id"]): j for j in judgements_of(session, decision.customer_id)}
    for hit in case["hits"]:
        hit["judgement"] = judged.get((hit["subject_key"], hit["list"], hit["entry_id"]))
        hit["entry"] = _list_entry(session, hit["list"], hit["entry_id"], hit["entry_hash"])
        hit["features"], hit["details"] = _contributions(hit["explanation"])
        # The screened party's own name is not stored with the hit; the matcher's token alignment shows it.
        explanation = hit["explanation"] or {}
        hit["screened_tokens"] = [a.get("left") for a in explanation.get("aligned") or [] if isinstance(a, dict)] + list(
            explanation.get("unmatched_left") or [])
    events = session.scalars(select(AuditEvent).where(AuditEvent.seq.in_([e["seq"] for e in case["timeline"]])).order_by(AuditEvent.seq)).all()
    factors = (case["decision"]["contributions"] or {}).get("factors") or []
    if isinstance(factors, dict):
        factors = [{"name": k, **v} for k, v in factors.items()]
    return {
        **case,
        "name": _customer_name(customer.profile),
        "profile": customer.profile,
        "factors": factors,
        "history": _outcome_history(decision, reviews_of(session, decision.id), case["timeline"]),
        "registers": _register_facts(session, customer.id, decision.lineage or {}),
        "chain": verify_events(session, list(events)),
    }


def record_case_view(session: Session, *, decision_id: str, customer_id: str, viewer: str, view: str) -> AuditEvent:
    """The audit fact that `viewer` was shown this customer's case (one per page or export served)."""
    return append_event(
        session, EventType.CASE_VIEWED, actor=viewer, customer_id=customer_id, case_id=decision_id,
        payload={"decision_id": decision_id, "view": view},
    )


# --- sources ------------------------------------------------------------------------------------------


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def source_calls_summary(session: Session, *, now: datetime | None = None, hours: int = 24) -> dict[str, dict[str, Any]]:
    """Per source over the last `hours`: volume, failures, error rate, p95 latency and hourly buckets."""
    now = now or datetime.now(UTC)
    since = now - timedelta(hours=hours)
    rows = session.execute(
        select(SourceCall.source, SourceCall.started_at, SourceCall.latency_ms, SourceCall.outcome)
        .where(SourceCall.started_at >= since)
    ).all()
    out: dict[str, dict[str, Any]] = {
        s: {"calls": 0, "failed": 0, "latencies": [], "hourly": [[0, 0] for _ in range(hours)]} for s in REGISTER_SOURCES
    }
    for source, started_at, latency, outcome in rows:
        item = out.setdefault(source, {"calls": 0, "failed": 0, "latencies": [], "hourly": [[0, 0] for _ in range(hours)]})
        failed = outcome in FAILED_OUTCOMES
        item["calls"] += 1
        item["failed"] += failed
        item["latencies"].append(float(latency))
        bucket = min(hours - 1, max(0, int((_utc(started_at) - since).total_seconds() // 3600)))
        item["hourly"][bucket][0] += 1
        item["hourly"][bucket][1] += failed
    for item in out.values():
        latencies = item.pop("latencies")
        item["error_rate"] = item["failed"] / item["calls"] if item["calls"] else None
        item["p95_ms"] = _p95(latencies)
    return out


def spend_this_month(session: Session, *, now: datetime | None = None) -> dict[str, float]:
    """EUR spent per source since the first of this month (UTC), from the call ledger."""
    now = now or datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    rows = session.execute(
        select(SourceCall.source, func.coalesce(func.sum(SourceCall.cost), 0.0))
        .where(SourceCall.started_at >= start)
        .group_by(SourceCall.source)
    ).all()
    return {source: round(float(total), 4) for source, total in rows}


def _reflect(session: Session, name: str) -> Table | None:
    # The session's own connection: on SQLite a second one would wait for this transaction's write lock.
    conn = session.connection()
    if not inspect(conn).has_table(name):
        return None
    return Table(name, MetaData(), autoload_with=conn)


def _rows(session: Session, table: Table, where: Any = None, limit: int = 100) -> list[dict[str, Any]]:
    moments = [c for c in table.columns if c.name.endswith(("_at", "_time")) or c.name in ("opened", "started")]
    query = select(table)
    if where is not None:
        query = query.where(where)
    if moments:
        query = query.order_by(moments[0].desc())
    return [{k: (_iso(v) if isinstance(v, datetime | date) else v) for k, v in row._mapping.items()}
            for row in session.execute(query.limit(limit))]


def open_incidents(session: Session) -> list[dict[str, Any]] | None:
    """Open rows of `source_incident` when SLA monitoring is installed; None when that table does not exist."""
    table = _reflect(session, "source_incident")
    if table is None:
        return None
    cols = table.columns
    where = None
    closing = [cols[n] for n in ("resolved_at", "closed_at", "ended_at") if n in cols]
    if closing:
        where = closing[0].is_(None)
    elif "status" in cols:
        where = cols["status"].in_(("open", "active", "ongoing"))
    elif "state" in cols:
        where = cols["state"].in_(("open", "active", "ongoing"))
    return _rows(session, table, where)


def sla_health(session: Session) -> list[dict[str, Any]] | None:
    """Latest rows of `source_health` when SLA monitoring is installed; None when that table does not exist."""
    table = _reflect(session, "source_health")
    if table is None:
        return None
    return _rows(session, table, limit=50)


def sources_seen(summary: dict[str, dict[str, Any]], spend: dict[str, float]) -> list[str]:
    """Every source to report on: the registers, then any other source in the ledger, sorted."""
    others = sorted((set(summary) | set(spend)) - set(REGISTER_SOURCES))
    return [*REGISTER_SOURCES, *others]


__all__ = [
    "CaseFilter", "CasePage", "SORTS", "OUTCOMES", "RISK_LEVELS", "list_cases", "case_detail", "record_case_view",
    "verify_events", "source_calls_summary", "spend_this_month", "open_incidents", "sla_health", "sources_seen",
]
