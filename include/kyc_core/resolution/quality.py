"""Data-quality score of a resolved entity: completeness of what the registers confirm, and real freshness.

Components and seed weights (sum 1.0):

- official_identifier 0.30: 1 when a register (Sirene or RNE) answered for the declared SIREN, else 0.
- current_address 0.20: 1 for a register head-office address of an open establishment, 0.5 when the
  head office is reported closed (last known address), 0 without a register address.
- officers 0.15: 1 when the RNE lists at least one officer, 0.5 when officers are only declared, else 0.
- activity_code 0.10: 1 when a register gives the NAF code, else 0.
- sanctions_screened 0.15: 1 when the caller states that screening ran on the subject and its parties.
- freshness 0.10: the credit of the stalest register answer used. An answer's age is `now` minus its
  `fetched_at` (when it left the source; a cached answer keeps its original fetch time), or minus the
  source's own timestamp when the fetch time is unknown. Credit is 1 up to 24 hours, falls linearly
  to 0 at 30 days, and is 0 for an answer of unknown age or when no register answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from kyc_core.resolution.model import REGISTER_SOURCES, Provenance, ResolvedEntity, SourceName

SEED_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "official_identifier": 0.30,
        "current_address": 0.20,
        "officers": 0.15,
        "activity_code": 0.10,
        "sanctions_screened": 0.15,
        "freshness": 0.10,
    }
)

FULL_CREDIT_AGE = timedelta(hours=24)
ZERO_CREDIT_AGE = timedelta(days=30)

_IDENTITY_REGISTERS = (SourceName.SIRENE, SourceName.RNE)


@dataclass(frozen=True)
class QualityComponent:
    """One component: its weight, the credit earned in [0, 1], the weighted contribution and why."""

    name: str
    weight: float
    credit: float
    contribution: float
    detail: str


@dataclass(frozen=True)
class DataQuality:
    """The score in [0, 1] and its per-component breakdown."""

    score: float
    components: tuple[QualityComponent, ...]

    def breakdown(self) -> dict[str, float]:
        """Contribution of each component, by name."""
        return {c.name: c.contribution for c in self.components}


def freshness_credit(age: timedelta) -> float:
    """1 up to 24 h old, linear down to 0 at 30 days, 0 beyond (a future timestamp counts as fresh)."""
    if age <= FULL_CREDIT_AGE:
        return 1.0
    if age >= ZERO_CREDIT_AGE:
        return 0.0
    return (ZERO_CREDIT_AGE - age) / (ZERO_CREDIT_AGE - FULL_CREDIT_AGE)


def answer_age(provenance: Provenance, now: datetime) -> timedelta | None:
    """Age of one source's answer: from its fetch time, else from the source's own timestamp."""
    moment = provenance.fetched_at or provenance.source_timestamp
    return None if moment is None else now - moment


def _identifier(entity: ResolvedEntity) -> tuple[float, str]:
    """Credit for the SIREN being confirmed by a register."""
    confirmed = [s for s in entity.siren.sources if s in _IDENTITY_REGISTERS]
    if confirmed:
        return 1.0, "SIREN confirmed by " + ", ".join(s.value for s in confirmed)
    return 0.0, "SIREN declared only"


def _address(entity: ResolvedEntity) -> tuple[float, str]:
    """Credit for a current head-office address."""
    address = entity.head_office_address
    if address is None:
        return 0.0, "no register address"
    if entity.head_office_active is not None and not entity.head_office_active.value:
        return 0.5, "head office reported closed: last known address"
    return 1.0, "head-office address from " + ", ".join(s.value for s in address.sources)


def _officers(entity: ResolvedEntity) -> tuple[float, str]:
    """Credit for officers known from the RNE."""
    registered = sum(1 for o in entity.officers if SourceName.RNE in o.sources)
    if registered:
        return 1.0, f"{registered} officer(s) in the RNE"
    if entity.officers:
        return 0.5, "officers declared only"
    return 0.0, "no officer known"


def _activity(entity: ResolvedEntity) -> tuple[float, str]:
    """Credit for a register NAF code."""
    if entity.activity is None:
        return 0.0, "no NAF code"
    return 1.0, "NAF code from " + ", ".join(s.value for s in entity.activity.sources)


def _freshness(entity: ResolvedEntity, now: datetime) -> tuple[float, str]:
    """Credit of the stalest register answer used."""
    used = [entity.source_provenance[s] for s in REGISTER_SOURCES if s in entity.source_provenance]
    if not used:
        return 0.0, "no register answer"
    credits: list[tuple[float, str]] = []
    for provenance in used:
        age = answer_age(provenance, now)
        if age is None:
            credits.append((0.0, f"{provenance.source.value}: age unknown"))
        else:
            hours = age.total_seconds() / 3600
            credits.append((freshness_credit(age), f"{provenance.source.value}: {hours:.1f} h old"))
    worst = min(credits, key=lambda c: c[0])
    return worst[0], "stalest " + worst[1]


def data_quality(
    entity: ResolvedEntity,
    *,
    sanctions_screened: bool,
    now: datetime | None = None,
    weights: Mapping[str, float] = SEED_WEIGHTS,
) -> DataQuality:
    """Score of one resolved entity; `now` defaults to the resolution time."""
    if set(weights) != set(SEED_WEIGHTS) or abs(sum(weights.values()) - 1.0) > 1e-9:
        raise ValueError(f"weights must cover {sorted(SEED_WEIGHTS)} and sum to 1")
    moment = now or entity.resolved_at
    parts = {
        "official_identifier": _identifier(entity),
        "current_address": _address(entity),
        "officers": _officers(entity),
        "activity_code": _activity(entity),
        "sanctions_screened": (1.0, "screened") if sanctions_screened else (0.0, "not screened"),
        "freshness": _freshness(entity, moment),
    }
    components = tuple(
        QualityComponent(name, weights[name], credit, round(weights[name] * credit, 6), detail)
        for name, (credit, detail) in parts.items()
    )
    score = round(min(1.0, max(0.0, sum(c.contribution for c in components))), 6)
    return DataQuality(score, components)
