"""Inputs and outputs of the screening engine: who is screened, who is listed, what was found.

The engine only needs these few fields; list parsers and the customer store map their richer records
onto them. Dates are ISO strings with their precision ("1961", "1961-05", "1961-05-17") or year ranges
("1958..1962"); countries are ISO 3166 alpha-2 codes; identifiers are any document or registry number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Entry and subject types the engine understands; anything else is treated as "unknown".
ENTITY_TYPES = ("person", "organization", "vessel", "aircraft", "unknown")

# FollowTheMoney schema names mapped onto the engine's types (LegalEntity may be either kind).
_SCHEMA_TYPES = {
    "person": "person",
    "company": "organization",
    "organization": "organization",
    "organisation": "organization",
    "publicbody": "organization",
    "legalentity": "unknown",
    "vessel": "vessel",
    "airplane": "aircraft",
    "aircraft": "aircraft",
    "individual": "person",
    "entity": "organization",
}


def entity_type(value: str | None) -> str:
    """The engine type for a type or FollowTheMoney schema name (case-insensitive); unknown if empty."""
    if not value:
        return "unknown"
    key = value.strip().lower().replace(" ", "").replace("_", "")
    if key in ENTITY_TYPES:
        return key
    if key not in _SCHEMA_TYPES:
        raise ValueError(f"unknown entity type or schema {value!r}")
    return _SCHEMA_TYPES[key]


@dataclass(frozen=True, slots=True)
class ListedParty:
    """One entry of one sanctions list, reduced to what matching reads.

    :param list_key: list identifier (ofac_sdn, eu_fsf, un_sc, ...)
    :param entry_id: the list's own id for the entry (OFAC uid, EU logicalId, UN DATAID)
    :param entry_type: person, organization, vessel, aircraft or unknown
    :param names: every published name, primary first
    :param birth_dates: "YYYY", "YYYY-MM", "YYYY-MM-DD" or "YYYY..YYYY"
    :param countries: nationalities, citizenships and other tied countries (ISO alpha-2)
    :param identifiers: passport, national id, IMO, BIC ... numbers as published
    :param content_hash: hash of the published content; judgements hold only while it is unchanged
    """

    list_key: str
    entry_id: str
    entry_type: str
    names: tuple[str, ...]
    birth_dates: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    content_hash: str = ""


@dataclass(frozen=True, slots=True)
class Subject:
    """The screened side: a customer, officer or beneficial owner.

    :param key: stable id of the subject in the KYC database
    :param names: the name and any known other names
    :param subject_type: person, organization, vessel, aircraft or unknown
    :param birth_dates: same formats as :class:`ListedParty`
    :param countries: nationality / residence / registration countries (ISO alpha-2)
    :param identifiers: document or registry numbers
    """

    key: str
    names: tuple[str, ...]
    subject_type: str = "unknown"
    birth_dates: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Hit:
    """One listed party a subject may be, with the score and why."""

    subject_key: str
    list_key: str
    entry_id: str
    matched_name: str
    query_name: str
    score: float
    verdict: str
    explanation: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form used by the CLI and stored with decisions."""
        return {
            "list": self.list_key,
            "entry_id": self.entry_id,
            "matched_name": self.matched_name,
            "score": round(self.score, 4),
            "verdict": self.verdict,
            "explanation": self.explanation,
        }


@dataclass(frozen=True, slots=True)
class Judgement:
    """An analyst's verdict on one subject / listed entry pair, valid for one version of the entry.

    :param subject_key: the screened subject
    :param list_key: list of the entry
    :param entry_id: the entry
    :param entry_hash: content hash of the entry when the judgement was made
    :param verdict: "false_positive" suppresses the hit; "true_match" keeps it (and records the decision)
    """

    subject_key: str
    list_key: str
    entry_id: str
    entry_hash: str
    verdict: str
