"""List versions: store a parsed list, compute its delta, run the sanity checks, activate or refuse."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from kyc_core.errors import UserError
from kyc_core.lists.active import active_list_hashes, load_active_parties
from kyc_core.lists.detect import detect, parse_path
from kyc_core.lists.model import ParsedList, SanctionsEntry, content_digest
from kyc_core.lists.ofac import legacy_list_key
from kyc_core.screening.persist import screener_for
from kyc_core.store.audit import EventType, append_event
from kyc_core.store.db import session_scope
from kyc_core.store.models import ListEntry, ListVersion

#: A new version holding fewer entries than this share of the active one is refused: a list
#: never loses a tenth of its parties overnight, a broken download does.
MAX_DROP = 0.10
_INSERT_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class LoadOutcome:
    """What one load did: activated a new version, found the content unchanged, or refused it."""

    list_key: str
    status: str  # activated | unchanged | refused
    version_id: int | None
    previous_version_id: int | None
    entry_count: int
    added: int = 0
    changed: int = 0
    removed: int = 0
    content_hash: str | None = None
    reason: str | None = None
    source_uri: str | None = None
    source_format: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (CLI output, Asset event extra, XCom)."""
        return asdict(self)


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def _id_key(native_id: str) -> tuple[int, int, str]:
    return (0, int(native_id), "") if native_id.isdigit() else (1, 0, native_id)


def list_content_hash(entry_hashes: dict[str, str]) -> str:
    """Hash of a whole list's content, independent of file order, headers and publication timestamps."""
    return content_digest(sorted(entry_hashes.items()))


def active_version(session: Session, list_key: str, *, lock: bool = False) -> ListVersion | None:
    """The active version of one list, if any (optionally locked so concurrent loads serialise)."""
    query = select(ListVersion).where(ListVersion.list_key == list_key, ListVersion.status == "active")
    if lock:
        query = query.with_for_update()
    return session.scalars(query.order_by(ListVersion.id.desc()).limit(1)).first()


def _entry_hashes(session: Session, version_id: int) -> dict[str, str]:
    rows = session.execute(
        select(ListEntry.native_id, ListEntry.entry_hash).where(ListEntry.version_id == version_id)
    )
    return {native_id: digest for native_id, digest in rows}


def compute_delta(previous: dict[str, str], current: dict[str, str]) -> dict[str, list[str]]:
    """Added, changed and removed native ids between two {native_id: entry_hash} maps."""
    added = [i for i in current if i not in previous]
    changed = [i for i in current if i in previous and previous[i] != current[i]]
    removed = [i for i in previous if i not in current]
    return {
        "added": sorted(added, key=_id_key),
        "changed": sorted(changed, key=_id_key),
        "removed": sorted(removed, key=_id_key),
    }


def store_parsed(
    session: Session,
    parsed: ParsedList,
    *,
    actor: str,
    force: bool = False,
    now: datetime | None = None,
    build_index: bool = True,
) -> LoadOutcome:
    """Store `parsed` as the new active version in the caller's transaction, or refuse it, or note it unchanged.

    `build_index=False` leaves the screening index to a later activation (several files loaded in a row).
    """
    moment = _now(now)
    rows: list[dict[str, Any]] = []
    hashes: dict[str, str] = {}
    for entry in parsed.entries:
        data = entry.to_dict()
        digest = content_digest(data)
        hashes[entry.native_id] = digest
        rows.append(
            {
                "list_key": parsed.list_key,
                "native_id": entry.native_id,
                "entry_type": entry.entry_type,
                "primary_name": entry.primary_name,
                "entry_hash": digest,
                "data": data,
            }
        )
    content_hash = list_content_hash(hashes)
    active = active_version(session, parsed.list_key, lock=True)
    if active is not None and active.content_hash == content_hash:
        return LoadOutcome(
            list_key=parsed.list_key,
            status="unchanged",
            version_id=active.id,
            previous_version_id=active.previous_version_id,
            entry_count=active.entry_count,
            content_hash=content_hash,
            source_uri=parsed.source_uri,
            source_format=parsed.source_format,
        )
    counts = parsed.counts()
    reason = sanity_problem(len(rows), active.entry_count if active is not None else None, force=force)
    if reason is not None:
        return record_refusal(
            session,
            list_key=parsed.list_key,
            source_format=parsed.source_format,
            source_uri=parsed.source_uri,
            reason=reason,
            actor=actor,
            content_hash=content_hash,
            entry_count=len(rows),
            counts=counts,
            published_at=parsed.published_at,
            now=moment,
        )
    delta = compute_delta(_entry_hashes(session, active.id) if active is not None else {}, hashes)
    version = ListVersion(
        list_key=parsed.list_key,
        content_hash=content_hash,
        source_format=parsed.source_format,
        source_uri=parsed.source_uri,
        published_at=parsed.published_at,
        loaded_at=moment,
        status="active",
        entry_count=len(rows),
        counts=counts,
        previous_version_id=active.id if active is not None else None,
        delta_added=len(delta["added"]),
        delta_changed=len(delta["changed"]),
        delta_removed=len(delta["removed"]),
        delta=delta,
    )
    if active is not None:
        active.status = "superseded"
    session.add(version)
    session.flush()
    for row in rows:
        row["version_id"] = version.id
    for start in range(0, len(rows), _INSERT_CHUNK):
        session.execute(insert(ListEntry), rows[start : start + _INSERT_CHUNK])
    outcome = LoadOutcome(
        list_key=parsed.list_key,
        status="activated",
        version_id=version.id,
        previous_version_id=version.previous_version_id,
        entry_count=len(rows),
        added=version.delta_added,
        changed=version.delta_changed,
        removed=version.delta_removed,
        content_hash=content_hash,
        source_uri=parsed.source_uri,
        source_format=parsed.source_format,
    )
    _audit(session, EventType.LIST_VERSION_ACTIVATED, outcome, actor=actor, published_at=parsed.published_at)
    # Screening reads an index persisted per set of active versions: build it now, once, not in every task.
    if build_index:
        screener_for(active_list_hashes(session), lambda: load_active_parties(session))
    return outcome


def sanity_problem(new_count: int, active_count: int | None, *, force: bool = False) -> str | None:
    """Why a version with `new_count` entries must not replace one with `active_count` (None when it may)."""
    if new_count == 0:
        return "the file holds no entries"
    if force or not active_count:
        return None
    if new_count < active_count * (1 - MAX_DROP):
        drop = 100.0 * (active_count - new_count) / active_count
        return f"entry count dropped from {active_count} to {new_count} (-{drop:.1f} %, limit {MAX_DROP:.0%})"
    return None


def record_refusal(
    session: Session,
    *,
    list_key: str,
    source_format: str,
    source_uri: str | None,
    reason: str,
    actor: str,
    content_hash: str = "",
    entry_count: int = 0,
    counts: dict[str, Any] | None = None,
    published_at: datetime | None = None,
    now: datetime | None = None,
) -> LoadOutcome:
    """Record a refused version (the active one stays active) and its audit event."""
    active = active_version(session, list_key)
    version = ListVersion(
        list_key=list_key,
        content_hash=content_hash,
        source_format=source_format,
        source_uri=source_uri,
        published_at=published_at,
        loaded_at=_now(now),
        status="refused",
        entry_count=entry_count,
        counts=counts or {},
        previous_version_id=active.id if active is not None else None,
        delta={},
        refusal_reason=reason,
    )
    session.add(version)
    session.flush()
    outcome = LoadOutcome(
        list_key=list_key,
        status="refused",
        version_id=version.id,
        previous_version_id=version.previous_version_id,
        entry_count=entry_count,
        content_hash=content_hash or None,
        reason=reason,
        source_uri=source_uri,
        source_format=source_format,
    )
    _audit(session, EventType.LIST_VERSION_REFUSED, outcome, actor=actor, published_at=published_at)
    return outcome


def _audit(
    session: Session,
    event_type: EventType,
    outcome: LoadOutcome,
    *,
    actor: str,
    published_at: datetime | None,
) -> None:
    payload = {
        "list_key": outcome.list_key,
        "version_id": outcome.version_id,
        "previous_version_id": outcome.previous_version_id,
        "content_hash": outcome.content_hash,
        "entry_count": outcome.entry_count,
        "added": outcome.added,
        "changed": outcome.changed,
        "removed": outcome.removed,
        "source_format": outcome.source_format,
        "published_at": published_at.isoformat() if published_at else None,
        "reason": outcome.reason,
    }
    append_event(
        session,
        event_type,
        actor=actor,
        payload=payload,
        idempotency_key=f"{event_type.value}:{outcome.list_key}:{outcome.version_id}",
    )


def guess_list_key(path: Path) -> str | None:
    """Best guess of which list a damaged file was meant to be, so its refusal is filed under that list."""
    name = path.name.lower()
    try:
        source_format = detect(path)
    except UserError:
        source_format = None
    if source_format == "un_xml" or "un_consolidated" in name or name == "consolidated.xml":
        return "un_sc"
    if source_format == "eu_xml" or name.startswith("eu") or "fsf" in name:
        return "eu_fsf"
    if source_format == "us_csl_csv":
        return "us_csl"
    if source_format == "internal_csv":
        return "internal"
    if source_format == "uk_xml" or name.startswith("uk"):
        return "uk_fcdo"
    if path.is_dir():
        return "ofac_cons" if (path / "cons_prim.csv").exists() else "ofac_sdn"
    if source_format is not None or name.startswith(("sdn", "cons")) or "ofac" in name:
        return legacy_list_key(path)
    return None


def load_path(
    path: Path | str,
    *,
    url: str | None = None,
    actor: str,
    force: bool = False,
    now: datetime | None = None,
    build_index: bool = True,
) -> LoadOutcome:
    """Parse one list file (or OFAC CSV directory) and store it in one transaction.

    A file that cannot be parsed is refused (recorded under the list it was meant to be) and the
    active version stays active; a file whose list cannot even be guessed raises UserError.
    """
    path = Path(path)
    try:
        parsed = parse_path(path)
    except UserError as exc:
        list_key = guess_list_key(path)
        if list_key is None:
            raise
        with session_scope(url) as session:
            return record_refusal(
                session,
                list_key=list_key,
                source_format="unknown",
                source_uri=str(path),
                reason=str(exc),
                actor=actor,
                now=now,
            )
    with session_scope(url) as session:
        return store_parsed(session, parsed, actor=actor, force=force, now=now, build_index=build_index)


def list_status(session: Session, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per list: the active version, its counts, publication date, age, and the last refusal after it."""
    moment = _now(now)
    out = []
    keys = session.scalars(select(ListVersion.list_key).distinct()).all()
    for key in sorted(keys):
        active = active_version(session, key)
        last_refusal = session.scalars(
            select(ListVersion)
            .where(ListVersion.list_key == key, ListVersion.status == "refused")
            .order_by(ListVersion.id.desc())
            .limit(1)
        ).first()
        item: dict[str, Any] = {"list": key, "active": None, "last_refusal": None}
        if active is not None:
            loaded = _aware(active.loaded_at)
            published = _aware(active.published_at)
            item["active"] = {
                "version_id": active.id,
                "content_hash": active.content_hash,
                "source_format": active.source_format,
                "entries": active.entry_count,
                "by_type": (active.counts or {}).get("by_type", {}),
                "published_at": published.isoformat() if published else None,
                "loaded_at": loaded.isoformat() if loaded else None,
                "age_hours": round((moment - since).total_seconds() / 3600, 1)
                if (since := published or loaded) is not None
                else None,
                "delta": {
                    "added": active.delta_added,
                    "changed": active.delta_changed,
                    "removed": active.delta_removed,
                },
            }
        if last_refusal is not None and (active is None or last_refusal.id > active.id):
            item["last_refusal"] = {
                "version_id": last_refusal.id,
                "loaded_at": refused_at.isoformat() if (refused_at := _aware(last_refusal.loaded_at)) else None,
                "reason": last_refusal.refusal_reason,
            }
        out.append(item)
    return out


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything is written in UTC.
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iter_entries(
    session: Session, version_id: int, native_ids: Iterable[str] | None = None
) -> Iterator[SanctionsEntry]:
    """Entries of one version (all, or only `native_ids`), rebuilt from the store."""
    query = select(ListEntry.data).where(ListEntry.version_id == version_id)
    if native_ids is not None:
        wanted = list(native_ids)
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            for data in session.scalars(query.where(ListEntry.native_id.in_(chunk))):
                yield SanctionsEntry.from_dict(data)
        return
    for data in session.execute(query.execution_options(yield_per=2000)).scalars():
        yield SanctionsEntry.from_dict(data)


def active_versions(session: Session, list_keys: Iterable[str] | None = None) -> list[ListVersion]:
    """The active version of every list (or of `list_keys`)."""
    query = select(ListVersion).where(ListVersion.status == "active")
    if list_keys is not None:
        query = query.where(ListVersion.list_key.in_(list(list_keys)))
    return list(session.scalars(query.order_by(ListVersion.list_key)))


def delta_entries(session: Session, version_id: int) -> list[SanctionsEntry]:
    """The added and changed entries of one version: what delta screening must look at."""
    version = session.get(ListVersion, version_id)
    if version is None:
        raise UserError(f"list version {version_id} does not exist")
    delta = version.delta or {}
    ids = list(delta.get("added", [])) + list(delta.get("changed", []))
    return list(iter_entries(session, version_id, ids))
