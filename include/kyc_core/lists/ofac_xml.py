"""OFAC's ENHANCED XML and ADVANCED (UN `sanctions/1.0`) XML, stream-parsed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from kyc_core.errors import UserError
from kyc_core.lists.fields import country_value, identifier_kind, parse_timestamp
from kyc_core.lists.model import (
    Address,
    BirthDate,
    Identifier,
    Name,
    PackedEntries,
    ParsedList,
    SanctionsEntry,
)
from kyc_core.lists.ofac import dedupe_names, parse_remarks
from kyc_core.lists.xmlstream import child, children, descendants, items, local, stream, text

_ENTITY_TYPES = {"individual": "person", "entity": "organization", "vessel": "vessel", "aircraft": "aircraft"}
_ALIAS_KINDS = {"a.k.a.": "aka", "f.k.a.": "fka", "n.k.a.": "nka", "name": "primary"}
_ADDRESS_PARTS = {
    "ADDRESS1": "street",
    "ADDRESS2": "street",
    "ADDRESS3": "street",
    "CITY": "city",
    "STATE/PROVINCE": "region",
    "REGION": "region",
    "POSTAL CODE": "postal_code",
}


def period_birth_date(begin: date, end: date, *, approximate: bool, raw: str | None = None) -> BirthDate:
    """Turn OFAC's date period (earliest..latest day) into a birth date with its precision."""
    label = raw or (begin.isoformat() if begin == end else f"{begin.isoformat()} to {end.isoformat()}")
    if begin == end:
        return BirthDate(
            text=label,
            year=begin.year,
            month=begin.month,
            day=begin.day,
            precision="day",
            approximate=approximate,
        )
    starts_month, starts_year = begin.day == 1, begin.day == 1 and begin.month == 1
    ends_year = end.month == 12 and end.day == 31
    if starts_year and ends_year:
        if begin.year == end.year:
            return BirthDate(text=label, year=begin.year, precision="year", approximate=approximate)
        return BirthDate(
            text=label, year=begin.year, precision="range", year_to=end.year, approximate=approximate
        )
    if starts_month and begin.year == end.year and begin.month == end.month:
        return BirthDate(
            text=label, year=begin.year, month=begin.month, precision="month", approximate=approximate
        )
    return BirthDate(
        text=label, year=begin.year, precision="range", year_to=end.year, approximate=approximate
    )


def _iso_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


# --- ENHANCED ---------------------------------------------------------------------------------------------


def parse_enhanced_xml(path: Path) -> ParsedList:
    """Parse SDN_ENHANCED.XML / CONS_ENHANCED.XML."""
    published_at: datetime | None = None
    list_key = "ofac_sdn"
    entries = PackedEntries()
    for name, element in stream(path, ("publicationInfo", "entity"), root="sanctionsData"):
        if name == "publicationInfo":
            published_at = parse_timestamp(text(element, "dataAsOf"))
            filters = [text(item) or "" for item in descendants(element, "sanctionsList")]
            if filters and not any("sdn" in f.lower() for f in filters):
                list_key = "ofac_cons"
        elif element.getparent() is not None and local(element.getparent()) == "entities":
            entries.append(_enhanced_entry(list_key, element))
    if not entries:
        raise UserError(f"{path.name}: no entity records")
    return ParsedList(
        list_key=list_key,
        source_format="ofac_enhanced_xml",
        entries=entries,
        published_at=published_at,
        source_uri=str(path),
    )


def _enhanced_entry(list_key: str, el) -> SanctionsEntry:
    general = child(el, "generalInfo")
    entry_type = _ENTITY_TYPES.get((text(general, "entityType") or "entity").lower(), "organization")
    names = _enhanced_names(child(el, "names"), entry_type)
    listed = sorted(
        d for item in items(el, "sanctionsLists", "sanctionsList") if (d := item.get("datePublished"))
    )
    programmes = [v for item in items(el, "sanctionsPrograms", "sanctionsProgram") if (v := text(item))]
    acc = _Facts()
    for feature in items(el, "features", "feature"):
        _enhanced_feature(acc, feature)
    for doc in items(el, "identityDocuments", "identityDocument"):
        number = text(doc, "documentNumber")
        if number:
            label = text(doc, "type") or ""
            acc.identifiers.append(
                Identifier(
                    kind=identifier_kind(label),
                    number=number,
                    country=country_value(text(doc, "issuingCountry")),
                    label=label or None,
                )
            )
    addresses = [a for item in items(el, "addresses", "address") if (a := _enhanced_address(item))]
    remarks = text(el, "remarks") or ""
    return SanctionsEntry(
        list_key=list_key,
        native_id=el.get("id", ""),
        entry_type=entry_type,
        names=tuple(dedupe_names(names + parse_remarks(remarks).weak_aliases)),
        birth_dates=tuple(acc.birth_dates),
        places_of_birth=tuple(acc.places_of_birth),
        nationalities=tuple(dict.fromkeys(acc.nationalities)),
        citizenships=tuple(dict.fromkeys(acc.citizenships)),
        countries=tuple(dict.fromkeys(acc.countries)),
        addresses=tuple(addresses),
        identifiers=tuple(acc.identifiers),
        programmes=tuple(programmes),
        listed_on=listed[0][:10] if listed else None,
        remarks=remarks,
        gender=acc.gender,
    )


def _enhanced_names(container, entry_type: str) -> list[Name]:
    names: list[Name] = []
    if container is None:
        return names
    for item in children(container, "name"):
        is_primary = (text(item, "isPrimary") or "").lower() == "true"
        quality = "weak" if (text(item, "isLowQuality") or "").lower() == "true" else "strong"
        kind = (
            "primary"
            if is_primary
            else _ALIAS_KINDS.get((text(item, "aliasType") or "a.k.a.").lower(), "aka")
        )
        translations = child(item, "translations")
        for translation in children(translations, "translation") if translations is not None else []:
            full = text(translation, "formattedFullName")
            if not full:
                continue
            script = text(translation, "script")
            main = (text(translation, "isPrimary") or "").lower() == "true"
            this_kind = kind if main or kind != "primary" else "original_script"
            first = text(translation, "formattedFirstName") if entry_type == "person" else None
            last = text(translation, "formattedLastName") if entry_type == "person" else None
            names.append(
                Name(
                    full=full,
                    quality=quality,
                    kind=this_kind,
                    first=first,
                    last=last,
                    lang=None if script in (None, "Latin") else script,
                )
            )
    names.sort(key=lambda n: n.kind != "primary")
    return names


@dataclass(slots=True)
class _Facts:
    birth_dates: list[BirthDate] = field(default_factory=list)
    places_of_birth: list[str] = field(default_factory=list)
    nationalities: list[str] = field(default_factory=list)
    citizenships: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    identifiers: list[Identifier] = field(default_factory=list)
    gender: str | None = None

    def add(
        self, feature_type: str, value: str | None, period: tuple[date, date, bool] | None = None
    ) -> None:
        """File one feature under the field it belongs to."""
        lowered = feature_type.lower().strip(" :-")
        if lowered == "birthdate":
            if period:
                self.birth_dates.append(
                    period_birth_date(period[0], period[1], approximate=period[2], raw=value)
                )
            return
        if not value:
            return
        if lowered == "place of birth":
            self.places_of_birth.append(value)
        elif lowered in ("nationality country", "nationality"):
            if code := country_value(value):
                self.nationalities.append(code)
        elif lowered in ("citizenship country", "citizenship"):
            if code := country_value(value):
                self.citizenships.append(code)
        elif lowered in ("nationality of registration", "vessel flag"):
            if code := country_value(value):
                self.countries.append(code)
        elif lowered == "gender":
            self.gender = value.lower()
        elif lowered == "location":
            return
        else:
            kind = "call_sign" if lowered == "vessel call sign" else identifier_kind(feature_type)
            number = value[4:].strip() if kind == "imo" and value.upper().startswith("IMO ") else value
            self.identifiers.append(Identifier(kind=kind, number=number, label=feature_type))


def _enhanced_feature(acc: _Facts, feature) -> None:
    feature_type = text(feature, "type") or ""
    value = text(feature, "value")
    period = None
    value_date = child(feature, "valueDate")
    if value_date is not None:
        begin = _iso_day(text(value_date, "fromDateBegin"))
        end = _iso_day(text(value_date, "toDateEnd")) or begin
        if begin and end:
            period = (begin, end, (text(value_date, "isApproximate") or "").lower() == "true")
    acc.add(feature_type, value, period)


def _enhanced_address(item) -> Address | None:
    parts: dict[str, list[str]] = {}
    translations = child(item, "translations")
    first = (
        children(translations, "translation")[0] if translations is not None and len(translations) else None
    )
    if first is not None:
        for part in descendants(first, "addressPart"):
            slot = _ADDRESS_PARTS.get((text(part, "type") or "").upper())
            if slot and (value := text(part, "value")):
                parts.setdefault(slot, []).append(value)
    address = Address(
        street=", ".join(parts["street"]) if "street" in parts else None,
        city=", ".join(parts["city"]) if "city" in parts else None,
        region=", ".join(parts["region"]) if "region" in parts else None,
        postal_code=", ".join(parts["postal_code"]) if "postal_code" in parts else None,
        country=country_value(text(item, "country")),
    )
    return (
        address
        if any((address.street, address.city, address.region, address.postal_code, address.country))
        else None
    )


# --- ADVANCED ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Reference:
    """The reference tables an ADVANCED file starts with, by table then ID."""

    tables: dict[str, dict[str, str]] = field(default_factory=dict)
    country_iso: dict[str, str] = field(default_factory=dict)
    party_type_of_subtype: dict[str, str] = field(default_factory=dict)

    def value(self, table: str, ident: str | None) -> str:
        """Label of `ident` in `table` ('' when unknown)."""
        return self.tables.get(table, {}).get(ident or "", "")


@dataclass(slots=True)
class _Party:
    native_id: str
    profile_id: str
    subtype_id: str
    names: list[Name]
    facts: _Facts
    location_refs: list[str]
    identity_ids: list[str]


def parse_advanced_xml(path: Path) -> ParsedList:
    """Parse SDN_ADVANCED.XML / CONS_ADVANCED.XML: names, features, documents, addresses and programmes joined by reference."""
    ref = _Reference()
    locations: dict[str, Address] = {}
    documents: dict[str, list[Identifier]] = {}
    parties: list[_Party] = []
    programmes: dict[str, list[str]] = {}
    listed_on: dict[str, str] = {}
    list_names: set[str] = set()
    published_at: datetime | None = None
    targets = (
        "DateOfIssue",
        "ReferenceValueSets",
        "Location",
        "IDRegDocument",
        "DistinctParty",
        "SanctionsEntry",
    )
    for name, element in stream(path, targets, root="Sanctions"):
        if name == "DateOfIssue":
            published_at = _calendar_date(element)
        elif name == "ReferenceValueSets":
            _read_reference(ref, element)
        elif name == "Location":
            locations[element.get("ID", "")] = _advanced_location(ref, element)
        elif name == "IDRegDocument":
            number = text(element, "IDRegistrationNo")
            if number:
                label = ref.value("IDRegDocType", element.get("IDRegDocTypeID"))
                country = ref.country_iso.get(element.get("IssuedBy-CountryID", "")) or None
                documents.setdefault(element.get("IdentityID", ""), []).append(
                    Identifier(
                        kind=identifier_kind(label), number=number, country=country, label=label or None
                    )
                )
        elif name == "DistinctParty":
            parties.append(_advanced_party(ref, element))
        elif name == "SanctionsEntry":
            profile = element.get("ProfileID", "")
            list_names.add(ref.value("List", element.get("ListID")))
            for measure in children(element, "SanctionsMeasure"):
                if ref.value("SanctionsType", measure.get("SanctionsTypeID")).lower() == "program" and (
                    comment := text(measure, "Comment")
                ):
                    programmes.setdefault(profile, []).append(comment)
            for event in children(element, "EntryEvent"):
                day = _calendar_date(child(event, "Date"))
                if day and (profile not in listed_on or day.date().isoformat() < listed_on[profile]):
                    listed_on[profile] = day.date().isoformat()
    if not parties:
        raise UserError(f"{path.name}: no DistinctParty records")
    list_key = "ofac_sdn" if list_names and all("sdn" in n.lower() for n in list_names if n) else "ofac_cons"
    entries = PackedEntries(
        _advanced_entry(list_key, ref, party, locations, documents, programmes, listed_on)
        for party in parties
    )
    return ParsedList(
        list_key=list_key,
        source_format="ofac_advanced_xml",
        entries=entries,
        published_at=published_at,
        source_uri=str(path),
    )


def _calendar_date(element) -> datetime | None:
    if element is None:
        return None
    try:
        return datetime(
            int(text(element, "Year") or 0),
            int(text(element, "Month") or 1),
            int(text(element, "Day") or 1),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def _read_reference(ref: _Reference, element) -> None:
    for table in element:
        table_name = local(table).removesuffix("Values")
        values = ref.tables.setdefault(table_name, {})
        for item in table:
            ident = item.get("ID")
            if ident is None:
                continue
            values[ident] = " ".join((item.text or "").split())
            if table_name == "Country" and item.get("ISO2"):
                ref.country_iso[ident] = item.get("ISO2")
            if table_name == "PartySubType":
                ref.party_type_of_subtype[ident] = item.get("PartyTypeID", "")


def _advanced_location(ref: _Reference, element) -> Address:
    parts: dict[str, list[str]] = {}
    for part in children(element, "LocationPart"):
        slot = _ADDRESS_PARTS.get(ref.value("LocPartType", part.get("LocPartTypeID")).upper(), "unknown")
        value = text(child(part, "LocationPartValue"), "Value")
        if slot and value:
            parts.setdefault(slot, []).append(value)
    country_el = child(element, "LocationCountry")
    country = ref.country_iso.get(country_el.get("CountryID", "")) if country_el is not None else None
    if country is None and country_el is not None:
        country = country_value(ref.value("Country", country_el.get("CountryID")))
    if country is None and "unknown" in parts:
        # Citizenship and nationality features point at locations holding only the country's name.
        country = country_value(", ".join(parts.pop("unknown")))
    return Address(
        street=", ".join(parts["street"]) if "street" in parts else None,
        city=", ".join(parts["city"]) if "city" in parts else None,
        region=", ".join(parts["region"]) if "region" in parts else None,
        postal_code=", ".join(parts["postal_code"]) if "postal_code" in parts else None,
        country=country,
    )


def _advanced_party(ref: _Reference, element) -> _Party:
    profile = child(element, "Profile")
    if profile is None:
        raise UserError(f"DistinctParty {element.get('FixedRef', '?')} has no Profile: file corrupted")
    names: list[Name] = []
    identity_ids: list[str] = []
    facts = _Facts()
    location_refs: list[str] = []
    subtype = profile.get("PartySubTypeID", "")
    is_person = ref.value("PartyType", ref.party_type_of_subtype.get(subtype)).lower() == "individual"
    for identity in children(profile, "Identity"):
        identity_ids.append(identity.get("ID", ""))
        part_types = {
            group.get("ID", ""): ref.value("NamePartType", group.get("NamePartTypeID"))
            for group in descendants(identity, "NamePartGroup")
        }
        for alias in children(identity, "Alias"):
            names.extend(_advanced_alias_names(ref, alias, part_types, is_person))
    for feature in children(profile, "Feature"):
        feature_type = ref.value("FeatureType", feature.get("FeatureTypeID"))
        for version in children(feature, "FeatureVersion"):
            period = _advanced_period(child(version, "DatePeriod"))
            detail = child(version, "VersionDetail")
            value = text(detail) if detail is not None else None
            if value is None and detail is not None and detail.get("DetailReferenceID"):
                value = ref.value("DetailReference", detail.get("DetailReferenceID")) or None
            for loc in children(version, "VersionLocation"):
                if feature_type.lower() == "location":
                    location_refs.append(loc.get("LocationID", ""))
                else:
                    facts.add(feature_type, loc.get("LocationID", "") and f"@loc:{loc.get('LocationID')}")
            if value is not None or period is not None:
                facts.add(feature_type, value, period)
    names.sort(key=lambda n: n.kind != "primary")
    return _Party(
        native_id=element.get("FixedRef", ""),
        profile_id=profile.get("ID", ""),
        subtype_id=subtype,
        names=names,
        facts=facts,
        location_refs=location_refs,
        identity_ids=identity_ids,
    )


def _advanced_alias_names(ref: _Reference, alias, part_types: dict[str, str], is_person: bool) -> list[Name]:
    kind = (
        "primary"
        if alias.get("Primary") == "true"
        else _ALIAS_KINDS.get(ref.value("AliasType", alias.get("AliasTypeID")).lower(), "aka")
    )
    quality = "weak" if alias.get("LowQuality") == "true" else "strong"
    out = []
    for documented in children(alias, "DocumentedName"):
        pieces: dict[str, list[str]] = {}
        script = None
        for value in descendants(documented, "NamePartValue"):
            part_type = part_types.get(value.get("NamePartGroupID", ""), "")
            if value.text and value.text.strip():
                pieces.setdefault(part_type.lower(), []).append(" ".join(value.text.split()))
            script = ref.value("Script", value.get("ScriptID")) or script
        last = " ".join(pieces.pop("last name", [])) or None
        first = " ".join(pieces.pop("first name", []) + pieces.pop("middle name", [])) or None
        rest = " ".join(v for values in pieces.values() for v in values) or None
        if is_person and last and first:
            full = f"{last}, {first}"
        else:
            full = " ".join(v for v in (first, last, rest) if v)
        if full:
            this_kind = (
                kind
                if kind != "primary" or documented.get("DocNameStatusID") in (None, "1")
                else "original_script"
            )
            out.append(
                Name(
                    full=full,
                    quality=quality,
                    kind=this_kind,
                    first=first if is_person else None,
                    last=last if is_person else None,
                    lang=None if script in (None, "", "Latin") else script,
                )
            )
    return out


def _advanced_period(period) -> tuple[date, date, bool] | None:
    if period is None:
        return None
    start, end = child(period, "Start"), child(period, "End")
    begin = _ymd(child(start, "From")) if start is not None else None
    finish = _ymd(child(end, "To")) if end is not None else None
    if begin is None:
        return None
    approximate = (start is not None and start.get("Approximate") == "true") or (end is not None and end.get("Approximate") == "true")
    return begin, finish or begin, approximate


def _ymd(element) -> date | None:
    if element is None:
        return None
    try:
        return date(
            int(text(element, "Year") or 0), int(text(element, "Month") or 1), int(text(element, "Day") or 1)
        )
    except ValueError:
        return None


def _advanced_entry(
    list_key: str,
    ref: _Reference,
    party: _Party,
    locations: dict[str, Address],
    documents: dict[str, list[Identifier]],
    programmes: dict[str, list[str]],
    listed_on: dict[str, str],
) -> SanctionsEntry:
    facts = party.facts
    nationalities = _resolve_locations(facts.nationalities, locations)
    citizenships = _resolve_locations(facts.citizenships, locations)
    countries = _resolve_locations(facts.countries, locations)
    identifiers = [i for i in facts.identifiers if not i.number.startswith("@loc:")]
    for identity in party.identity_ids:
        identifiers.extend(documents.get(identity, ()))
    addresses = [
        locations[r] for r in party.location_refs if r in locations and any(address_fields(locations[r]))
    ]
    party_type = ref.value("PartyType", ref.party_type_of_subtype.get(party.subtype_id)).lower()
    subtype = ref.value("PartySubType", party.subtype_id).lower()
    entry_type = {"individual": "person", "entity": "organization"}.get(party_type) or (
        subtype if subtype in ("vessel", "aircraft") else "organization"
    )
    return SanctionsEntry(
        list_key=list_key,
        native_id=party.native_id,
        entry_type=entry_type,
        names=tuple(dedupe_names(party.names)),
        birth_dates=tuple(facts.birth_dates),
        places_of_birth=tuple(facts.places_of_birth),
        nationalities=tuple(dict.fromkeys(nationalities)),
        citizenships=tuple(dict.fromkeys(citizenships)),
        countries=tuple(dict.fromkeys(countries)),
        addresses=tuple(addresses),
        identifiers=tuple(identifiers),
        programmes=tuple(dict.fromkeys(programmes.get(party.profile_id, ()))),
        listed_on=listed_on.get(party.profile_id),
        gender=facts.gender,
    )


def address_fields(address: Address) -> tuple:
    """The address fields as a tuple (blank addresses are dropped)."""
    return tuple(
        v for v in (address.street, address.city, address.region, address.postal_code, address.country) if v
    )


def _resolve_locations(values: list[str], locations: dict[str, Address]) -> list[str]:
    out = []
    for value in values:
        if value.startswith("@loc:"):
            address = locations.get(value[5:])
            if address is not None and address.country:
                out.append(address.country)
        else:
            out.append(value)
    return out
