"""What the register watch reports: the event kinds, which are severe, and the events a BODACC notice carries.

Severe events call for an immediate re-review: a liquidation (the company is being wound up), a striking-off
(it no longer exists as a legal person) and a new officer or beneficial owner found on a sanctions list
(an asset freeze applies at once: CMF L.562-4). The other events flag the customer for its next review run.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from kyc_core.sources.bodacc import effective_notices
from kyc_core.sources.models import BodaccKind, BodaccNotice, BodaccNoticeType


class EventKind(StrEnum):
    """A change in a monitored company that the compliance team must know of."""

    SAFEGUARD = "safeguard"
    RECEIVERSHIP = "receivership"
    LIQUIDATION = "liquidation"
    COLLECTIVE_OTHER = "collective_other"
    STRIKING_OFF = "striking_off"
    SALE = "sale"
    OFFICER_IN = "officer_in"
    OFFICER_OUT = "officer_out"
    OWNER_IN = "owner_in"
    OWNER_OUT = "owner_out"
    CEASED = "ceased"
    OFFICE_ABROAD = "office_abroad"
    NAF_SENSITIVE = "naf_sensitive"


#: BODACC families the watch reads: collective proceedings, striking-off, sales and transfers of the business.
WATCHED_FAMILIES = ("collective", "radiation", "vente")

_BODACC_EVENTS = {
    BodaccKind.SAFEGUARD: EventKind.SAFEGUARD,
    BodaccKind.RECEIVERSHIP: EventKind.RECEIVERSHIP,
    BodaccKind.LIQUIDATION: EventKind.LIQUIDATION,
    BodaccKind.COLLECTIVE_OTHER: EventKind.COLLECTIVE_OTHER,
    BodaccKind.STRIKING_OFF: EventKind.STRIKING_OFF,
    BodaccKind.SALE: EventKind.SALE,
}

#: Severe whatever the detail says.
SEVERE_KINDS = frozenset({EventKind.LIQUIDATION, EventKind.STRIKING_OFF})
#: Severe when a new person is on a list (or could not be screened: fail closed).
PERSON_KINDS = frozenset({EventKind.OFFICER_IN, EventKind.OWNER_IN})


def is_severe(kind: EventKind, detail: Mapping[str, Any]) -> bool:
    """Whether an event calls for an immediate re-review."""
    if kind in SEVERE_KINDS:
        return True
    if kind in PERSON_KINDS:
        return bool(detail.get("listed")) or detail.get("screened") is False
    return False


@dataclass(frozen=True)
class DetectedEvent:
    """One event about one company, with the evidence that makes it this event."""

    siren: str
    kind: EventKind
    source: str
    evidence_key: str
    notice_id: str | None = None
    snapshot_before_id: int | None = None
    snapshot_after_id: int | None = None
    event_date: date | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def severe(self) -> bool:
        """Whether it calls for an immediate re-review."""
        return is_severe(self.kind, self.detail)


def notice_events(notices: Iterable[BodaccNotice], monitored: Collection[str]) -> list[DetectedEvent]:
    """One event per watched notice and monitored SIREN it names; cancelled notices and cancellations dropped.

    A rectifying notice is an event of its own (its id is new evidence); the notice it corrects keeps its event.
    """
    events: list[DetectedEvent] = []
    for notice in effective_notices(list(notices)):
        kind = _BODACC_EVENTS.get(notice.kind)
        if kind is None:
            continue
        detail = {
            "bodacc_kind": notice.kind.value,
            "family": notice.family_code,
            "notice_type": notice.notice_type.value,
            "bulletin": notice.bulletin,
            "judgment_date": notice.judgment_date.isoformat() if notice.judgment_date else None,
            "corrects_notice_id": notice.corrects_notice_id if notice.notice_type is BodaccNoticeType.RECTIFICATION else None,
        }
        for siren in notice.sirens:
            if siren in monitored:
                events.append(DetectedEvent(siren=siren, kind=kind, source="bodacc", evidence_key=notice.id,
                                            notice_id=notice.id, event_date=notice.publication_date, detail=detail))
    return events
