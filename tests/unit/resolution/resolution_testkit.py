"""Builders for resolution tests: real recorded answers parsed by the connectors, and small synthetic records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kyc_core.customers.request import EntityCustomer
from kyc_core.sources import bodacc, rne, sirene
from kyc_core.sources.models import (
    Address,
    AdministrativeStatus,
    BeneficialOwner,
    BodaccKind,
    BodaccNotice,
    BodaccNoticeType,
    Company,
    Establishment,
    NaturalPersonOfficer,
    RneRecord,
)

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
SIREN = "889924320"
OTHER_SIREN = "552032534"


def real_json(shared_data: Path, relative: str) -> Any:
    """A recorded response from the shared real data, unwrapped from its recording envelope."""
    data = json.loads((shared_data / "real" / relative).read_text(encoding="utf-8"))
    if isinstance(data, dict) and "match" in data and "response" in data:
        return data["response"]
    return data


def real_sirene(shared_data: Path, name: str) -> tuple[Company, dict[str, Any]]:
    """A recorded Sirene legal unit with its establishments, and the raw /siren payload."""
    raw = real_json(shared_data, f"fr_insee/siren/{name}.json")
    establishments, _ = sirene.parse_siret_search(
        real_json(shared_data, f"fr_insee/siret-by-siren/{name}.json")
    )
    return sirene.with_establishments(sirene.parse_legal_unit(raw), establishments), raw


def real_notices(shared_data: Path) -> list[BodaccNotice]:
    """The recorded BODACC notices of Ganymède (880878145)."""
    notices, _ = bodacc.parse_notices(real_json(shared_data, "fr_bodacc/bodacc.json"))
    return notices


def real_rne(
    shared_data: Path, relative: str, index: int | None = None, *, entitled: bool = True
) -> RneRecord:
    """A recorded RNE company record (one element of an array answer when `index` is given)."""
    data = real_json(shared_data, relative)
    record = data[index] if index is not None else data
    return rne.parse_record(record, rbe_entitled=entitled)


def customer(siren: str = SIREN, name: str = "Kanta", **fields: Any) -> EntityCustomer:
    """A declared legal entity."""
    return EntityCustomer(siren=siren, declared_name=name, **fields)


def head_office(siren: str = SIREN, **fields: Any) -> Establishment:
    """An open head office in Caen."""
    values: dict[str, Any] = {
        "siret": f"{siren}00019",
        "is_head_office": True,
        "status": AdministrativeStatus.ACTIVE,
        "naf_code": "62.01Z",
        "address": Address(
            street_number="4",
            street_type="RUE",
            street_name="DE LA GARE",
            postal_code="14000",
            city="CAEN",
            city_code="14118",
        ),
    }
    values.update(fields)
    return Establishment(**values)


def company(source: str = "sirene", siren: str = SIREN, name: str = "KANTA", **fields: Any) -> Company:
    """A company as one register describes it."""
    values: dict[str, Any] = {
        "source": source,
        "siren": siren,
        "legal_name": name,
        "legal_category_code": "5710",
        "naf_code": "62.01Z",
        "status": AdministrativeStatus.ACTIVE,
        "head_office": head_office(siren),
    }
    values.update(fields)
    return Company(**values)


def officer(
    last: str, first: tuple[str, ...], year: int | None, month: int | None, **fields: Any
) -> NaturalPersonOfficer:
    """A natural-person officer (president of an SAS by default)."""
    values: dict[str, Any] = {"role_code": "73", "role_label": "Président de SAS"}
    values.update(fields)
    return NaturalPersonOfficer(
        last_name=last, first_names=first, birth_year=year, birth_month=month, **values
    )


def owner(
    last: str, first: tuple[str, ...], year: int | None, month: int | None, pct: float | None, **fields: Any
) -> BeneficialOwner:
    """A beneficial owner holding `pct` percent directly unless told otherwise."""
    values: dict[str, Any] = {
        "ownership_pct": pct,
        "direct_ownership_pct": pct,
        "indirect_ownership_pct": 0.0,
    }
    values.update(fields)
    return BeneficialOwner(last_name=last, first_names=first, birth_year=year, birth_month=month, **values)


def notice(notice_id: str, kind: BodaccKind, day: str, **fields: Any) -> BodaccNotice:
    """A BODACC notice about SIREN published on `day` (ISO date)."""
    values: dict[str, Any] = {
        "sirens": (SIREN,),
        "publication_date": day,
        "notice_type": BodaccNoticeType.INITIAL,
    }
    values.update(fields)
    return BodaccNotice(id=notice_id, kind=kind, **values)
