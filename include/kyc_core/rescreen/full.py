"""Full-book rescreen: every customer, officer and beneficial owner against the active lists, shard by shard.

Run when what screening means has changed (a matcher or policy change, a new list), not on a list delta.
The book is split into shards of consecutive customer ids (`plan_shards`), each screened on its own
(`rescreen_shard`) so that shards run on any worker, in any order, and a shard re-run changes nothing:

- subjects are built by `kyc_core.customers.subjects.customer_subjects` from the declared parties and the
  latest RNE record kept for the customer (the same builder onboarding and delta screening use);
- each subject goes through the persisted screening index of the active list versions (opened memory-mapped,
  built once per set of versions), at the lowest review threshold of any segment, and each hit is then judged
  at its customer's segment thresholds; a hit an analyst judged a false positive on the same entry content is
  left out;
- hits are recorded once per (subject, entry content, run) under the run id `full:<run id>`;
- a customer with a hit never recorded before (in any run) is flagged `list_change` for re-review;
- hits, flags and one `full_rescreen_shard` audit event are written in one transaction; a shard whose
  event exists is not screened again.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc_core.customers.book import facts_from_record
from kyc_core.customers.subjects import (
    RegisteredFacts,
    customer_subjects,
    declared_parties,
    in_book,
    merge_facts,
    split_subject,
)
from kyc_core.errors import UserError
from kyc_core.lists.active import active_list_hashes, load_active_parties
from kyc_core.lists.versions import active_versions
from kyc_core.rescreen.delta import thresholds_by_segment
from kyc_core.screening.compare import DEFAULT_THRESHOLDS, MATCHER_VERSION, Thresholds
from kyc_core.screening.judgements import apply_judgements
from kyc_core.screening.model import Hit, Judgement, Subject
from kyc_core.screening.persist import screener_for
from kyc_core.sources.rne import parse_record, single_record
from kyc_core.store import decisions as decision_repo
from kyc_core.store import flags as flag_repo
from kyc_core.store import judgements as judgement_repo
from kyc_core.store import snapshots
from kyc_core.store.audit import EventType, append_event
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Customer, ScreeningHit

log = logging.getLogger(__name__)

#: Customers per shard when nothing else is configured.
DEFAULT_SHARD_SIZE = 5000
_VERDICT_RANK = {"review": 1, "match": 2}


def hit_run_id(run_id: str) -> str:
    """The run id stored with the hits of a full rescreen."""
    return f"full:{run_id}"


def shard_key(run_id: str, first: str) -> str:
    """Idempotency key of a shard's audit event: the run and the shard's first customer id."""
    return f"full_rescreen_shard:{run_id}:{first}"


def plan_shards(database_url: str, shard_size: int = DEFAULT_SHARD_SIZE) -> list[dict[str, Any]]:
    """The book as shards of consecutive customer ids: `first` (included) to `next` (excluded; None: the end).

    The last shard is open-ended, so a customer registered after planning is still screened.
    """
    if shard_size < 1:
        raise UserError(f"shard size must be at least 1, got {shard_size}")
    with session_scope(database_url) as session:
        ids = list(session.scalars(select(Customer.id).order_by(Customer.id)))
    firsts = ids[::shard_size]
    return [{"shard": number, "first": first, "next": firsts[number + 1] if number + 1 < len(firsts) else None,
             "customers": len(ids[number * shard_size:(number + 1) * shard_size])}
            for number, first in enumerate(firsts)]


def _shard_rows(session: Session, first: str, upto: str | None) -> list[tuple[str, str | None, str, dict[str, Any]]]:
    query = select(Customer.id, Customer.siren, Customer.segment, Customer.profile).where(Customer.id >= first)
    if upto is not None:
        query = query.where(Customer.id < upto)
    return [(cid, siren, segment, profile or {}) for cid, siren, segment, profile in session.execute(query.order_by(Customer.id))]


def _registered(session: Session, sirens: Mapping[str, str | None]) -> dict[str, list[RegisteredFacts]]:
    """Customer id -> the facts of its latest RNE record(s); an unreadable snapshot is skipped (logged by id)."""
    latest = snapshots.latest_rne(session, {cid: s for cid, s in sirens.items() if s})
    holders: dict[int, list[str]] = defaultdict(list)
    for customer_id, ids in latest.items():
        for snap_id in ids:
            holders[snap_id].append(customer_id)
    out: dict[str, list[RegisteredFacts]] = defaultdict(list)
    for snap_id, payload in snapshots.payloads(session, sorted(holders)):
        try:
            facts = facts_from_record(parse_record(single_record(json.loads(payload)), rbe_entitled=True))
        except Exception as exc:  # noqa: BLE001 - one unreadable snapshot must not stop the shard
            log.warning("registry_snapshot=%s unreadable as an RNE record (%s): skipped", snap_id, type(exc).__name__)
            continue
        for customer_id in holders[snap_id]:
            out[customer_id].append(facts)
    return out


def shard_subjects(session: Session, first: str, upto: str | None) -> tuple[list[Subject], dict[str, str]]:
    """The shard's subjects (book keys) and its customers' segments."""
    rows = _shard_rows(session, first, upto)
    registered = _registered(session, {cid: siren for cid, siren, _, _ in rows})
    subjects: dict[str, Subject] = {}
    for customer_id, _siren, _segment, profile in rows:
        facts = merge_facts(*registered.get(customer_id, []), declared_parties(profile))
        for subject in in_book(customer_id, customer_subjects(profile, facts)):
            subjects.setdefault(subject.key, subject)
    return list(subjects.values()), {cid: segment for cid, _, segment, _ in rows}


def _known_hits(session: Session, first: str, upto: str | None, exclude_run: str) -> set[tuple[str | None, ...]]:
    """Identities of the hits recorded for the shard's customers by any other run."""
    query = select(ScreeningHit.customer_id, ScreeningHit.subject_key, ScreeningHit.list_key, ScreeningHit.native_id,
                   ScreeningHit.entry_hash).where(ScreeningHit.customer_id >= first, ScreeningHit.run_id != exclude_run)
    if upto is not None:
        query = query.where(ScreeningHit.customer_id < upto)
    return {(cid, key, list_key, native, entry) for cid, key, list_key, native, entry in session.execute(query)}


def _judge(hits: list[Hit], segments: Mapping[str, str], per_segment: Mapping[str, Thresholds], default: Thresholds) -> list[Hit]:
    kept = []
    for hit in hits:
        verdict = per_segment.get(segments.get(split_subject(hit.subject_key)[0], ""), default).verdict(hit.score)
        if verdict != "no_match":
            kept.append(replace(hit, verdict=verdict))
    return kept


def rescreen_shard(database_url: str, shard: Mapping[str, Any], *, run_id: str, reason: str, actor: str,
                   thresholds: Thresholds | Mapping[str, Thresholds] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Screen one shard of the book against the active lists, record hits, flag customers with new ones, audit.

    :param database_url: the KYC database
    :param shard: one item of :func:`plan_shards` (`first`, `next`)
    :param run_id: the rescreen run (hits are stored under `full:<run id>`)
    :param reason: why the book is rescreened, recorded in the audit event and the flags
    :param actor: recorded on the audit events
    :param thresholds: one Thresholds for everyone, or per segment; default: each segment's policy file
    :param now: time stamped on hits and flags (default: now)
    """
    if not str(reason or "").strip():
        raise UserError("a full rescreen needs a reason (matcher change, policy change, new list...)")
    first, upto = str(shard["first"]), shard.get("next")
    key = shard_key(run_id, first)
    per_segment: Mapping[str, Thresholds]
    if isinstance(thresholds, Thresholds):
        per_segment, default = {}, thresholds
    else:
        per_segment = dict(thresholds) if thresholds is not None else thresholds_by_segment()
        default = DEFAULT_THRESHOLDS
    candidates = [default, *per_segment.values()]
    screen_at = Thresholds(review=min(t.review for t in candidates), match=min(t.match for t in candidates))
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    stored_run = hit_run_id(run_id)
    started = time.monotonic()
    with session_scope(database_url) as session:
        done = session.scalars(select(AuditEvent).where(AuditEvent.idempotency_key == key)).first()
        if done is not None:
            log.info("shard %s: already rescreened in this run, nothing done", shard.get("shard"))
            return {**json.loads(done.payload), "already_done": True}
        versions = {v.list_key: v for v in active_versions(session)}
        if not versions:
            # Screening against nothing must never pass for a clean rescreen.
            raise UserError("no active list version: load the lists before a full rescreen")
        subjects, segments = shard_subjects(session, first, upto)
        loaded = time.monotonic()
        screener = screener_for(active_list_hashes(session), lambda: load_active_parties(session), screen_at)
        opened = time.monotonic()
        raw: list[Hit] = []
        for subject in subjects:
            raw.extend(screener.screen(subject))
        screened = time.monotonic()
        hits = _judge(raw, segments, per_segment, default)
        judged = apply_judgements(
            hits, [Judgement(*j) for j in judgement_repo.for_customers(
                session, {split_subject(h.subject_key)[0] for h in hits}, book_keys=True)])
        known = _known_hits(session, first, upto, stored_run)
        new_by_customer: dict[str, list[tuple[int | None, dict[str, Any]]]] = defaultdict(list)
        recorded = 0
        for hit in judged.open:
            customer_id, inner, role = split_subject(hit.subject_key)
            version = versions.get(hit.list_key)
            row = {"customer_id": customer_id, "subject_role": role, "subject_key": inner, "list_key": hit.list_key,
                   "native_id": hit.entry_id, "list_version_id": version.id if version else None,
                   "entry_hash": hit.content_hash, "matched_name": hit.matched_name, "score": round(hit.score, 6),
                   "verdict": hit.verdict, "explanation": hit.explanation, "matcher_version": MATCHER_VERSION,
                   "run_id": stored_run, "created_at": moment}
            hit_id = decision_repo.insert_hit_once(session, row)
            recorded += hit_id is not None
            if (customer_id, inner, hit.list_key, hit.entry_id, hit.content_hash) not in known:
                new_by_customer[customer_id].append((hit_id, row))
        flagged = 0
        for customer_id, rows in sorted(new_by_customer.items()):
            flag = flag_repo.raise_flag(
                session, customer_id, reason="list_change", actor=actor, moment=moment, run_id=run_id,
                key=f"full_rescreen:{run_id}",
                detail={"source": "full_rescreen", "why": reason, "hit_ids": [i for i, _ in rows if i is not None],
                        "native_ids": sorted({r["native_id"] for _, r in rows}),
                        "subject_roles": sorted({r["subject_role"] for _, r in rows}),
                        "verdict": max((r["verdict"] for _, r in rows), key=_VERDICT_RANK.__getitem__)})
            flagged += flag is not None
        summary = {
            "shard": shard.get("shard"), "first": first, "next": upto, "reason": reason,
            "customers": len(segments), "subjects": len(subjects), "hits": len(judged.open), "hits_recorded": recorded,
            "new_hits": sum(len(r) for r in new_by_customer.values()), "suppressed": len(judged.suppressed),
            "verdicts": dict(sorted(Counter(h.verdict for h in judged.open).items())), "customers_flagged": flagged,
            "matcher_version": MATCHER_VERSION, "lists": {k: v.content_hash for k, v in sorted(versions.items())},
            "seconds": {"load": round(loaded - started, 3), "index": round(opened - loaded, 3),
                        "screen": round(screened - opened, 3)},
        }
        append_event(session, EventType.FULL_RESCREEN_SHARD, actor=actor, run_id=run_id, payload=summary,
                     idempotency_key=key)
    log.info("shard %s: %d customers, %d subjects, %d hits (%d new), %d flagged, screened in %.1fs (%.0f subjects/s)",
             summary["shard"], summary["customers"], summary["subjects"], summary["hits"], summary["new_hits"], flagged,
             screened - opened, len(subjects) / max(screened - opened, 1e-9))
    return summary


def rescreen_summary(shards: list[Mapping[str, Any]]) -> dict[str, Any]:
    """A run's totals over its shards."""
    shards = [s for s in shards if s]
    keys = ("customers", "subjects", "hits", "hits_recorded", "new_hits", "suppressed", "customers_flagged")
    return {"shards": len(shards), **{k: sum(int(s.get(k) or 0) for s in shards) for k in keys},
            "screen_seconds": round(sum(float((s.get("seconds") or {}).get("screen") or 0) for s in shards), 3)}
