"""The normalized sanctions-list entry every parser produces, whatever the source format."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

#: Lists the product knows; parsers and the store only ever use these keys.
LIST_KEYS = ("ofac_sdn", "ofac_cons", "eu_fsf", "un_sc", "uk_fcdo", "us_csl", "internal")

#: Kinds of listed party; screening refuses to match a person against a vessel or aircraft.
#: `unknown` is for lists that do not say (part of the US Consolidated Screening List).
ENTRY_TYPES = ("person", "organization", "vessel", "aircraft", "unknown")

#: Identifier kinds the screening engine knows how to compare.
IDENTIFIER_KINDS = (
    "passport",
    "national_id",
    "tax_id",
    "registration",
    "bic",
    "imo",
    "mmsi",
    "crypto",
    "call_sign",
    "isin",
    "aircraft",
    "email",
    "website",
    "other",
)


@dataclass(frozen=True, slots=True)
class Name:
    """One published name of a listed party."""

    full: str
    # strong: an alias the authority considers identifying; weak: a nickname or low-quality a.k.a.
    quality: str = "strong"
    # primary | aka | fka | nka | original_script
    kind: str = "primary"
    first: str | None = None
    last: str | None = None
    # Language or script of this spelling when the source says it (EU nameLanguage, OFAC script).
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class BirthDate:
    """A published birth date with its precision; ranges cover every year from `year` to `year_to`."""

    text: str
    year: int | None = None
    month: int | None = None
    day: int | None = None
    # day | month | year | range | unknown
    precision: str = "unknown"
    year_to: int | None = None
    approximate: bool = False

    @property
    def earliest(self) -> date | None:
        """First day the published value allows."""
        if self.year is None:
            return None
        return date(self.year, self.month or 1, self.day or 1)

    @property
    def latest(self) -> date | None:
        """Last day the published value allows."""
        if self.year is None:
            return None
        last_year = self.year_to or self.year
        if self.day and self.precision == "day":
            return date(last_year, self.month or 12, self.day)
        month = self.month if self.precision == "month" and self.month else 12
        next_first = date(last_year + (month == 12), month % 12 + 1, 1)
        return date.fromordinal(next_first.toordinal() - 1)


@dataclass(frozen=True, slots=True)
class Address:
    """A published address; `country` is ISO 3166 alpha-2 when it could be resolved, else the text."""

    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Identifier:
    """A document or registry number; `label` keeps the source's own type wording."""

    kind: str
    number: str
    country: str | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class SanctionsEntry:
    """One listed party of one list, normalized."""

    list_key: str
    native_id: str
    entry_type: str
    names: tuple[Name, ...]
    birth_dates: tuple[BirthDate, ...] = ()
    places_of_birth: tuple[str, ...] = ()
    nationalities: tuple[str, ...] = ()
    citizenships: tuple[str, ...] = ()
    # Other countries tied to the party (vessel flag, country of registration).
    countries: tuple[str, ...] = ()
    addresses: tuple[Address, ...] = ()
    identifiers: tuple[Identifier, ...] = ()
    programmes: tuple[str, ...] = ()
    listed_on: str | None = None
    remarks: str = ""
    gender: str | None = None
    # A second stable reference some lists publish (UN QDi.276, EU EU.27.28).
    reference: str | None = None

    @property
    def primary_name(self) -> str:
        """The primary name, or the first one published."""
        for name in self.names:
            if name.kind == "primary":
                return name.full
        return self.names[0].full if self.names else ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stable across runs (what `entry_hash` digests and the store keeps)."""
        return {
            "list_key": self.list_key,
            "native_id": self.native_id,
            "entry_type": self.entry_type,
            "names": [_compact(n, _NAME_FIELDS) for n in self.names],
            "birth_dates": [_compact(b, _BIRTH_FIELDS) for b in self.birth_dates],
            "places_of_birth": list(self.places_of_birth),
            "nationalities": list(self.nationalities),
            "citizenships": list(self.citizenships),
            "countries": list(self.countries),
            "addresses": [_compact(a, _ADDRESS_FIELDS) for a in self.addresses],
            "identifiers": [_compact(i, _IDENTIFIER_FIELDS) for i in self.identifiers],
            "programmes": list(self.programmes),
            "listed_on": self.listed_on,
            "remarks": self.remarks,
            "gender": self.gender,
            "reference": self.reference,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SanctionsEntry:
        """Rebuild an entry from :meth:`to_dict` output (what the store returns)."""
        return cls(
            list_key=data["list_key"],
            native_id=data["native_id"],
            entry_type=data["entry_type"],
            names=tuple(Name(**n) for n in data.get("names", ())),
            birth_dates=tuple(BirthDate(**b) for b in data.get("birth_dates", ())),
            places_of_birth=tuple(data.get("places_of_birth", ())),
            nationalities=tuple(data.get("nationalities", ())),
            citizenships=tuple(data.get("citizenships", ())),
            countries=tuple(data.get("countries", ())),
            addresses=tuple(Address(**a) for a in data.get("addresses", ())),
            identifiers=tuple(Identifier(**i) for i in data.get("identifiers", ())),
            programmes=tuple(data.get("programmes", ())),
            listed_on=data.get("listed_on"),
            remarks=data.get("remarks", ""),
            gender=data.get("gender"),
            reference=data.get("reference"),
        )

    def entry_hash(self) -> str:
        """SHA-256 of the canonical content: changes exactly when anything published about the party changes."""
        return content_digest(self.to_dict())


_NAME_FIELDS = ("full", "quality", "kind", "first", "last", "lang")
_BIRTH_FIELDS = ("text", "year", "month", "day", "precision", "year_to", "approximate")
_ADDRESS_FIELDS = ("street", "city", "region", "postal_code", "country")
_IDENTIFIER_FIELDS = ("kind", "number", "country", "label")


def _compact(obj: object, fields: tuple[str, ...]) -> dict[str, Any]:
    # Empty optional fields are dropped so stored JSON stays small; from_dict restores the defaults.
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(obj, name)
        if value is not None and value is not False:
            out[name] = value
    return out


def content_digest(value: Any) -> str:
    """SHA-256 of the canonical JSON of `value` (sorted keys, no whitespace, UTF-8)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class ParsedList:
    """A whole list file parsed and validated, ready to be stored as a version."""

    list_key: str
    source_format: str
    entries: list[SanctionsEntry]
    published_at: datetime | None = None
    source_uri: str | None = None
    # Problems the parser tolerated (a record without a name, an unknown date shape), by native id.
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        """Per-type and per-field counts recorded with the version."""
        by_type: dict[str, int] = {}
        names = aliases = dobs = idents = 0
        for entry in self.entries:
            by_type[entry.entry_type] = by_type.get(entry.entry_type, 0) + 1
            names += len(entry.names)
            aliases += sum(1 for n in entry.names if n.kind != "primary")
            dobs += len(entry.birth_dates)
            idents += len(entry.identifiers)
        return {
            "entries": len(self.entries),
            "by_type": dict(sorted(by_type.items())),
            "names": names,
            "aliases": aliases,
            "birth_dates": dobs,
            "identifiers": idents,
            "warnings": len(self.warnings),
        }
