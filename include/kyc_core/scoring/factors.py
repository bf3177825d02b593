"""The four risk factors: small pure functions, each giving a value in [0, 1] and the reasons for it.

A factor's value is its strongest signal (the maximum over its reasons), so every value can be
traced to exactly one reason an analyst can check. The constants below are part of the scoring
algorithm: changing one changes SCORING_VERSION.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kyc_core.policy import Policy
from kyc_core.scoring.profile import PartyRole, RiskProfile, UboStatus

#: Country of registration of the customers this product onboards; other chain countries are foreign.
HOME_COUNTRY = "FR"

# Where a country appears changes how much its listing says about the customer: residence is where
# the money lives, business countries where it flows, nationality and holding chain are weaker ties.
COUNTRY_ROLE_WEIGHT = {"residence": 1.0, "business": 0.9, "nationality": 0.8, "ownership_chain": 0.7}

# A possible sanctions hit on the customer itself weighs more than one on an officer or an owner.
POSSIBLE_HIT_VALUE = {PartyRole.SUBJECT: 0.7, PartyRole.BENEFICIAL_OWNER: 0.5, PartyRole.OFFICER: 0.5}
CONFIRMED_HIT_VALUE = 1.0

# A PEP owner benefits from the relationship more directly than a PEP officer does.
PEP_ROLE_WEIGHT = {PartyRole.SUBJECT: 1.0, PartyRole.BENEFICIAL_OWNER: 0.9, PartyRole.OFFICER: 0.8}

# Declared cash intensity when the activity code does not already say so.
CASH_INTENSIVE_VALUE = 0.5

# Chains of one or two levels are ordinary (a holding owning an operating company).
ORDINARY_OWNERSHIP_LEVELS = 2
VALUE_PER_EXTRA_LEVEL = 0.25
# (more than N linked entities, value), checked from the largest N down.
LINKED_ENTITY_BANDS = ((10, 0.9), (5, 0.6), (3, 0.3))
# (at least N distinct foreign jurisdictions in the chain, value), largest N first.
FOREIGN_JURISDICTION_BANDS = ((3, 0.7), (2, 0.5), (1, 0.3))
# Owners the register would not show us cannot be ruled out as a screen; owners a company should
# have and did not declare are an anomaly in themselves.
UBO_NOT_AVAILABLE_VALUE = 0.6
UBO_NONE_DECLARED_VALUE = 0.8


class FactorReason(StrEnum):
    """Why a factor has a value; stored with every score."""

    COUNTRY_LISTED = "country_listed"
    SANCTIONS_MATCH = "sanctions_match"
    SANCTIONS_POSSIBLE_MATCH = "sanctions_possible_match"
    PEP = "pep"
    SENSITIVE_ACTIVITY = "sensitive_activity"
    CASH_INTENSIVE = "cash_intensive"
    UNUSUAL_VOLUME = "unusual_volume"
    UNUSUAL_PATRIMONY = "unusual_patrimony"
    OWNERSHIP_DEPTH = "ownership_depth"
    LINKED_ENTITIES = "linked_entities"
    FOREIGN_JURISDICTIONS = "foreign_jurisdictions"
    UBO_NOT_AVAILABLE = "ubo_not_available"
    UBO_NONE_DECLARED = "ubo_none_declared"


@dataclass(frozen=True, slots=True)
class Reason:
    """One signal: a code, a sentence without personal data, and the value it gives the factor."""

    code: FactorReason
    text: str
    value: float

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"code": self.code.value, "text": self.text, "value": self.value}


@dataclass(frozen=True, slots=True)
class FactorValue:
    """A factor's value and every signal behind it, strongest first."""

    value: float
    reasons: tuple[Reason, ...]


def _strongest(reasons: list[Reason]) -> FactorValue:
    ordered = tuple(sorted(reasons, key=lambda r: (-r.value, r.code.value, r.text)))
    return FactorValue(value=round(min(1.0, ordered[0].value), 6) if ordered else 0.0, reasons=ordered)


def geography_factor(profile: RiskProfile, policy: Policy) -> FactorValue:
    """Exposure to high-risk jurisdictions through residence, business, nationality and holding chain."""
    reasons = []
    for role, country in profile.countries():
        listings = policy.geography.listings(country)
        if not listings:
            continue
        key, listed = listings[0]
        value = round(listed.risk * COUNTRY_ROLE_WEIGHT[role], 6)
        also = f" (also on {', '.join(k for k, _ in listings[1:])})" if len(listings) > 1 else ""
        text = f"{role} country {country} is on {key} as of {listed.as_of.isoformat()}{also}"
        reasons.append(Reason(FactorReason.COUNTRY_LISTED, text, value))
    return _strongest(reasons)


def pep_sanctions_factor(profile: RiskProfile, policy: Policy) -> FactorValue:
    """Sanctions hits on the customer, its officers and owners, and politically exposed persons."""
    reasons = []
    for hit in profile.sanctions_hits:
        if hit.verdict == "match":
            code, value, what = FactorReason.SANCTIONS_MATCH, CONFIRMED_HIT_VALUE, "confirmed match"
        else:
            code, value, what = (
                FactorReason.SANCTIONS_POSSIBLE_MATCH,
                POSSIBLE_HIT_VALUE[hit.role],
                "possible match",
            )
        text = f"{what} ({hit.role.value}) with {hit.list_key} entry {hit.entry_id} (score {hit.score:.2f})"
        reasons.append(Reason(code, text, value))
    for pep in profile.peps:
        category = pep.category.value if pep.category else "unspecified"
        value = round(policy.pep.risk(pep.category) * PEP_ROLE_WEIGHT[pep.role], 6)
        reasons.append(
            Reason(FactorReason.PEP, f"{pep.role.value} is a politically exposed person ({category})", value)
        )
    return _strongest(reasons)


def activity_factor(profile: RiskProfile, policy: Policy) -> FactorValue:
    """Sensitive or cash-intensive activity and declared amounts unusual for the segment."""
    reasons = []
    listed = policy.activities.codes.get(profile.naf_code) if profile.naf_code else None
    if listed is not None:
        text = f"activity {profile.naf_code} ({listed.label}) is sensitive"
        reasons.append(Reason(FactorReason.SENSITIVE_ACTIVITY, text, listed.risk))
    if profile.cash_intensive and not (listed and listed.cash_intensive):
        reasons.append(
            Reason(FactorReason.CASH_INTENSIVE, "declared cash-intensive activity", CASH_INTENSIVE_VALUE)
        )
    volume = policy.spec.unusual_volume
    if (
        profile.monthly_volume_eur is not None
        and profile.monthly_volume_eur > volume.monthly_volume_eur_above
    ):
        text = f"expected monthly volume above {volume.monthly_volume_eur_above:,.0f} EUR"
        reasons.append(Reason(FactorReason.UNUSUAL_VOLUME, text, volume.value))
    if (
        profile.expected_patrimony_eur is not None
        and profile.expected_patrimony_eur > volume.patrimony_eur_above
    ):
        text = f"expected patrimony above {volume.patrimony_eur_above:,.0f} EUR"
        reasons.append(Reason(FactorReason.UNUSUAL_PATRIMONY, text, volume.value))
    return _strongest(reasons)


def _banded(count: int, bands: tuple[tuple[int, float], ...], *, strictly_above: bool) -> float:
    for limit, value in bands:
        if count > limit if strictly_above else count >= limit:
            return value
    return 0.0


def structure_factor(profile: RiskProfile, policy: Policy) -> FactorValue:
    """Opacity of a legal entity: chain depth, linked entities, foreign holdings, unknown owners."""
    if profile.kind != "entity":
        return FactorValue(0.0, ())
    reasons = []
    levels = profile.ownership_levels
    if levels is not None and levels > ORDINARY_OWNERSHIP_LEVELS:
        value = min(1.0, (levels - ORDINARY_OWNERSHIP_LEVELS) * VALUE_PER_EXTRA_LEVEL)
        reasons.append(Reason(FactorReason.OWNERSHIP_DEPTH, f"{levels} ownership levels", value))
    linked = profile.linked_entities
    if linked is not None and (value := _banded(linked, LINKED_ENTITY_BANDS, strictly_above=True)):
        reasons.append(Reason(FactorReason.LINKED_ENTITIES, f"{linked} linked entities", value))
    foreign = sorted({c for c in profile.chain_jurisdictions if c != HOME_COUNTRY})
    if value := _banded(len(foreign), FOREIGN_JURISDICTION_BANDS, strictly_above=False):
        text = f"foreign jurisdictions in the ownership chain: {', '.join(foreign)}"
        reasons.append(Reason(FactorReason.FOREIGN_JURISDICTIONS, text, value))
    if profile.ubo_status == UboStatus.NOT_AVAILABLE:
        text = "beneficial owners could not be obtained from the register"
        reasons.append(Reason(FactorReason.UBO_NOT_AVAILABLE, text, UBO_NOT_AVAILABLE_VALUE))
    elif profile.ubo_status == UboStatus.NONE_DECLARED and profile.ubo_expected:
        text = "no beneficial owner declared although the company must declare them"
        reasons.append(Reason(FactorReason.UBO_NONE_DECLARED, text, UBO_NONE_DECLARED_VALUE))
    return _strongest(reasons)
