"""Incident transitions: what changes and which alert it sends, decided from the open incident and the new severity.

Alerts are sent on transitions only: one when an incident opens, one the first time it reaches each
higher severity, one reminder per `reminder_after` period it stays open, one when it resolves.
A severity that falls back is recorded without an e-mail. Every alert carries a key unique per
incident and transition, so the same transition can never be alerted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kyc_core.monitoring.status import SEVERITY_RANK
from kyc_core.store.models import SourceIncident

OPENED, RAISED, REMINDER, RESOLVED = "opened", "raised", "reminder", "resolved"


@dataclass(frozen=True)
class OpenIncident:
    """What the transition rules need of an open incident."""

    id: int
    severity: str
    peak_severity: str
    opened_at: datetime
    reminders: int
    #: When it first reached critical (None if it never did): the emergency clock.
    critical_since: datetime | None = None


@dataclass(frozen=True)
class Transition:
    """One change to apply; `alert` names the e-mail it sends (None: recorded silently)."""

    action: str  # open | severity | remind | resolve
    severity: str
    alert: str | None
    #: Suffix of the alert key after the incident id (unique per transition).
    key: str | None = None
    reminders: int = 0


def escalate(severity: str, incident: OpenIncident | None, now: datetime, emergency_after_s: float) -> str:
    """critical becomes emergency once the incident has been critical for `emergency_after`."""
    if severity != "critical" or incident is None or incident.critical_since is None:
        return severity
    return "emergency" if (now - incident.critical_since).total_seconds() >= emergency_after_s else severity


def decide(
    incident: OpenIncident | None,
    severity: str | None,
    now: datetime,
    *,
    reminder_after_s: float,
    emergency_after_s: float,
) -> list[Transition]:
    """Transitions from the open incident (or none) given the severity now wanted (None: all clear)."""
    if incident is None:
        return [Transition("open", severity, OPENED, OPENED)] if severity else []
    if severity is None:
        return [Transition("resolve", incident.severity, RESOLVED, RESOLVED)]
    wanted = escalate(severity, incident, now, emergency_after_s)
    changes: list[Transition] = []
    if SEVERITY_RANK[wanted] > SEVERITY_RANK[incident.peak_severity]:
        changes.append(Transition("severity", wanted, RAISED, f"{RAISED}:{wanted}"))
    elif wanted != incident.severity:
        changes.append(Transition("severity", wanted, None))
    due = int((now - incident.opened_at).total_seconds() // reminder_after_s)
    if due > incident.reminders and not changes:
        changes.append(Transition("remind", wanted, REMINDER, f"{REMINDER}:{due}", reminders=due))
    elif due > incident.reminders:
        # A severity alert just went out: it is the reminder for this period.
        changes.append(Transition("remind", wanted, None, reminders=due))
    return changes


def apply_change(session: Session, row: SourceIncident | None, change: Any, *, source: str, kind: str,
                 now: datetime) -> SourceIncident:
    """Carry a decided change (open, severity, remind, resolve) into the incident row; a new row when it opens."""
    if change.action == "open":
        row = SourceIncident(source=source, kind=kind, status="open", severity=change.severity,
                             peak_severity=change.severity, opened_at=now, reminders=0, detail={})
        session.add(row)
    elif row is None:
        raise ValueError(f"no open incident to {change.action}")
    elif change.action == "severity":
        row.severity = change.severity
        if SEVERITY_RANK[change.severity] > SEVERITY_RANK[row.peak_severity]:
            row.peak_severity = change.severity
    elif change.action == "remind":
        row.reminders = change.reminders
    elif change.action == "resolve":
        row.status = "resolved"
        row.resolved_at = now
    return row
