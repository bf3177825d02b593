"""The active list versions as the screening engine sees them (ListedParty records)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc_core.lists.model import BirthDate, SanctionsEntry
from kyc_core.screening.model import ListedParty
from kyc_core.store.models import ListEntry, ListVersion


def birth_date_text(value: BirthDate) -> str | None:
    """The engine's date form: `YYYY`, `YYYY-MM`, `YYYY-MM-DD` or `YYYY..YYYY`; None when unparsed."""
    if value.year is None:
        return None
    if value.precision == "range" and value.year_to:
        return f"{value.year}..{value.year_to}"
    if value.precision == "day" and value.month and value.day:
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    if value.precision == "month" and value.month:
        return f"{value.year:04d}-{value.month:02d}"
    if value.approximate:
        # "circa 1960": OFAC and the UN mean give or take a year or two.
        return f"{value.year - 1}..{value.year + 1}"
    return f"{value.year:04d}"


def _iso2(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v and len(v) == 2 and v.isalpha() and v.isupper()))


def to_listed_party(
    entry: SanctionsEntry, entry_hash: str | None = None, *, include_weak: bool = False
) -> ListedParty:
    """Reduce a normalized entry to what matching reads.

    Weak aliases are left out by default: OFAC and the UN mark them as too broad to screen on alone.
    """
    names = [n.full for n in entry.names if n.full and (include_weak or n.quality != "weak")]
    if not names and entry.names:
        names = [entry.names[0].full]
    countries = _iso2(
        [*entry.nationalities, *entry.citizenships, *entry.countries, *(a.country for a in entry.addresses)]
    )
    return ListedParty(
        list_key=entry.list_key,
        entry_id=entry.native_id,
        entry_type=entry.entry_type,
        names=tuple(dict.fromkeys(names)),
        birth_dates=tuple(dict.fromkeys(d for b in entry.birth_dates if (d := birth_date_text(b)))),
        countries=countries,
        identifiers=tuple(
            dict.fromkeys(i.number for i in entry.identifiers if i.kind not in ("other", "email", "website"))
        ),
        content_hash=entry_hash or entry.entry_hash(),
    )


def load_active_parties(
    session: Session, list_keys: Iterable[str] | None = None, *, include_weak: bool = False
) -> list[ListedParty]:
    """Every entry of every active list version (or of `list_keys`), ready for the screener."""
    query = (
        select(ListEntry.data, ListEntry.entry_hash)
        .join(ListVersion, ListVersion.id == ListEntry.version_id)
        .where(ListVersion.status == "active")
        .order_by(ListEntry.list_key, ListEntry.id)
    )
    if list_keys is not None:
        query = query.where(ListVersion.list_key.in_(list(list_keys)))
    return [
        to_listed_party(SanctionsEntry.from_dict(data), digest, include_weak=include_weak)
        for data, digest in session.execute(query)
    ]


def active_list_hashes(session: Session) -> dict[str, str]:
    """{list_key: content_hash} of the active versions: what a decision records as the lists it used."""
    rows = session.execute(
        select(ListVersion.list_key, ListVersion.content_hash).where(ListVersion.status == "active")
    )
    return {key: digest for key, digest in rows}


def delta_parties(session: Session, version_id: int, *, include_weak: bool = False) -> list[ListedParty]:
    """The added and changed entries of one version, as the delta screening reads them."""
    version = session.get(ListVersion, version_id)
    if version is None:
        return []
    delta = version.delta or {}
    wanted = list(delta.get("added", [])) + list(delta.get("changed", []))
    parties: list[ListedParty] = []
    for start in range(0, len(wanted), 1000):
        rows = session.execute(
            select(ListEntry.data, ListEntry.entry_hash).where(
                ListEntry.version_id == version_id, ListEntry.native_id.in_(wanted[start : start + 1000])
            )
        )
        parties.extend(
            to_listed_party(SanctionsEntry.from_dict(data), digest, include_weak=include_weak) for data, digest in rows
        )
    return parties
