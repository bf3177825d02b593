"""Audit events of a registry fetch: breaker state changes, the fetch itself, unavailable sources."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from kyc_core.store.audit import EventType, append_event, canonical_json
from kyc_core.store.db import session_scope


def breaker_event_payload(source: str, old: str, new: str, reason: str) -> dict[str, str]:
    """What a breaker transition records: source, states and the reason (error class names only)."""
    return {"source": source, "from_state": old, "to_state": new, "reason": reason}


def write_breaker_event(
    database_url: str, actor: str, run_id: str | None, source: str, old: str, new: str, reason: str
) -> None:
    """Append one `breaker_state_changed` event in its own transaction."""
    with session_scope(database_url) as session:
        append_event(
            session,
            EventType.BREAKER_STATE_CHANGED,
            actor=actor,
            run_id=run_id,
            payload=breaker_event_payload(source, old, new, reason),
        )


def breaker_audit_callback(
    database_url: str, *, actor: str, run_id: str | None = None
) -> Callable[[str, str, str, str], Awaitable[None]]:
    """An `on_state_change` for the guards: each transition this process causes becomes an audit event."""

    async def on_state_change(source: str, old: str, new: str, reason: str) -> None:
        if old == new:
            # A spent quota pushing an open breaker's deadline further is not a state change.
            return
        await asyncio.to_thread(write_breaker_event, database_url, actor, run_id, source, old, new, reason)

    return on_state_change


def fetch_identity(payload: dict[str, Any]) -> dict[str, Any]:
    """The parts of a fetch outcome that define it: a re-run served from cache is the same fact."""
    sources = payload.get("sources")
    if sources is None:
        return payload
    return {
        "siren": payload["siren"],
        "sources": {
            name: {k: status.get(k) for k in ("status", "error", "error_class", "snapshot_ids")}
            for name, status in sources.items()
        },
    }


def fetch_idempotency_key(event_type: EventType, run_id: str | None, payload: dict[str, Any]) -> str | None:
    """Within a run, the same fetch outcome is recorded once however often the task is re-run."""
    if run_id is None:
        return None
    identity = {"run_id": run_id, "payload": fetch_identity(payload)}
    digest = hashlib.sha256(canonical_json(identity).encode()).hexdigest()
    return f"{event_type.value}:{digest[:48]}"


def record_fetch_events(
    session: Any,
    summary: dict[str, Any],
    *,
    actor: str,
    run_id: str | None,
    customer_id: str | None,
) -> int:
    """Append `registry_fetched` and one `source_unavailable` per unavailable source; events appended."""
    events = [(EventType.REGISTRY_FETCHED, summary)]
    for source, status in summary["sources"].items():
        if status["status"] == "unavailable":
            payload = {
                "siren": summary["siren"],
                "source": source,
                "error": status["error"],
                "error_class": status["error_class"],
            }
            events.append((EventType.SOURCE_UNAVAILABLE, payload))
    for event_type, payload in events:
        append_event(
            session,
            event_type,
            actor=actor,
            run_id=run_id,
            customer_id=customer_id,
            payload=payload,
            idempotency_key=fetch_idempotency_key(event_type, run_id, payload),
        )
    return len(events)
