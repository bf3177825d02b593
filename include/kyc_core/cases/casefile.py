"""The case file: a decision, its reasons, contributions, hits and timeline, read from the database alone."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kyc_core.errors import UserError
from kyc_core.store import customers as customer_repo
from kyc_core.store import decisions as decision_repo
from kyc_core.store.models import AuditEvent, Customer, Decision


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


#: Shortest id prefix accepted (the demo and logs print 8 characters).
MIN_PREFIX = 6


def _by_prefix(session: Session, model: Any, ref: str) -> Any:
    """The one row whose id starts with `ref`; None when there is none; an error when several do."""
    if len(ref) < MIN_PREFIX:
        return None
    rows = session.scalars(select(model).where(model.id.like(f"{ref}%")).limit(2)).all()
    if len(rows) > 1:
        raise UserError(f"id prefix {ref!r} is ambiguous: give more characters")
    return rows[0] if rows else None


def find_decision(session: Session, ref: str) -> Decision:
    """A decision by its id (or a unique prefix), or the latest decision of a customer (id, prefix or reference)."""
    decision = decision_repo.get(session, ref)
    if decision is not None:
        return decision
    customer = (session.get(Customer, ref)
                or session.scalars(select(Customer).where(Customer.customer_ref == ref)).first()
                or _by_prefix(session, Customer, ref))
    if customer is None:
        decision = _by_prefix(session, Decision, ref)
        if decision is None:
            raise UserError(f"no decision or customer with id {ref!r}")
        return decision
    decision = decision_repo.latest_for_customer(session, customer.id)
    if decision is None:
        raise UserError(f"customer {customer.id} has no decision yet")
    return decision


def load_case(session: Session, ref: str) -> dict[str, Any]:
    """Everything about one decision, JSON-ready; personal data limited to what the case needs."""
    decision = find_decision(session, ref)
    state = decision_repo.state_of(session, decision)
    customer = customer_repo.require(session, decision.customer_id)
    hits = decision_repo.hits_of(session, decision)
    events = session.scalars(
        select(AuditEvent)
        .where(or_(AuditEvent.case_id == decision.id, (AuditEvent.customer_id == decision.customer_id) & (AuditEvent.run_id == decision.run_id)))
        .order_by(AuditEvent.seq)
    ).all()
    return {
        "customer": {
            "id": customer.id,
            "ref": customer.customer_ref,
            "kind": customer.kind,
            "segment": customer.segment,
            "siren": customer.siren,
            "risk_level": customer.risk_level,
            "next_review_date": _iso(customer.next_review_date),
        },
        "decision": {
            "id": decision.id,
            "run_id": decision.run_id,
            "outcome": state.outcome,
            "status": state.status,
            "proposed_outcome": state.proposed,
            "reviewers": list(state.reviewers),
            "confirmed": state.confirmed,
            "score": decision.score,
            "risk_level": decision.risk_level,
            "reasons": state.reasons,
            "contributions": decision.contributions,
            "documents": decision.documents,
            "next_review_date": _iso(decision.next_review_date),
            "policy_version": decision.policy_version,
            "lineage": decision.lineage,
            "created_at": _iso(decision.created_at),
        },
        "hits": [
            {
                "role": h.subject_role,
                "subject_key": h.subject_key,
                "list": h.list_key,
                "entry_id": h.native_id,
                "entry_hash": h.entry_hash,
                "matched_name": h.matched_name,
                "score": h.score,
                "verdict": h.verdict,
                "explanation": h.explanation,
                "matcher_version": h.matcher_version,
            }
            for h in hits
        ],
        "timeline": [
            {
                "seq": e.seq,
                "at": _iso(e.occurred_at),
                "event_type": e.event_type,
                "actor": e.actor,
                "payload": json.loads(e.payload),
                "hash": e.hash,
            }
            for e in events
        ],
    }


def _factors(contributions: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Factor contributions by name (stored as a list in score order)."""
    factors = (contributions or {}).get("factors") or []
    if isinstance(factors, dict):
        return factors
    return {f["name"]: f for f in factors}


def risk_note(decision: dict[str, Any]) -> str | None:
    """Why the risk level differs from the score's band, when it does (a decision rule set it), else None."""
    from kyc_core.decision.rules import risk_level_for
    from kyc_core.policy import load_policy_by_hash

    score, lineage = decision.get("score"), decision.get("lineage") or {}
    digest = (lineage.get("policy") or {}).get("content_hash")
    if score is None or not digest:
        return None
    try:
        band = risk_level_for(score, load_policy_by_hash(digest)).value
    except UserError:
        return None
    if band == decision.get("risk_level"):
        return None
    proposed = lineage.get("proposed_outcome", decision.get("outcome"))
    fired = [t.get("trigger") for t in (lineage.get("decision") or {}).get("triggers", []) if isinstance(t, dict)]
    why = f"; triggers: {', '.join(str(t) for t in fired if t)}" if fired else ""
    return (f"risk {decision.get('risk_level')} although the score {score:.2f} falls in the {band} band: "
            f"a proposed {proposed} sets the risk (and the review cadence) whatever the score{why}")


def render_text(case: dict[str, Any]) -> str:
    """Human-readable case summary (ids, codes and numbers; no names)."""
    c, d = case["customer"], case["decision"]
    lines = [
        f"case {d['id']}  customer {c['id']} ({c['kind']}, segment {c['segment']}, ref {c['ref']})",
        f"outcome: {d['outcome']} ({d['status']})  score {d['score']:.2f}  risk {d['risk_level']}  next review {d['next_review_date']}"
        if d["score"] is not None
        else f"outcome: {d['outcome']} ({d['status']})  risk {d['risk_level']}",
        f"policy {d['policy_version']}  run {d['run_id']}",
        *([note] if (note := risk_note(d)) else []),
        *([f"proposed {d['proposed_outcome']}; decided by {', '.join(d['reviewers'])}"] if d.get("reviewers") else []),
        "",
        "reasons:",
    ]
    lines += [f"  - {r.get('code')}: {r.get('text')}" for r in d["reasons"]] or ["  (none)"]
    factors = _factors(d["contributions"])
    if factors:
        lines += ["", "score contributions:"]
        for name, f in factors.items():
            lines.append(f"  {name:<14} value {f.get('value', 0):.3f} x weight {f.get('weight', 0):.2f} = {f.get('contribution', 0):.3f}")
            lines += [f"      {r.get('code')}: {r.get('text')}" for r in f.get("reasons", [])]
    if d["documents"]:
        lines += ["", "documents requested:"] + [f"  - {doc.get('label', doc.get('code'))}" for doc in d["documents"]]
    if case["hits"]:
        lines += ["", "screening hits:"]
        lines += [f"  {h['role']:<8} {h['list']}:{h['entry_id']}  score {h['score']:.3f}  {h['verdict']}  subject {h['subject_key']}"
                  for h in case["hits"]]
    lines += ["", "timeline:"]
    for e in case["timeline"]:
        lines.append(f"  #{e['seq']:<5} {e['at']}  {e['event_type']:<22} {e['actor']}")
    return "\n".join(lines)


def render_csv(case: dict[str, Any]) -> str:
    """One table: a row per reason, factor, document, hit and timeline event."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "seq", "timestamp", "code", "actor", "value", "detail"])
    d = case["decision"]
    writer.writerow(["decision", "", d["created_at"], d["outcome"], "", d["score"], json.dumps({k: d[k] for k in ("id", "status", "risk_level", "policy_version", "next_review_date")})])
    for r in d["reasons"]:
        writer.writerow(["reason", "", "", r.get("code"), "", r.get("outcome"), r.get("text")])
    for name, f in _factors(d["contributions"]).items():
        writer.writerow(["factor", "", "", name, "", f.get("contribution"), json.dumps(f, sort_keys=True)])
    for doc in d["documents"]:
        writer.writerow(["document", "", "", doc.get("code"), "", "", doc.get("label")])
    for h in case["hits"]:
        writer.writerow(["hit", "", "", f"{h['list']}:{h['entry_id']}", h["role"], h["score"], json.dumps(h["explanation"], sort_keys=True)])
    for e in case["timeline"]:
        writer.writerow(["event", e["seq"], e["at"], e["event_type"], e["actor"], e["hash"], json.dumps(e["payload"], sort_keys=True)])
    writer.writerow(["lineage", "", "", "", "", "", json.dumps(d["lineage"], sort_keys=True)])
    return out.getvalue()
