"""Emulated sanctions lists (OFAC CSV trio, UN SC XML, EU FSF XML) generated from the dataset's seed.

Each list holds a few hundred generated designations plus the dataset's known positives that name it.
Version 2 of a list adds a few designations (two of them known positives), amends two and removes one,
so delta computation can be exercised against a known answer (:func:`expected_delta`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta

from lxml import etree

from kyc_dev.emulator import tables
from kyc_dev.emulator.dataset import Dataset, KnownPositive, Person

SOURCES = ("ofac", "un", "eu")
FILLER_PER_LIST = 300
V2_ADDED = 3
V2_CHANGED = 2
V2_REMOVED = 1
_UID_BASE = {"ofac": 40000, "un": 6_900_000, "eu": 100_000}
_TRANSLITERATIONS = {
    "Mohammed": "Muhammad", "Yousef": "Yusuf", "Aleksandr": "Alexander", "Sergey": "Sergei", "Dmitriy": "Dmitri",
    "Yevgeniy": "Evgeny", "Hussein": "Husayn", "Omar": "Umar", "Saeed": "Said", "Khalid": "Khaled",
}
EU_TOKEN = "dG9rZW4tMjAxNw"


@dataclass(frozen=True)
class ListEntry:
    """One designation in list-neutral form; rendered into each list's own format."""

    uid: int
    kind: str
    last_name: str
    first_name: str
    aliases: tuple[str, ...]
    birth: date | None
    nationality: str | None
    program: str
    city: str
    country: str
    remarks: str
    positive_id: str | None = None

    @property
    def full_name(self) -> str:
        """First name then last name (entities: the name)."""
        return f"{self.first_name} {self.last_name}".strip()


def _transliterate(person: Person) -> tuple[str, str]:
    """Another romanisation of the same name, as lists often carry."""
    first = " ".join(_TRANSLITERATIONS.get(f, f) for f in person.first_names)
    last = person.last_name.replace("AL-", "EL ").replace("IY", "II").replace("KH", "H").replace("-", " ")
    return last, first


def _positive_entry(uid: int, positive: KnownPositive, person: Person, source: str) -> ListEntry:
    """The list entry that names a register person, in the variant the dataset declared."""
    rng = random.Random(f"positive-entry:{positive.positive_id}:{source}")
    first = " ".join(person.first_names)
    last = person.last_name
    aliases: tuple[str, ...] = ()
    if positive.variant == "reordered":
        last, first = first.upper(), last.title()
    elif positive.variant == "transliterated":
        last, first = _transliterate(person)
    elif positive.variant == "alias":
        aliases = (f"{first} {last}",)
        last, first = rng.choice(tables.LIST_LAST_NAMES), "Abu " + rng.choice(tables.LIST_FIRST_NAMES)
    birth = date(person.birth_year, person.birth_month, rng.randint(1, 28))
    city = rng.choice(tables.LIST_CITIES)[0]
    return ListEntry(uid, "individual", last, first, aliases, birth, person.nationality_code,
                     _program(rng, source), city, person.nationality_code,
                     "Director of a company registered in France.",
                     positive.positive_id)


def _program(rng: random.Random, source: str) -> str:
    if source == "ofac":
        return "] [".join(rng.sample(tables.OFAC_PROGRAMS, rng.choice((1, 1, 1, 2))))
    if source == "un":
        return rng.choice(tables.UN_PROGRAMS)[0]
    return rng.choice(tables.EU_PROGRAMS)


def _filler(rng: random.Random, uid: int, source: str) -> ListEntry:
    """A generated designation built from name pools disjoint from the register's."""
    city, country = rng.choice(tables.LIST_CITIES)
    if rng.random() < 0.3:
        stem, suffix = rng.choice(tables.LIST_ENTITY_WORDS)
        name = f"{rng.choice(('AL', 'NEW', 'GREAT', 'FIRST', 'SUN', 'BLUE'))} {stem} {suffix}"
        alias = f"{stem} {suffix.split()[0]} {rng.randint(1, 99)}"
        return ListEntry(uid, "entity", name, "", (alias,), None, None, _program(rng, source), city, country,
                         f"Registration ID {rng.randint(100000, 999999)} ({country}).")
    first = rng.choice(tables.LIST_FIRST_NAMES)
    last = rng.choice(tables.LIST_LAST_NAMES)
    aliases = tuple(f"{rng.choice(tables.LIST_FIRST_NAMES)} {last}" for _ in range(rng.choice((0, 1, 2))))
    birth = date(rng.randint(1945, 1995), rng.randint(1, 12), rng.randint(1, 28))
    return ListEntry(uid, "individual", last, first, aliases, birth, country, _program(rng, source), city, country,
                     "Senior official.")


def entries(dataset: Dataset, source: str, version: int = 1) -> list[ListEntry]:
    """All designations of one list at one version, sorted by uid."""
    if source not in SOURCES:
        raise ValueError(f"unknown list {source!r}")
    rng = random.Random(f"{dataset.seed}:list:{source}")
    base = _UID_BASE[source]
    result = [_filler(rng, base + 3 * n, source) for n in range(FILLER_PER_LIST)]
    next_uid = base + 3 * FILLER_PER_LIST
    for positive in dataset.known_positives(version=2):
        if source not in positive.lists:
            continue
        uid = next_uid
        next_uid += 3
        if positive.version <= version:
            person = dataset.person(positive.siren, positive.person_id)
            result.append(_positive_entry(uid, positive, person, source))
    if version >= 2:
        result = _next_version(rng, result, base, source)
    return sorted(result, key=lambda e: e.uid)


def _next_version(rng: random.Random, current: list[ListEntry], base: int, source: str) -> list[ListEntry]:
    """Add, amend and remove a few filler designations (positives stay untouched)."""
    fillers = [e for e in current if e.positive_id is None]
    removed = {fillers[5].uid}
    changed = {fillers[10 + n].uid for n in range(V2_CHANGED)}
    updated = [
        replace(e, remarks=e.remarks + " Amended designation.", aliases=e.aliases + (f"{e.last_name} ALIAS",))
        if e.uid in changed else e
        for e in current if e.uid not in removed
    ]
    added = [_filler(rng, base + 1 + 3 * n, source) for n in range(V2_ADDED)]
    return updated + added


def expected_delta(dataset: Dataset, source: str) -> dict[str, set[int]]:
    """Ground truth of what changed between version 1 and 2 of a list, by uid."""
    old = {e.uid: e for e in entries(dataset, source, 1)}
    new = {e.uid: e for e in entries(dataset, source, 2)}
    return {
        "added": set(new) - set(old),
        "removed": set(old) - set(new),
        "changed": {uid for uid in set(old) & set(new) if old[uid] != new[uid]},
    }


def publish_date(dataset: Dataset, version: int) -> date:
    """Publication date of a list version (one day apart)."""
    return dataset.as_of + timedelta(days=version - 1)


# -- OFAC legacy CSV trio ----------------------------------------------------------------------------

_NULL = "-0- "


def _cell(value: str | int | None) -> str:
    """One OFAC CSV cell: numbers bare, text double-quoted, null as the bare `-0- ` marker."""
    # csv.writer cannot mix quoted text with the unquoted, space-suffixed null marker OFAC uses.
    if value is None or value == "":
        return _NULL
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace('"', '""') + '"'


def _line(cells) -> str:
    return ",".join(_cell(c) for c in cells) + "\r\n"


def _ofac_remarks(entry: ListEntry) -> str | None:
    parts = []
    if entry.birth:
        parts.append(f"DOB {entry.birth.day:02d} {tables.MONTHS_EN[entry.birth.month - 1]} {entry.birth.year}")
        parts.append(f"POB {entry.city}, {tables.COUNTRIES[entry.country][1]}")
    if entry.nationality:
        parts.append(f"nationality {tables.COUNTRIES[entry.nationality][1]}")
    parts.extend(f"a.k.a. '{alias}'" for alias in entry.aliases)
    parts.append(entry.remarks.rstrip("."))
    return "; ".join(parts) + "."


def ofac_csv(dataset: Dataset, version: int = 1) -> dict[str, bytes]:
    """`sdn.csv`, `add.csv`, `alt.csv` exactly in OFAC's legacy layout (no header, CRLF, trailing 0x1A)."""
    sdn, add, alt = [], [], []
    for entry in entries(dataset, "ofac", version):
        if entry.kind == "individual":
            name = f"{entry.last_name}, {entry.first_name}" if entry.first_name else entry.last_name
            sdn_type = "individual"
        else:
            name, sdn_type = entry.last_name, None
        sdn.append(_line([entry.uid, name, sdn_type, entry.program, None, None, None, None, None, None, None,
                          _ofac_remarks(entry)]))
        add.append(_line([entry.uid, entry.uid * 2 + 1, None, entry.city, tables.COUNTRIES[entry.country][1], None]))
        for n, alias in enumerate(entry.aliases):
            alias_name = alias if entry.kind == "entity" else ", ".join(reversed(alias.rsplit(" ", 1)))
            alt.append(_line([entry.uid, entry.uid * 2 + 100 + n, "aka", alias_name, None]))
    return {name: ("".join(rows) + "\x1a").encode("utf-8") for name, rows in
            (("sdn.csv", sdn), ("add.csv", add), ("alt.csv", alt))}


# -- UN Security Council consolidated XML ------------------------------------------------------------

def _sub(parent, tag: str, text: str | None = None):
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def un_xml(dataset: Dataset, version: int = 1) -> bytes:
    """The UN `CONSOLIDATED_LIST` document (no namespace, INDIVIDUALS then ENTITIES)."""
    xsi = "http://www.w3.org/2001/XMLSchema-instance"
    root = etree.Element("CONSOLIDATED_LIST", nsmap={"xsi": xsi})
    root.set(f"{{{xsi}}}noNamespaceSchemaLocation", "https://www.un.org/sc/resources/sc-sanctions.xsd")
    root.set("dateGenerated", publish_date(dataset, version).isoformat() + "T00:00:09.554Z")
    individuals = _sub(root, "INDIVIDUALS")
    organisations = _sub(root, "ENTITIES")
    listed_on = (dataset.as_of - timedelta(days=400)).isoformat()
    for entry in entries(dataset, "un", version):
        individual = entry.kind == "individual"
        node = _sub(individuals if individual else organisations, "INDIVIDUAL" if individual else "ENTITY")
        _sub(node, "DATAID", str(entry.uid))
        _sub(node, "VERSIONNUM", "2" if "Amended" in entry.remarks else "1")
        _sub(node, "FIRST_NAME", entry.first_name if individual else entry.last_name)
        if individual and entry.last_name:
            _sub(node, "SECOND_NAME", entry.last_name)
        _sub(node, "UN_LIST_TYPE", entry.program[:2].upper())
        _sub(node, "REFERENCE_NUMBER", f"{entry.program[:2]}{'i' if individual else 'e'}.{entry.uid - _UID_BASE['un']:03d}")
        _sub(node, "LISTED_ON", listed_on)
        if individual:
            _sub(node, "GENDER", "Male")
        _sub(node, "COMMENTS1", entry.remarks)
        if individual and entry.nationality:
            _sub(_sub(node, "NATIONALITY"), "VALUE", tables.COUNTRIES[entry.nationality][1])
        _sub(_sub(node, "LIST_TYPE"), "VALUE", "UN List")
        _sub(_sub(node, "LAST_DAY_UPDATED"), "VALUE", listed_on)
        alias_tag = "INDIVIDUAL_ALIAS" if individual else "ENTITY_ALIAS"
        if not entry.aliases:
            alias = _sub(node, alias_tag)
            _sub(alias, "QUALITY")
            _sub(alias, "ALIAS_NAME")
        for name in entry.aliases:
            alias = _sub(node, alias_tag)
            _sub(alias, "QUALITY", "Good" if individual else "a.k.a.")
            _sub(alias, "ALIAS_NAME", name)
        address = _sub(node, "INDIVIDUAL_ADDRESS" if individual else "ENTITY_ADDRESS")
        _sub(address, "CITY", entry.city)
        _sub(address, "COUNTRY", tables.COUNTRIES[entry.country][1])
        if individual:
            dob = _sub(node, "INDIVIDUAL_DATE_OF_BIRTH")
            if entry.birth:
                _sub(dob, "TYPE_OF_DATE", "EXACT")
                if entry.uid % 2:
                    _sub(dob, "YEAR", str(entry.birth.year))
                else:
                    _sub(dob, "DATE", entry.birth.isoformat())
            _sub(_sub(node, "INDIVIDUAL_PLACE_OF_BIRTH"), "COUNTRY")
            _sub(node, "INDIVIDUAL_DOCUMENT")
        _sub(node, "SORT_KEY")
        _sub(node, "SORT_KEY_LAST_MOD")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True, pretty_print=True)


# -- EU Financial Sanctions Files XML 1.1 -------------------------------------------------------------

EU_NS = "http://eu.europa.ec/fpi/fsd/export"


def _eu(parent, tag: str, **attrs: str):
    element = etree.SubElement(parent, f"{{{EU_NS}}}{tag}")
    for key, value in attrs.items():
        element.set(key, value)
    return element


def _regulation_summary(parent, published: str) -> None:
    _eu(parent, "regulationSummary", regulationType="regulation", publicationDate=published,
        numberTitle="2024/1001 (OJ L)", publicationUrl="https://eur-lex.europa.eu/eli/reg/2024/1001/oj")


def eu_xml(dataset: Dataset, version: int = 1) -> bytes:
    """The EU FSF `export` document (namespace as published, empty attributes as "")."""
    root = etree.Element(f"{{{EU_NS}}}export", nsmap={None: EU_NS})
    root.set("generationDate", publish_date(dataset, version).isoformat() + "T16:47:04.449+02:00")
    root.set("globalFileId", str(180000 + version))
    published = (dataset.as_of - timedelta(days=300)).isoformat()
    for entry in entries(dataset, "eu", version):
        person = entry.kind == "individual"
        node = _eu(root, "sanctionEntity", designationDetails="", unitedNationId="",
                   euReferenceNumber=f"EU.{entry.uid - _UID_BASE['eu'] + 1000}.{entry.uid % 97}", logicalId=str(entry.uid))
        _eu(node, "remark").text = entry.remarks
        regulation = _eu(node, "regulation", regulationType="regulation", organisationType="council",
                         publicationDate=published, entryIntoForceDate=published,
                         numberTitle="2024/1001 (OJ L)", programme=entry.program, logicalId=str(entry.uid + 7))
        _eu(regulation, "publicationUrl").text = "https://eur-lex.europa.eu/eli/reg/2024/1001/oj"
        _eu(node, "subjectType", code="person" if person else "enterprise", classificationCode="P" if person else "E")
        names = [(entry.first_name, entry.last_name, entry.full_name if person else entry.last_name)]
        names += [("", "", alias) for alias in entry.aliases]
        for m, (first, last, whole) in enumerate(names):
            alias = _eu(node, "nameAlias", firstName=first, middleName="", lastName=last, wholeName=whole,
                        function="", gender="M" if person else "", title="", nameLanguage="",
                        strong="true", regulationLanguage="en", logicalId=str(entry.uid * 10 + m))
            _regulation_summary(alias, published)
        iso2, label = tables.COUNTRIES[entry.country]
        if person and entry.nationality:
            nat_iso2, nat_label = tables.COUNTRIES[entry.nationality]
            citizenship = _eu(node, "citizenship", region="", countryIso2Code=nat_iso2,
                              countryDescription=nat_label.upper(), regulationLanguage="en",
                              logicalId=str(entry.uid * 10 + 8))
            _regulation_summary(citizenship, published)
        if person and entry.birth:
            birth = _eu(node, "birthdate", circa="false", calendarType="GREGORIAN", city=entry.city, zipCode="",
                        birthdate=entry.birth.isoformat(), dayOfMonth=str(entry.birth.day),
                        monthOfYear=str(entry.birth.month), year=str(entry.birth.year), region="", place="",
                        countryIso2Code=iso2, countryDescription=label.upper(), regulationLanguage="en",
                        logicalId=str(entry.uid * 10 + 9))
            _regulation_summary(birth, published)
        address = _eu(node, "address", city=entry.city, street="", poBox="", zipCode="", region="", place="",
                      asAtListingTime="false", countryIso2Code=iso2, countryDescription=label.upper(),
                      regulationLanguage="en", logicalId=str(entry.uid * 10 + 7))
        _regulation_summary(address, published)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True, pretty_print=True)
