"""What changed between two answers of a register about one company: pure functions over stored payloads.

Sirene is the authority for the administrative state (`etatAdministratifUniteLegale`) and the NAF code; the RNE
for officers (`composition.pouvoirs`), beneficial owners and the registered office. A block one answer lacks
(owners the account may not see, an address left out) is never read as "nobody" or "moved".
"""

from __future__ import annotations

import gettext
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pycountry
from anyascii import anyascii

from kyc_core.countries import iso2
from kyc_core.customers.book import facts_from_record
from kyc_core.customers.subjects import OFFICER, OWNER, Party, subject_key
from kyc_core.sources.models import Address
from kyc_core.sources.parsing import as_dict
from kyc_core.sources.rne import parse_record, parse_rne_address, single_record
from kyc_core.sources.sirene import parse_legal_unit, parse_siret_search
from kyc_core.watch.events import EventKind

#: Country of a French registered office.
FRANCE = "FR"


@dataclass(frozen=True)
class RegisterView:
    """The facts the watch compares; None where this answer does not tell."""

    status: str | None = None
    naf: str | None = None
    office_country: str | None = None
    officers: Mapping[str, Party] | None = None
    owners: Mapping[str, Party] | None = None


@dataclass(frozen=True)
class Change:
    """One change between two views, with the new people to screen."""

    kind: EventKind
    detail: dict[str, Any] = field(default_factory=dict)
    persons: tuple[tuple[str, Party], ...] = ()


def _folded(name: str) -> str:
    return " ".join(anyascii(name).upper().replace("-", " ").split())


@lru_cache(maxsize=1)
def _french_names() -> dict[str, str]:
    """Folded French country names (INSEE labels: "BELGIQUE", "ROYAUME-UNI") -> ISO alpha-2, from pycountry."""
    try:
        french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"])
    except OSError:
        return {}
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for name in (country.name, getattr(country, "official_name", None), getattr(country, "common_name", None)):
            if name:
                names.setdefault(_folded(french.gettext(name)), country.alpha_2)
    return names


def country_code(value: str | None) -> str | None:
    """ISO alpha-2 of a code, an English name or a French label as the registers publish it; None when unknown."""
    if not value or not value.strip():
        return None
    return iso2(value) or _french_names().get(_folded(value))


def office_country(address: Address | None) -> str | None:
    """ISO alpha-2 of an office's country ("FR" for a French address without a country); None when unknown.

    Sirene gives a foreign country as an INSEE code ("99131") with a French label ("BELGIQUE"): a label or code
    no table resolves is kept as given, so a move abroad is still seen.
    """
    if address is None:
        return None
    if not address.country_code and not address.country:
        return FRANCE
    for value in (address.country_code, address.country):
        code = country_code(value)
        if code:
            return code
    return (address.country or address.country_code or "").strip().upper() or None


def _people(parties: tuple[Party, ...], role: str) -> dict[str, Party]:
    out: dict[str, Party] = {}
    for party in parties:
        if party.names:
            out.setdefault(subject_key(role, party.names[0], party.birth), party)
    return out


def sirene_view(legal_unit: Mapping[str, Any], establishments: Mapping[str, Any] | None = None) -> RegisterView:
    """State and NAF code of a `/siren` answer; the head office's country from a `/siret?q=` page holding it."""
    company = parse_legal_unit(dict(legal_unit))
    country = None
    if establishments is not None:
        items, _page = parse_siret_search(dict(establishments))
        head = next((e for e in items if e.is_head_office), None)
        country = office_country(head.address) if head is not None else None
    return RegisterView(status=company.status.value if company.status else None, naf=company.naf_code,
                        office_country=country)


def rne_view(record: Any) -> RegisterView:
    """Officers, owners (only when the answer carries the block) and the seat's country of an RNE record."""
    data = single_record(record)
    content = as_dict(as_dict(data.get("formality")).get("content"))
    blocks = [as_dict(content.get(key)) for key in ("personneMorale", "personnePhysique", "exploitation")]
    has_owners = any("beneficiairesEffectifs" in block for block in blocks)
    parsed = parse_record(data, rbe_entitled=True)
    facts = facts_from_record(parsed)
    seat = next((as_dict(as_dict(b.get("adresseEntreprise")).get("adresse")) for b in blocks if b.get("adresseEntreprise")), {})
    return RegisterView(
        office_country=office_country(parse_rne_address(seat)) if seat else None,
        officers=_people(facts.officers, OFFICER),
        owners=_people(facts.owners, OWNER) if has_owners else None,
    )


def view_of(source: str, payloads: list[str]) -> RegisterView:
    """The view of one source's stored answers (Sirene: unit, then the first establishments page)."""
    if source == "sirene":
        return sirene_view(json.loads(payloads[0]), json.loads(payloads[1]) if len(payloads) > 1 else None)
    return rne_view(json.loads(payloads[0]))


def _people_changes(before: Mapping[str, Party] | None, after: Mapping[str, Party] | None, role: str,
                    came: EventKind, left: EventKind) -> list[Change]:
    if before is None or after is None:
        return []
    changes = []
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    if added:
        changes.append(Change(came, {"subject_keys": added, "kinds": [after[k].kind for k in added]},
                              tuple((role, after[k]) for k in added)))
    if removed:
        changes.append(Change(left, {"subject_keys": removed}))
    return changes


def compare(before: RegisterView, after: RegisterView, sensitive_naf: Collection[str]) -> list[Change]:
    """Every watched change from `before` to `after`."""
    changes: list[Change] = []
    if before.status == "active" and after.status == "ceased":
        changes.append(Change(EventKind.CEASED, {"from": before.status, "to": after.status}))
    if after.naf and before.naf and after.naf != before.naf and after.naf in sensitive_naf:
        changes.append(Change(EventKind.NAF_SENSITIVE, {"from": before.naf, "to": after.naf}))
    if (before.office_country and after.office_country and after.office_country != before.office_country
            and after.office_country != FRANCE):
        changes.append(Change(EventKind.OFFICE_ABROAD, {"from": before.office_country, "to": after.office_country}))
    changes += _people_changes(before.officers, after.officers, OFFICER, EventKind.OFFICER_IN, EventKind.OFFICER_OUT)
    changes += _people_changes(before.owners, after.owners, OWNER, EventKind.OWNER_IN, EventKind.OWNER_OUT)
    return changes
