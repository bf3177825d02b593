"""List versions: store a parsed list, compute its delta, run the integrity checks, activate, quarantine or refuse.

Two guards stand between a download and screening. A version whose entry count fell by more than a tenth, that
is empty, or that is older than the active one (its publisher's date) is **refused**: recorded, never usable. A
version that passes but would remove more entries than `KYC_LIST_QUARANTINE_MAX_REMOVED` or
`KYC_LIST_QUARANTINE_MAX_REMOVED_PCT` % of the active ones is **quarantined**: stored whole, not active, until a
person approves it (it then becomes active) or rejects it. Screening keeps the active version meanwhile.
"""

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
from kyc_core.lists.model import ParsedList, SanctionsEntry, content_digest, primary_name_of
from kyc_core.lists.ofac import legacy_list_key
from kyc_core.screening.persist import screener_for
from kyc_core.settings import get_settings
from kyc_core.store.audit import EventType, append_event
from kyc_core.store.db import session_scope
from kyc_core.store.models import ListEntry, ListVersion

#: A new version holding fewer entries than this share of the active one is refused: a list
#: never loses a tenth of its parties overnight, a broken download does.
MAX_DROP = 0.10
_INSERT_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class LoadOutcome:
    """What one load or decision did: activated, unchanged, refused, quarantined or (by a person) rejected."""

    list_key: str
    status: str  # activated | unchanged | refused | quarantined | rejected
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


@dataclass(frozen=True, slots=True)
class QuarantineLimits:
    """Removals beyond either limit hold a new version back for a person: more than `max_removed` entries or
    more than `max_removed_pct` % of the active version's entries."""

    max_removed: int = 50
    max_removed_pct: float = 1.0

    @classmethod
    def from_settings(cls) -> QuarantineLimits:
        """The limits configured by `KYC_LIST_QUARANTINE_MAX_REMOVED` and `KYC_LIST_QUARANTINE_MAX_REMOVED_PCT`."""
        settings = get_settings()
        return cls(settings.list_quarantine_max_removed, settings.list_quarantine_max_removed_pct)


#: The shortest rationale a list approval or rejection accepts (as for case reviews).
MIN_RATIONALE = 5


def quarantine_problem(removed: int, active_count: int, limits: QuarantineLimits) -> str | None:
    """Why removing `removed` of `active_count` active entries needs a person's approval (None when it does not)."""
    if removed <= 0 or active_count <= 0:
        return None
    if removed > limits.max_removed or removed * 100 > limits.max_removed_pct * active_count:
        share = 100.0 * removed / active_count
        return (
            f"would remove {removed} of the {active_count} active entries ({share:.2f} %; quarantine above "
            f"{limits.max_removed} entries or {limits.max_removed_pct:g} %)"
        )
    return None


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
    limits: QuarantineLimits | None = None,
) -> LoadOutcome:
    """Store `parsed` in the caller's transaction: activated, quarantined, refused, or noted unchanged.

    `force` (an operator vouching for the file by hand) skips the drop, date and quarantine guards.
    `build_index=False` leaves the screening index to a later activation (several files loaded in a row).
    """
    moment = _now(now)
    # Hashes and counts were taken while parsing: the guards below never decode an entry.
    entry_count = len(parsed.entries)
    hashes = parsed.entries.entry_hashes()
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
    held = _same_content(session, parsed.list_key, content_hash, ("quarantined", "rejected"))
    if held is not None and held.status == "quarantined":
        # Downloaded again while a person has not decided yet: nothing new to store or to ask.
        return LoadOutcome(
            list_key=parsed.list_key,
            status="quarantined",
            version_id=held.id,
            previous_version_id=held.previous_version_id,
            entry_count=held.entry_count,
            added=held.delta_added,
            changed=held.delta_changed,
            removed=held.delta_removed,
            content_hash=content_hash,
            reason=held.refusal_reason,
            source_uri=parsed.source_uri,
            source_format=parsed.source_format,
        )
    reason = sanity_problem(entry_count, active.entry_count if active is not None else None, force=force)
    if reason is None and not force and held is not None:
        reason = f"same content as version {held.id}, which a reviewer rejected"
    if reason is None and not force and active is not None:
        reason = _date_problem(parsed.published_at, _aware(active.published_at))
    if reason is not None:
        return record_refusal(
            session,
            list_key=parsed.list_key,
            source_format=parsed.source_format,
            source_uri=parsed.source_uri,
            reason=reason,
            actor=actor,
            content_hash=content_hash,
            entry_count=entry_count,
            counts=counts,
            published_at=parsed.published_at,
            now=moment,
        )
    delta = compute_delta(_entry_hashes(session, active.id) if active is not None else {}, hashes)
    quarantine = None
    if active is not None and not force:
        quarantine = quarantine_problem(
            len(delta["removed"]), active.entry_count, limits or QuarantineLimits.from_settings()
        )
    version = ListVersion(
        list_key=parsed.list_key,
        content_hash=content_hash,
        source_format=parsed.source_format,
        source_uri=parsed.source_uri,
        published_at=parsed.published_at,
        loaded_at=moment,
        status="quarantined" if quarantine else "active",
        entry_count=entry_count,
        counts=counts,
        previous_version_id=active.id if active is not None else None,
        delta_added=len(delta["added"]),
        delta_changed=len(delta["changed"]),
        delta_removed=len(delta["removed"]),
        delta=delta,
        refusal_reason=quarantine,
    )
    if active is not None and not quarantine:
        active.status = "superseded"
    session.add(version)
    session.flush()
    for rows in _entry_rows(parsed, version.id):
        session.execute(insert(ListEntry), rows)
    outcome = LoadOutcome(
        list_key=parsed.list_key,
        status="quarantined" if quarantine else "activated",
        version_id=version.id,
        previous_version_id=version.previous_version_id,
        entry_count=entry_count,
        added=version.delta_added,
        changed=version.delta_changed,
        removed=version.delta_removed,
        content_hash=content_hash,
        reason=quarantine,
        source_uri=parsed.source_uri,
        source_format=parsed.source_format,
    )
    if quarantine:
        # The alert: the refresh DAG asks a person (and e-mails compliance); screening keeps the active version.
        _audit(session, EventType.LIST_VERSION_QUARANTINED, outcome, actor=actor, published_at=parsed.published_at)
        return outcome
    _audit(
        session,
        EventType.LIST_VERSION_ACTIVATED,
        outcome,
        actor=actor,
        published_at=parsed.published_at,
        extra={"forced": True} if force else None,
    )
    # Screening reads an index persisted per set of active versions: build it now, once, not in every task.
    if build_index:
        screener_for(active_list_hashes(session), lambda: load_active_parties(session))
    return outcome


def _entry_rows(parsed: ParsedList, version_id: int) -> Iterator[list[dict[str, Any]]]:
    """The stored rows of `parsed`, decoded `_INSERT_CHUNK` entries at a time (never the whole list at once)."""
    entries = parsed.entries
    rows: list[dict[str, Any]] = []
    for position, data in enumerate(entries.dicts()):
        rows.append(
            {
                "version_id": version_id,
                "list_key": parsed.list_key,
                "native_id": data["native_id"],
                "entry_type": data["entry_type"],
                "primary_name": primary_name_of(data),
                "entry_hash": entries.entry_hash(position),
                "data": data,
            }
        )
        if len(rows) == _INSERT_CHUNK:
            yield rows
            rows = []
    if rows:
        yield rows


def _same_content(
    session: Session, list_key: str, content_hash: str, statuses: tuple[str, ...]
) -> ListVersion | None:
    """The latest version of `list_key` with this content in one of `statuses`, if any."""
    return session.scalars(
        select(ListVersion)
        .where(
            ListVersion.list_key == list_key,
            ListVersion.content_hash == content_hash,
            ListVersion.status.in_(statuses),
        )
        .order_by(ListVersion.id.desc())
        .limit(1)
    ).first()


def _date_problem(published: datetime | None, active_published: datetime | None) -> str | None:
    """A file its publisher dated before the active version is stale or replayed: never a newer list."""
    published = _aware(published)
    if published is None or active_published is None or published >= active_published:
        return None
    return (
        f"published {published.date().isoformat()}, before the active version "
        f"({active_published.date().isoformat()}): a stale or replayed file"
    )


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
    extra: dict[str, Any] | None = None,
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
        **(extra or {}),
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
    limits: QuarantineLimits | None = None,
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
        return store_parsed(
            session, parsed, actor=actor, force=force, now=now, build_index=build_index, limits=limits
        )


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
        item["quarantined"] = [
            {"version_id": v.id, "removed": v.delta_removed, "reason": v.refusal_reason}
            for v in session.scalars(
                select(ListVersion)
                .where(ListVersion.list_key == key, ListVersion.status == "quarantined")
                .order_by(ListVersion.id)
            )
        ]
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


def quarantined_versions(session: Session) -> list[dict[str, Any]]:
    """Every version waiting for a person, oldest first: what it would remove and why it waits."""
    rows = session.scalars(
        select(ListVersion).where(ListVersion.status == "quarantined").order_by(ListVersion.id)
    ).all()
    return [_quarantine_summary(session, version) for version in rows]


def quarantine_summary(session: Session, version_id: int) -> dict[str, Any] | None:
    """What one quarantined version would change, or None when it is not (or no longer) quarantined."""
    version = session.get(ListVersion, version_id)
    if version is None or version.status != "quarantined":
        return None
    return _quarantine_summary(session, version)


def _quarantine_summary(session: Session, version: ListVersion) -> dict[str, Any]:
    active = active_version(session, version.list_key)
    loaded = _aware(version.loaded_at)
    published = _aware(version.published_at)
    return {
        "version_id": version.id,
        "list": version.list_key,
        "entries": version.entry_count,
        "active_version_id": active.id if active is not None else None,
        "active_entries": active.entry_count if active is not None else None,
        "added": version.delta_added,
        "changed": version.delta_changed,
        "removed": version.delta_removed,
        "reason": version.refusal_reason,
        "published_at": published.isoformat() if published else None,
        "loaded_at": loaded.isoformat() if loaded else None,
        "content_hash": version.content_hash,
    }


def _quarantined(session: Session, version_id: int, rationale: str) -> ListVersion:
    if len((rationale or "").strip()) < MIN_RATIONALE:
        raise UserError(f"a rationale of at least {MIN_RATIONALE} characters is required")
    version = session.scalars(
        select(ListVersion).where(ListVersion.id == version_id).with_for_update()
    ).first()
    if version is None:
        raise UserError(f"list version {version_id} does not exist")
    if version.status != "quarantined":
        raise UserError(f"list version {version_id} is {version.status}, not quarantined")
    return version


def approve_version(
    session: Session,
    version_id: int,
    *,
    actor: str,
    rationale: str,
    now: datetime | None = None,
    build_index: bool = True,
) -> LoadOutcome:
    """A person approved a quarantined version: it replaces the active one, in the caller's transaction."""
    version = _quarantined(session, version_id, rationale)
    active = active_version(session, version.list_key, lock=True)
    if active is not None and active.id != version.previous_version_id:
        # Another version became active meanwhile: the delta screening needs is against that one.
        current = _entry_hashes(session, version.id)
        delta = compute_delta(_entry_hashes(session, active.id), current)
        version.delta = delta
        version.delta_added = len(delta["added"])
        version.delta_changed = len(delta["changed"])
        version.delta_removed = len(delta["removed"])
    version.previous_version_id = active.id if active is not None else None
    if active is not None:
        active.status = "superseded"
    quarantine_reason = version.refusal_reason
    version.status = "active"
    version.refusal_reason = None
    session.flush()
    outcome = _outcome_of(version, "activated")
    decision = {"rationale": rationale.strip(), "quarantine_reason": quarantine_reason, "decided_at": _now(now)}
    _audit(session, EventType.LIST_VERSION_APPROVED, outcome, actor=actor, published_at=version.published_at,
           extra=decision)
    _audit(session, EventType.LIST_VERSION_ACTIVATED, outcome, actor=actor, published_at=version.published_at,
           extra={"approved_by": actor})
    if build_index:
        screener_for(active_list_hashes(session), lambda: load_active_parties(session))
    return outcome


def reject_version(
    session: Session, version_id: int, *, actor: str, rationale: str, now: datetime | None = None
) -> LoadOutcome:
    """A person rejected a quarantined version: it is never activated (the same content is refused later)."""
    version = _quarantined(session, version_id, rationale)
    version.status = "rejected"
    session.flush()
    outcome = _outcome_of(version, "rejected")
    _audit(session, EventType.LIST_VERSION_REJECTED, outcome, actor=actor, published_at=version.published_at,
           extra={"rationale": rationale.strip(), "decided_at": _now(now)})
    return outcome


def _outcome_of(version: ListVersion, status: str) -> LoadOutcome:
    return LoadOutcome(
        list_key=version.list_key,
        status=status,
        version_id=version.id,
        previous_version_id=version.previous_version_id,
        entry_count=version.entry_count,
        added=version.delta_added,
        changed=version.delta_changed,
        removed=version.delta_removed,
        content_hash=version.content_hash,
        reason=version.refusal_reason,
        source_uri=version.source_uri,
        source_format=version.source_format,
    )
