"""Delta screening: the added and changed entries of new list versions against the whole customer base.

One transaction per call: the customer-side index is built once, each version's delta is screened,
hits at or above the customer's segment review threshold are recorded in `screening_hit` (at most
once per subject, entry content and version), hits an analyst judged false positives on the same
entry content are left out, the customers concerned are flagged for review, and the audit trail gets
one `screening_completed` per version and one `customer_flagged` per customer and version. Every write
is keyed on the list version, so running the same screening again writes nothing new.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc_core.customers.book import book_subjects
from kyc_core.customers.subjects import split_subject
from kyc_core.errors import UserError
from kyc_core.lists.active import delta_parties
from kyc_core.screening.compare import DEFAULT_THRESHOLDS, MATCHER_VERSION, Thresholds
from kyc_core.screening.index import CustomerIndex
from kyc_core.screening.judgements import apply_judgements
from kyc_core.screening.model import Hit, Judgement
from kyc_core.store import customers as customer_repo
from kyc_core.store import decisions as decision_repo
from kyc_core.store import flags as flag_repo
from kyc_core.store import judgements as judgement_repo
from kyc_core.store.audit import EventType, append_event
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, ListVersion

log = logging.getLogger(__name__)

_VERDICT_RANK = {"review": 1, "match": 2}


def screening_run_id(version_id: int) -> str:
    """The run id stored with delta hits: the list version, so any re-run finds its own rows."""
    return f"delta:list_version:{version_id}"


def completed_key(version_id: int) -> str:
    """Idempotency key of the `screening_completed` event of one version's delta screening."""
    return f"screening_completed:delta:list_version:{version_id}"


def thresholds_by_segment(policy_dir: Any = None) -> dict[str, Thresholds]:
    """Review and match thresholds of every segment's policy file (segments without a file are left out)."""
    from kyc_core.policy.loader import load_policy
    from kyc_core.policy.model import Segment

    out: dict[str, Thresholds] = {}
    for segment in Segment:
        try:
            policy = load_policy(segment, policy_dir)
        except UserError:
            continue
        sanctions = policy.spec.sanctions
        out[segment.value] = Thresholds(review=sanctions.review_threshold, match=sanctions.match_threshold)
    return out


def version_ids_from_extras(extras: Iterable[Mapping[str, Any] | None]) -> list[int]:
    """List version ids named by "active lists changed" event extras (ids and per-list entries)."""
    found: set[int] = set()
    for extra in extras:
        if not extra:
            continue
        found.update(int(v) for v in extra.get("version_ids") or ())
        for item in (extra.get("lists") or {}).values():
            if isinstance(item, Mapping) and item.get("version_id") is not None:
                found.add(int(item["version_id"]))
    return sorted(found)


def unscreened_versions(session: Session) -> list[int]:
    """Activated versions with added or changed entries whose delta was never screened (a missed event)."""
    candidates = session.scalars(
        select(ListVersion.id).where(
            ListVersion.status.in_(("active", "superseded")),
            (ListVersion.delta_added + ListVersion.delta_changed) > 0,
        )
    ).all()
    if not candidates:
        return []
    done = set(
        session.scalars(
            select(AuditEvent.idempotency_key).where(
                AuditEvent.idempotency_key.in_([completed_key(v) for v in candidates])
            )
        )
    )
    return sorted(v for v in candidates if completed_key(v) not in done)


def versions_to_screen(database_url: str, named: Iterable[int]) -> list[int]:
    """The named versions plus every activated version never screened; an unknown named id is an error."""
    named = set(named)
    with session_scope(database_url) as session:
        known = {v.id for v in (session.get(ListVersion, v) for v in sorted(named)) if v is not None}
        missed = set(unscreened_versions(session))
    if named - known:
        raise UserError(f"unknown list version(s): {sorted(named - known)}")
    return sorted(named | missed)


def _segment_verdicts(
    hits: list[Hit], segments: Mapping[str, str], per_segment: Mapping[str, Thresholds], default: Thresholds
) -> list[Hit]:
    """Hits re-judged with their customer's segment thresholds; those below its review threshold dropped."""
    kept = []
    for hit in hits:
        customer_id, _, _ = split_subject(hit.subject_key)
        verdict = per_segment.get(segments.get(customer_id, ""), default).verdict(hit.score)
        if verdict != "no_match":
            kept.append(replace(hit, verdict=verdict))
    return kept


def _hit_row(hit: Hit, version: ListVersion, moment: datetime) -> dict[str, Any]:
    customer_id, inner, role = split_subject(hit.subject_key)
    return {
        "customer_id": customer_id,
        "subject_role": role,
        "subject_key": inner,
        "list_key": hit.list_key,
        "native_id": hit.entry_id,
        "list_version_id": version.id,
        "entry_hash": hit.content_hash,
        "matched_name": hit.matched_name,
        "score": round(hit.score, 6),
        "verdict": hit.verdict,
        "explanation": hit.explanation,
        "matcher_version": MATCHER_VERSION,
        "run_id": screening_run_id(version.id),
        "created_at": moment,
    }


def _screen_version(
    session: Session,
    version: ListVersion,
    index: CustomerIndex,
    *,
    segments: Mapping[str, str],
    per_segment: Mapping[str, Thresholds],
    default: Thresholds,
    actor: str,
    run_id: str | None,
    moment: datetime,
) -> tuple[dict[str, Any], set[str]]:
    """Screen one version's delta, record hits, flag customers, audit; the counts and the flagged ids."""
    entries = delta_parties(session, version.id)
    hits = _segment_verdicts(index.screen_delta(entries), segments, per_segment, default)
    concerned = {split_subject(h.subject_key)[0] for h in hits}
    judged = apply_judgements(hits, [Judgement(*j) for j in judgement_repo.for_customers(session, concerned, book_keys=True)])
    new_by_customer: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for hit in judged.open:
        row = _hit_row(hit, version, moment)
        hit_id = decision_repo.insert_hit_once(session, row)
        if hit_id is not None:
            new_by_customer[row["customer_id"]].append((hit_id, row))
    for customer_id, rows in sorted(new_by_customer.items()):
        flag_repo.raise_flag(
            session,
            customer_id,
            reason="list_change",
            actor=actor,
            moment=moment,
            run_id=run_id,
            key=f"list_version:{version.id}",
            detail={
                "source": "sanctions_list_delta",
                "list_key": version.list_key,
                "list_version_id": version.id,
                "hit_ids": [hit_id for hit_id, _ in rows],
                "native_ids": sorted({row["native_id"] for _, row in rows}),
                "subject_roles": sorted({row["subject_role"] for _, row in rows}),
                "verdict": max((row["verdict"] for _, row in rows), key=_VERDICT_RANK.__getitem__),
            },
        )
    summary = {
        "list_key": version.list_key,
        "list_version_id": version.id,
        "entries_screened": len(entries),
        "hits": len(judged.open),
        "new_hits": sum(len(rows) for rows in new_by_customer.values()),
        "suppressed": len(judged.suppressed),
        "stale_judgements": len(judged.stale),
        "verdicts": dict(sorted(Counter(h.verdict for h in judged.open).items())),
        "customers_flagged": len(new_by_customer),
    }
    append_event(
        session,
        EventType.SCREENING_COMPLETED,
        actor=actor,
        run_id=run_id,
        payload={
            "kind": "sanctions_delta",
            "content_hash": version.content_hash,
            "subjects_screened": len(index.subjects),
            "matcher_version": MATCHER_VERSION,
            "thresholds": {k: {"review": t.review, "match": t.match} for k, t in sorted(per_segment.items())}
            or {"default": {"review": default.review, "match": default.match}},
            **summary,
        },
        idempotency_key=completed_key(version.id),
    )
    log.info(
        "list_version=%s entries=%d hits=%d new_hits=%d suppressed=%d customers_flagged=%d",
        version.id,
        summary["entries_screened"],
        summary["hits"],
        summary["new_hits"],
        summary["suppressed"],
        summary["customers_flagged"],
    )
    return summary, set(new_by_customer)


def delta_rescreen(
    database_url: str,
    version_ids: Iterable[int],
    thresholds: Thresholds | Mapping[str, Thresholds] | None = None,
    *,
    actor: str,
    run_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Screen the added and changed entries of `version_ids` against every customer-side subject.

    :param database_url: the KYC database
    :param version_ids: list versions whose delta to screen (unknown ids are a UserError)
    :param thresholds: one Thresholds for everyone, or per segment; default: each segment's policy file
    :param actor: recorded on the audit events
    :param run_id: the pipeline run, recorded on the audit events
    :param now: time stamped on hits and flags (default: now)
    """
    wanted = sorted({int(v) for v in version_ids})
    per_segment: Mapping[str, Thresholds]
    if isinstance(thresholds, Thresholds):
        per_segment, default = {}, thresholds
    else:
        per_segment = dict(thresholds) if thresholds is not None else thresholds_by_segment()
        default = DEFAULT_THRESHOLDS
    candidates = [default, *per_segment.values()]
    # Screen once at the lowest review threshold of any segment; each hit is then judged by its own.
    screen_at = Thresholds(review=min(t.review for t in candidates), match=min(t.match for t in candidates))
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    with session_scope(database_url) as session:
        versions = [session.get(ListVersion, v) for v in wanted]
        missing = [v for v, row in zip(wanted, versions, strict=True) if row is None]
        if missing:
            raise UserError(f"list version(s) {', '.join(map(str, missing))} do not exist")
        subjects = book_subjects(session)
        segments = customer_repo.segments(session, {split_subject(s.key)[0] for s in subjects})
        index = CustomerIndex(subjects, screen_at)
        results = [
            _screen_version(
                session,
                version,
                index,
                segments=segments,
                per_segment=per_segment,
                default=default,
                actor=actor,
                run_id=run_id,
                moment=moment,
            )
            for version in versions
            if version is not None
        ]
    per_version = [summary for summary, _ in results]
    flagged = set().union(*(ids for _, ids in results)) if results else set()
    return {
        "version_ids": wanted,
        "subjects_screened": len(subjects),
        "customers_screened": len(segments),
        "entries_screened": sum(v["entries_screened"] for v in per_version),
        "hits": sum(v["hits"] for v in per_version),
        "new_hits": sum(v["new_hits"] for v in per_version),
        "suppressed": sum(v["suppressed"] for v in per_version),
        "customers_flagged": len(flagged),
        "versions": per_version,
    }
