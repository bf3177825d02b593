"""The UN Security Council consolidated list (CONSOLIDATED_LIST XML)."""

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
from kyc_core.lists.xmlstream import child, children, stream, text

# "Good" aliases identify; "Low" ones are the UN's own low-quality marker.
_QUALITY = {"good": "strong", "low": "weak", "a.k.a.": "strong", "f.k.a.": "strong"}


def parse_un_xml(path: Path) -> ParsedList:
    """Parse the UN SC consolidated list: INDIVIDUALS then ENTITIES."""
    entries = PackedEntries()
    published_at = None
    for name, element in stream(path, ("INDIVIDUAL", "ENTITY"), root="CONSOLIDATED_LIST"):
        if published_at is None:
            root = element.getparent().getparent() if element.getparent() is not None else None
            if root is not None:
                published_at = parse_timestamp(root.get("dateGenerated"))
        entries.append(_individual(element) if name == "INDIVIDUAL" else _entity(element))
    if not entries:
        raise UserError(f"{path.name}: no INDIVIDUAL or ENTITY records")
    return ParsedList(
        list_key="un_sc",
        source_format="un_xml",
        entries=entries,
        published_at=published_at,
        source_uri=str(path),
    )


def _aliases(el, tag: str) -> list[Name]:
    out = []
    for alias in children(el, tag):
        full = text(alias, "ALIAS_NAME")
        if not full:
            continue
        quality_text = (text(alias, "QUALITY") or "").lower()
        kind = "fka" if quality_text == "f.k.a." else "aka"
        out.append(Name(full=full, quality=_QUALITY.get(quality_text, "strong"), kind=kind))
    return out


def _addresses(el, tag: str) -> list[Address]:
    out = []
    for item in children(el, tag):
        address = Address(
            street=text(item, "STREET"),
            city=text(item, "CITY"),
            region=text(item, "STATE_PROVINCE"),
            postal_code=text(item, "ZIP_CODE"),
            country=country_value(text(item, "COUNTRY")),
        )
        if any((address.street, address.city, address.region, address.postal_code, address.country)):
            out.append(address)
    return out


def _values(el, tag: str) -> list[str]:
    container = child(el, tag)
    return [v for item in children(container, "VALUE") if (v := text(item))] if container is not None else []


def _birth_date(item) -> BirthDate | None:
    kind = (text(item, "TYPE_OF_DATE") or "").upper()
    approximate = kind == "APPROXIMATELY"
    if value := text(item, "DATE"):
        parsed = parse_birth_date(value[:10])
    elif value := text(item, "YEAR"):
        parsed = parse_birth_date(value)
    elif (start := text(item, "FROM_YEAR")) and (end := text(item, "TO_YEAR")):
        parsed = parse_birth_date(f"{start} to {end}")
    else:
        return None
    if approximate and not parsed.approximate:
        parsed = BirthDate(
            text=parsed.text,
            year=parsed.year,
            month=parsed.month,
            day=parsed.day,
            precision=parsed.precision,
            year_to=parsed.year_to,
            approximate=True,
        )
    return parsed


def _individual(el) -> SanctionsEntry:
    parts = [v for tag in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME") if (v := text(el, tag))]
    names = [Name(full=" ".join(parts), first=parts[0] if parts else None, last=" ".join(parts[1:]) or None)]
    if original := text(el, "NAME_ORIGINAL_SCRIPT"):
        names.append(Name(full=original, kind="original_script"))
    names.extend(_aliases(el, "INDIVIDUAL_ALIAS"))
    birth_dates = [b for item in children(el, "INDIVIDUAL_DATE_OF_BIRTH") if (b := _birth_date(item))]
    places = []
    for item in children(el, "INDIVIDUAL_PLACE_OF_BIRTH"):
        place = ", ".join(v for tag in ("CITY", "STATE_PROVINCE", "COUNTRY") if (v := text(item, tag)))
        if place:
            places.append(place)
    identifiers = []
    for doc in children(el, "INDIVIDUAL_DOCUMENT"):
        number = text(doc, "NUMBER")
        if number:
            label = text(doc, "TYPE_OF_DOCUMENT") or ""
            country = country_value(text(doc, "ISSUING_COUNTRY") or text(doc, "COUNTRY_OF_ISSUE"))
            identifiers.append(
                Identifier(kind=identifier_kind(label), number=number, country=country, label=label or None)
            )
    return SanctionsEntry(
        list_key="un_sc",
        native_id=text(el, "DATAID") or "",
        entry_type="person",
        names=tuple(dedupe_names(names)),
        birth_dates=tuple(birth_dates),
        places_of_birth=tuple(places),
        nationalities=tuple(dict.fromkeys(c for v in _values(el, "NATIONALITY") if (c := country_value(v)))),
        addresses=tuple(_addresses(el, "INDIVIDUAL_ADDRESS")),
        identifiers=tuple(identifiers),
        programmes=tuple(p for p in (text(el, "UN_LIST_TYPE"),) if p),
        listed_on=(text(el, "LISTED_ON") or "")[:10] or None,
        remarks=text(el, "COMMENTS1") or "",
        gender=(text(el, "GENDER") or "").lower() or None,
        reference=text(el, "REFERENCE_NUMBER"),
    )


def _entity(el) -> SanctionsEntry:
    names = [Name(full=text(el, "FIRST_NAME") or "")]
    if original := text(el, "NAME_ORIGINAL_SCRIPT"):
        names.append(Name(full=original, kind="original_script"))
    names.extend(_aliases(el, "ENTITY_ALIAS"))
    return SanctionsEntry(
        list_key="un_sc",
        native_id=text(el, "DATAID") or "",
        entry_type="organization",
        names=tuple(dedupe_names(names)),
        addresses=tuple(_addresses(el, "ENTITY_ADDRESS")),
        programmes=tuple(p for p in (text(el, "UN_LIST_TYPE"),) if p),
        listed_on=(text(el, "LISTED_ON") or "")[:10] or None,
        remarks=text(el, "COMMENTS1") or "",
        reference=text(el, "REFERENCE_NUMBER"),
    )
