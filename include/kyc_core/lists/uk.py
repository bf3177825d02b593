"""The UK Sanctions List (FCDO XML, `Designations/Designation`), the only official UK list since 28 Jan 2026."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from kyc_core.errors import UserError
from kyc_core.lists.fields import country_value, parse_birth_date, parse_timestamp
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
from kyc_core.lists.xmlstream import child, descendants, items, stream, text

_TYPES = {"individual": "person", "entity": "organization", "ship": "vessel"}


def parse_uk_xml(path: Path) -> ParsedList:
    """Parse the FCDO UK Sanctions List XML."""
    entries = PackedEntries()
    published_at = None
    for _, element in stream(path, ("Designation",), root="Designations"):
        if published_at is None and element.getparent() is not None:
            published_at = parse_timestamp(element.getparent().get("dateGenerated"))
        entries.append(_designation(element))
    if not entries:
        raise UserError(f"{path.name}: no Designation records")
    return ParsedList(
        list_key="uk_fcdo",
        source_format="uk_xml",
        entries=entries,
        published_at=published_at,
        source_uri=str(path),
    )


def _uk_date(value: str | None) -> str | None:
    try:
        return datetime.strptime(value or "", "%d/%m/%Y").replace(tzinfo=UTC).date().isoformat()
    except ValueError:
        return None


def _dob(value: str) -> BirthDate | None:
    # The FCDO writes unknown parts as letters ("dd/mm/1968"): keep what is known.
    day, _, rest = value.partition("/")
    month, _, year = rest.partition("/")
    if not year.isdigit():
        return None
    if not month.isdigit():
        return parse_birth_date(year)
    if not day.isdigit():
        return parse_birth_date(f"{year}-{int(month):02d}")
    return parse_birth_date(f"{int(day):02d}/{int(month):02d}/{year}")


def _names(el) -> list[Name]:
    out = []
    for item in items(el, "Names", "Name"):
        given = " ".join(v for tag in ("Name1", "Name2", "Name3", "Name4", "Name5") if (v := text(item, tag)))
        last = text(item, "Name6")
        full = " ".join(v for v in (given, last) if v)
        if not full:
            continue
        primary = (text(item, "NameType") or "").lower() == "primary name"
        weak = "low" in (text(item, "AliasStrength") or "").lower()
        out.append(
            Name(
                full=full,
                kind="primary" if primary else "aka",
                quality="weak" if weak else "strong",
                first=given or None,
                last=last,
            )
        )
    out.sort(key=lambda n: n.kind != "primary")
    for item in items(el, "NonLatinNames", "NonLatinName"):
        if value := text(item, "NameNonLatinScript"):
            out.append(Name(full=value, kind="original_script"))
    return out


def _designation(el) -> SanctionsEntry:
    kind = _TYPES.get((text(el, "IndividualEntityShip") or "").lower(), "organization")
    individual = next(iter(descendants(el, "Individual")), None)
    birth_dates: list[BirthDate] = []
    identifiers: list[Identifier] = []
    nationalities: list[str] = []
    places: list[str] = []
    if individual is not None:
        birth_dates = list(
            dict.fromkeys(b for d in items(individual, "DOBs", "DOB") if (v := text(d)) and (b := _dob(v)))
        )
        for passport in items(individual, "PassportDetails", "Passport"):
            if number := text(passport, "PassportNumber"):
                identifiers.append(Identifier(kind="passport", number=number, label="Passport"))
        for ident in items(individual, "NationalIdentifierDetails", "NationalIdentifier"):
            if number := text(ident, "NationalIdentifierNumber"):
                identifiers.append(
                    Identifier(
                        kind="national_id",
                        number=number,
                        label=text(ident, "NationalIdentifierAdditionalInformation"),
                    )
                )
        nationalities = [
            c for n in items(individual, "Nationalities", "Nationality") if (c := country_value(text(n)))
        ]
        for location in items(individual, "BirthDetails", "Location"):
            place = ", ".join(v for tag in ("TownOfBirth", "CountryOfBirth") if (v := text(location, tag)))
            if place:
                places.append(place)
    countries: list[str] = []
    ship = child(child(el, "ShipDetails"), "Ship") if child(el, "ShipDetails") is not None else None
    if ship is not None:
        for imo in items(ship, "IMONumbers", "IMONumber"):
            if number := text(imo):
                identifiers.append(
                    Identifier(
                        kind="imo", number=number.upper().removeprefix("IMO").strip(), label="IMO number"
                    )
                )
        countries = [
            c
            for f in items(ship, "CurrentBelievedFlagOfShips", "CurrentBelievedFlagOfShip")
            if (c := country_value(text(f)))
        ]
    addresses = []
    for item in items(el, "Addresses", "Address"):
        lines = [
            v
            for tag in (
                "AddressLine1",
                "AddressLine2",
                "AddressLine3",
                "AddressLine4",
                "AddressLine5",
                "AddressLine6",
            )
            if (v := text(item, tag))
        ]
        address = Address(
            street=", ".join(lines) or None,
            postal_code=text(item, "AddressPostalCode"),
            country=country_value(text(item, "AddressCountry")),
        )
        if any((address.street, address.postal_code, address.country)):
            addresses.append(address)
    return SanctionsEntry(
        list_key="uk_fcdo",
        native_id=text(el, "UniqueID") or "",
        entry_type=kind,
        names=tuple(dedupe_names(_names(el))),
        birth_dates=tuple(birth_dates),
        places_of_birth=tuple(places),
        nationalities=tuple(dict.fromkeys(nationalities)),
        countries=tuple(dict.fromkeys(countries)),
        addresses=tuple(addresses),
        identifiers=tuple(identifiers),
        programmes=tuple(p for p in (text(el, "RegimeName"),) if p),
        listed_on=_uk_date(text(el, "DateDesignated")),
        remarks=text(el, "OtherInformation") or "",
        reference=text(el, "UNReferenceNumber") or text(el, "OFSIGroupID"),
    )
