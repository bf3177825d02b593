"""The normalized sanctions-list entry every parser produces, whatever the source format."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, overload

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


def canonical_bytes(value: Any) -> bytes:
    """The canonical JSON of `value`: sorted keys, no whitespace, UTF-8 (one line: newlines are escaped)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_digest(value: Any) -> str:
    """SHA-256 of the canonical JSON of `value` (sorted keys, no whitespace, UTF-8)."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()


def primary_name_of(data: Mapping[str, Any]) -> str:
    """:attr:`SanctionsEntry.primary_name` of an entry in its :meth:`SanctionsEntry.to_dict` form."""
    names = data.get("names") or ()
    for name in names:
        if name.get("kind", "primary") == "primary":
            return str(name["full"])
    return str(names[0]["full"]) if names else ""


#: Entries per compressed block of :class:`PackedEntries`: enough for zlib to fold the repeated keys, few
#: enough that reading one entry decodes little.
_BLOCK = 256
_DIGEST_SIZE = 32


class PackedEntries(Sequence[SanctionsEntry]):
    """The entries of a parsed list, held as their canonical JSON (zlib-compressed by blocks) until stored.

    Parsers append each entry as soon as it is read; the entry is kept as the bytes its entry hash digests,
    not as a tree of Python objects (several times the size of the file it came from). Reading decodes
    one block at a time. Counts, native ids and entry hashes are kept beside the blocks, so the guards
    of a load never decode an entry. Append-only: an entry cannot be changed once added.
    """

    __slots__ = ("_blocks", "_pending", "_ids", "_digests", "_by_type", "_tally", "_unnamed", "_decoded")

    def __init__(self, entries: Iterable[SanctionsEntry] = ()) -> None:
        self._blocks: list[bytes] = []
        self._pending: list[bytes] = []
        self._ids: list[str] = []
        self._digests = bytearray()
        self._by_type: dict[str, int] = {}
        self._tally = {"names": 0, "aliases": 0, "birth_dates": 0, "identifiers": 0}
        self._unnamed: list[str] = []
        self._decoded: tuple[int, list[bytes]] = (-1, [])
        for entry in entries:
            self.append(entry)

    def append(self, entry: SanctionsEntry) -> None:
        """Add one entry (kept as its canonical JSON)."""
        blob = canonical_bytes(entry.to_dict())
        self._ids.append(entry.native_id)
        self._digests += hashlib.sha256(blob).digest()
        self._by_type[entry.entry_type] = self._by_type.get(entry.entry_type, 0) + 1
        tally = self._tally
        tally["names"] += len(entry.names)
        tally["aliases"] += sum(1 for n in entry.names if n.kind != "primary")
        tally["birth_dates"] += len(entry.birth_dates)
        tally["identifiers"] += len(entry.identifiers)
        if not entry.names or not entry.names[0].full:
            self._unnamed.append(entry.native_id)
        self._pending.append(blob)
        if len(self._pending) == _BLOCK:
            self._blocks.append(zlib.compress(b"\n".join(self._pending), 1))
            self._pending = []

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> SanctionsEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[SanctionsEntry]: ...

    def __getitem__(self, index: int | slice) -> SanctionsEntry | list[SanctionsEntry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError("entry index out of range")
        block, offset = divmod(position, _BLOCK)
        return SanctionsEntry.from_dict(json.loads(self._block(block)[offset]))

    def __iter__(self) -> Iterator[SanctionsEntry]:
        for data in self.dicts():
            yield SanctionsEntry.from_dict(data)

    def _block(self, number: int) -> list[bytes]:
        if number == len(self._blocks):
            return self._pending
        if self._decoded[0] != number:
            self._decoded = (number, zlib.decompress(self._blocks[number]).split(b"\n"))
        return self._decoded[1]

    def dicts(self) -> Iterator[dict[str, Any]]:
        """Every entry in its :meth:`SanctionsEntry.to_dict` form, in order, without building the objects."""
        for number in range(len(self._blocks)):
            # Decoded here, not through the one-block cache, so iterating never keeps a block alive.
            for line in zlib.decompress(self._blocks[number]).split(b"\n"):
                yield json.loads(line)
        for line in self._pending:
            yield json.loads(line)

    @property
    def native_ids(self) -> Sequence[str]:
        """Native ids in entry order (a read-only view: do not change it)."""
        return self._ids

    @property
    def unnamed_ids(self) -> list[str]:
        """Native ids of the entries without a (first) name, in entry order."""
        return list(self._unnamed)

    def entry_hash(self, position: int) -> str:
        """:meth:`SanctionsEntry.entry_hash` of the entry at `position`, without decoding it."""
        start = position * _DIGEST_SIZE
        return self._digests[start : start + _DIGEST_SIZE].hex()

    def entry_hashes(self) -> dict[str, str]:
        """{native_id: entry hash} of every entry."""
        return {native_id: self.entry_hash(i) for i, native_id in enumerate(self._ids)}

    def counts(self) -> dict[str, Any]:
        """Per-type and per-field counts of the entries."""
        return {"entries": len(self), "by_type": dict(sorted(self._by_type.items())), **self._tally}


class ParsedList:
    """A whole list file parsed and validated, ready to be stored as a version.

    `entries` may be any iterable of entries: they are packed (:class:`PackedEntries`) as they are read.
    """

    __slots__ = ("list_key", "source_format", "entries", "published_at", "source_uri", "warnings")

    def __init__(
        self,
        list_key: str,
        source_format: str,
        entries: Iterable[SanctionsEntry],
        published_at: datetime | None = None,
        source_uri: str | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.list_key = list_key
        self.source_format = source_format
        self.entries = entries if isinstance(entries, PackedEntries) else PackedEntries(entries)
        self.published_at = published_at
        self.source_uri = source_uri
        # Problems the parser tolerated (a record without a name, an unknown date shape), by native id.
        self.warnings: list[str] = list(warnings or ())

    def __repr__(self) -> str:
        return (
            f"ParsedList(list_key={self.list_key!r}, source_format={self.source_format!r}, "
            f"entries={len(self.entries)}, published_at={self.published_at!r})"
        )

    def counts(self) -> dict[str, Any]:
        """Per-type and per-field counts recorded with the version."""
        return {**self.entries.counts(), "warnings": len(self.warnings)}
