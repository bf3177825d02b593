"""The EU Financial Sanctions Files consolidated list, XML 1.1 (`export/sanctionEntity`)."""

from __future__ import annotations

from pathlib import Path

from kyc_core.errors import UserError
from kyc_core.lists.fields import country_value, identifier_kind, parse_birth_date, parse_timestamp
from kyc_core.lists.model import (
    Address,
    BirthDate,
    Identifier,
    Name,
    PackedEntries,
    ParsedList,
    SanctionsEntry,
)
from kyc_core.lists.ofac import dedupe_names
from kyc_core.lists.xmlstream import children, stream, text

_SUBJECT_TYPES = {
    "person": "person",
    "enterprise": "organization",
    "vessel": "vessel",
    "aircraft": "aircraft",
}


def _attr(el, name: str) -> str | None:
    # The EU writes absent values as empty attributes, never omits them.
    value = " ".join((el.get(name) or "").split())
    return value or None


def parse_eu_xml(path: Path) -> ParsedList:
    """Parse the EU FSF XML 1.1 export."""
    entries = PackedEntries()
    published_at = None
    for _, element in stream(path, ("sanctionEntity",), root="export"):
        if published_at is None and element.getparent() is not None:
            published_at = parse_timestamp(element.getparent().get("generationDate"))
        entries.append(_entity(element))
    if not entries:
        raise UserError(f"{path.name}: no sanctionEntity records")
    return ParsedList(
        list_key="eu_fsf",
        source_format="eu_xml",
        entries=entries,
        published_at=published_at,
        source_uri=str(path),
    )


def _names(el) -> list[Name]:
    aliases = children(el, "nameAlias")
    # No primary flag exists; the main spelling is the first alias the EU split into first/last name.
    structured = [a for a in aliases if _attr(a, "lastName")]
    if structured:
        aliases.remove(structured[0])
        aliases.insert(0, structured[0])
    out: list[Name] = []
    for alias in aliases:
        first, middle, last = _attr(alias, "firstName"), _attr(alias, "middleName"), _attr(alias, "lastName")
        full = _attr(alias, "wholeName") or " ".join(v for v in (first, middle, last) if v)
        if not full:
            continue
        out.append(
            Name(
                full=full,
                kind="primary" if not out else "aka",
                quality="weak" if (alias.get("strong") or "true").lower() == "false" else "strong",
                first=" ".join(v for v in (first, middle) if v) or None,
                last=last,
                lang=_attr(alias, "nameLanguage"),
            )
        )
    return out


def _birth_dates(el) -> tuple[list[BirthDate], list[str]]:
    dates, places = [], []
    for item in children(el, "birthdate"):
        circa = (item.get("circa") or "").lower() == "true"
        raw = _attr(item, "birthdate") or _attr(item, "year")
        if raw:
            parsed = parse_birth_date(("circa " if circa else "") + raw)
            if _attr(item, "birthdate") is None and _attr(item, "monthOfYear") and parsed.year:
                parsed = parse_birth_date(
                    ("circa " if circa else "") + f"{parsed.year}-{int(item.get('monthOfYear')):02d}"
                )
            dates.append(parsed)
        place = ", ".join(
            v
            for v in (
                _attr(item, "city"),
                _attr(item, "place"),
                _attr(item, "region"),
                _attr(item, "countryDescription"),
            )
            if v and v not in ("-", "UNKNOWN")
        )
        if place:
            places.append(place)
    return dates, places


def _entity(el) -> SanctionsEntry:
    subject = next(iter(children(el, "subjectType")), None)
    entry_type = _SUBJECT_TYPES.get(
        (subject.get("code") if subject is not None else "") or "", "organization"
    )
    birth_dates, places = _birth_dates(el)
    addresses = []
    for item in children(el, "address"):
        address = Address(
            street=", ".join(v for v in (_attr(item, "street"), _attr(item, "poBox")) if v) or None,
            city=_attr(item, "city"),
            region=_attr(item, "region"),
            postal_code=_attr(item, "zipCode"),
            country=country_value(_attr(item, "countryIso2Code")),
        )
        if any((address.street, address.city, address.region, address.postal_code, address.country)):
            addresses.append(address)
    identifiers = []
    for item in children(el, "identification"):
        number = _attr(item, "number") or _attr(item, "latinNumber")
        if number:
            label = (
                _attr(item, "identificationTypeDescription") or _attr(item, "identificationTypeCode") or ""
            )
            code = (_attr(item, "identificationTypeCode") or "").lower()
            kind = {"passport": "passport", "id": "national_id", "swiftbic": "bic", "imo": "imo"}.get(
                code
            ) or identifier_kind(label)
            identifiers.append(
                Identifier(
                    kind=kind,
                    number=number,
                    country=country_value(_attr(item, "countryIso2Code")),
                    label=label or None,
                )
            )
    citizenships = [
        c for item in children(el, "citizenship") if (c := country_value(_attr(item, "countryIso2Code")))
    ]
    programmes = [p for item in children(el, "regulation") if (p := _attr(item, "programme"))]
    genders = [g for item in children(el, "nameAlias") if (g := _attr(item, "gender"))]
    return SanctionsEntry(
        list_key="eu_fsf",
        native_id=el.get("logicalId", ""),
        entry_type=entry_type,
        names=tuple(dedupe_names(_names(el))),
        birth_dates=tuple(birth_dates),
        places_of_birth=tuple(dict.fromkeys(places)),
        citizenships=tuple(dict.fromkeys(citizenships)),
        addresses=tuple(addresses),
        identifiers=tuple(identifiers),
        programmes=tuple(dict.fromkeys(programmes)),
        listed_on=_attr(el, "designationDate"),
        remarks=" ".join(r for item in children(el, "remark") if (r := text(item))),
        gender={"M": "male", "F": "female"}.get(genders[0]) if genders else None,
        reference=_attr(el, "euReferenceNumber"),
    )
