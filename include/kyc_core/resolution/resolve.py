"""Consolidating Sirene, RNE, RBE, BODACC and the declaration into one entity, with provenance and conflicts.

Precedence where sources overlap: Sirene for identity, address, activity and administrative status
(INSEE is the reference for them), RNE for legal representatives, RBE for beneficial owners, BODACC
for legal events. Values that agree keep every attesting source in their provenance; values that do
not agree keep the preferred one and raise a typed conflict carrying both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from kyc_core.customers.request import DeclaredPerson, EntityCustomer, PersonCustomer
from kyc_core.resolution.model import (
    Activity,
    Conflict,
    ConflictCode,
    EntityStatus,
    LegalCategory,
    LegalEvent,
    Provenance,
    ResolvedEntity,
    ResolvedOfficer,
    ResolvedOwner,
    ResolvedPerson,
    Sourced,
    SourceName,
)
from kyc_core.resolution.people import (
    NamesMatch,
    PartyRecord,
    compare_parties,
    looks_like_company,
    name_tokens,
    names_match,
    pair_up,
    person_names,
    same_name,
)
from kyc_core.sources.bodacc import effective_notices
from kyc_core.sources.models import (
    Address,
    AdministrativeStatus,
    BeneficialOwner,
    BeneficialOwnersAvailability,
    BeneficialOwnersResult,
    BodaccKind,
    BodaccNotice,
    Company,
    Establishment,
    LegalEntityOfficer,
    NaturalPersonOfficer,
    Officer,
    RneRecord,
)

V = TypeVar("V")

#: French registers publish local times without an offset.
PARIS = ZoneInfo("Europe/Paris")

#: Declared and registered shares closer than this (percentage points) agree: declarations round.
OWNER_PCT_TOLERANCE = 1.0

#: BODACC notices kept as legal events; filings of accounts and routine modifications are not.
EVENT_KINDS = frozenset(
    {
        BodaccKind.SAFEGUARD,
        BodaccKind.RECEIVERSHIP,
        BodaccKind.LIQUIDATION,
        BodaccKind.COLLECTIVE_OTHER,
        BodaccKind.STRIKING_OFF,
        BodaccKind.SALE,
    }
)

_CLOSURE_WORDS = ("clôture", "cloture")


# --------------------------------------------------------------------------------------------
# Timestamps and provenance


def source_time(value: str | date | datetime | None) -> datetime | None:
    """A source's date or date-time as an aware datetime; naive values are Paris local time."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.min)
    return value if value.tzinfo is not None else value.replace(tzinfo=PARIS)


def sirene_last_processed(payload: Mapping[str, Any]) -> datetime | None:
    """`dateDernierTraitementUniteLegale` of a Sirene /siren answer, or of the unit in a /siret answer."""
    unit = payload.get("uniteLegale")
    if not isinstance(unit, Mapping):
        etab = payload.get("etablissement")
        unit = etab.get("uniteLegale") if isinstance(etab, Mapping) else None
    if not isinstance(unit, Mapping):
        return None
    return source_time(unit.get("dateDernierTraitementUniteLegale"))


def _sourced(value: V | None, *provenance: Provenance) -> Sourced[V] | None:
    """The value with its provenance, or None when the value is absent."""
    if value is None or value == "" or value == ():
        return None
    return Sourced[Any](value=value, provenance=tuple(provenance))


def _agreed(
    candidates: Iterable[tuple[V | None, Provenance]], key: Callable[[V], Any] = lambda v: v
) -> Sourced[V] | None:
    """The first present value, attested by every candidate whose value has the same key."""
    present = [(v, p) for v, p in candidates if v is not None and v != ""]
    if not present:
        return None
    chosen = present[0][0]
    wanted = key(chosen)
    return Sourced[Any](value=chosen, provenance=tuple(p for v, p in present if key(v) == wanted))


def _conflict(
    code: ConflictCode,
    explanation: str,
    sources: Iterable[SourceName],
    party_key: str | None = None,
    **details: Any,
) -> Conflict:
    """One conflict with its sources de-duplicated in order."""
    return Conflict(
        code=code,
        explanation=explanation,
        sources=tuple(dict.fromkeys(sources)),
        party_key=party_key,
        details=details,
    )


@dataclass(frozen=True)
class _Inputs:
    """The sources actually usable for this company and the testimony of each."""

    provenance: dict[SourceName, Provenance]
    sirene: Company | None
    rne: RneRecord | None
    owners: BeneficialOwnersResult | None
    owners_source: SourceName | None
    notices: tuple[BodaccNotice, ...] | None

    def of(self, source: SourceName) -> Provenance:
        """Testimony of one consulted source."""
        return self.provenance[source]


def _provenance(
    source: SourceName,
    fetched_at: Mapping[str, datetime],
    snapshot_hashes: Mapping[str, str],
    source_timestamps: Mapping[str, datetime],
    derived: datetime | None = None,
) -> Provenance:
    """The testimony of one consulted source; an explicit source timestamp wins over the model's."""
    fetched = fetched_at.get(source.value)
    return Provenance(
        source=source,
        snapshot_hash=snapshot_hashes.get(source.value),
        source_timestamp=source_time(source_timestamps.get(source.value)) or derived,
        fetched_at=_aware(fetched, f"fetched_at[{source.value}]") if fetched is not None else None,
    )


def _aware(moment: datetime, what: str) -> datetime:
    """Our own clocks must say which time zone they read; a naive time would shift freshness by hours."""
    if moment.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware")
    return moment


# --------------------------------------------------------------------------------------------
# Identity


def _siren_checks(
    declared: EntityCustomer,
    sirene: Company | None,
    rne: RneRecord | None,
    owners: BeneficialOwnersResult | None,
    notices: Sequence[BodaccNotice] | None,
) -> dict[SourceName, str]:
    """The SIREN each source answered for (BODACC only when every notice names another company)."""
    found: dict[SourceName, str] = {}
    if sirene is not None:
        found[SourceName.SIRENE] = sirene.siren
    if rne is not None:
        found[SourceName.RNE] = rne.company.siren
    if owners is not None and owners.siren:
        found[SourceName.RBE] = owners.siren
    named = [s for n in notices or () for s in n.sirens]
    if named and declared.siren not in named:
        found[SourceName.BODACC] = named[0]
    return found


def _identity_conflicts(declared: EntityCustomer, answered: Mapping[SourceName, str]) -> list[Conflict]:
    """SIREN mismatches: a source answering for another company, or a SIRET of another company."""
    conflicts: list[Conflict] = []
    others = {s.value: v for s, v in answered.items() if v != declared.siren}
    if others:
        conflicts.append(
            _conflict(
                ConflictCode.SIREN_MISMATCH,
                "a source answered for another SIREN than the one declared; its data was set aside",
                [SourceName.DECLARED, *(SourceName(s) for s in others)],
                declared=declared.siren,
                answered=others,
            )
        )
    if declared.siret and declared.siret[:9] != declared.siren:
        conflicts.append(
            _conflict(
                ConflictCode.SIREN_MISMATCH,
                "the declared SIRET belongs to another SIREN than the one declared",
                [SourceName.DECLARED],
                declared=declared.siren,
                siret=declared.siret,
            )
        )
    return conflicts


def _register_names(inputs: _Inputs) -> list[str]:
    """Every name the registers know the company by: legal name, acronym, trade names."""
    names: list[str] = []
    for company in (inputs.sirene, inputs.rne.company if inputs.rne else None):
        if company is None:
            continue
        names += [n for n in (company.legal_name, company.acronym) if n]
        names += [e.trade_name for e in (company.head_office, *company.establishments) if e and e.trade_name]
    return list(dict.fromkeys(names))


def _name_conflicts(
    declared: EntityCustomer, legal_name: Sourced[str] | None, inputs: _Inputs, matcher: NamesMatch
) -> list[Conflict]:
    """Declared name against every register name; Sirene's legal name against RNE's."""
    conflicts: list[Conflict] = []
    sirene_name = inputs.sirene.legal_name if inputs.sirene else None
    rne_name = inputs.rne.company.legal_name if inputs.rne else None
    if sirene_name and rne_name and not same_name(sirene_name, rne_name):
        conflicts.append(
            _conflict(
                ConflictCode.REGISTER_NAMES_DISAGREE,
                "Sirene and RNE give different legal names",
                [SourceName.SIRENE, SourceName.RNE],
                sirene=sirene_name,
                rne=rne_name,
                similarity=round(matcher(sirene_name, rne_name, "entity"), 4),
            )
        )
    known = _register_names(inputs)
    if legal_name is not None and known and not any(same_name(declared.declared_name, n) for n in known):
        conflicts.append(
            _conflict(
                ConflictCode.DECLARED_NAME_MISMATCH,
                "the declared name differs from the registered legal name, acronym and trade names",
                [SourceName.DECLARED, *legal_name.sources],
                declared=declared.declared_name,
                register=legal_name.value,
                similarity=round(max(matcher(declared.declared_name, n, "entity") for n in known), 4),
            )
        )
    return conflicts


def _head_offices(inputs: _Inputs) -> list[tuple[Establishment, Provenance]]:
    """Head-office establishments, Sirene first."""
    found: list[tuple[Establishment, Provenance]] = []
    if inputs.sirene is not None and inputs.sirene.head_office is not None:
        found.append((inputs.sirene.head_office, inputs.of(SourceName.SIRENE)))
    if inputs.rne is not None and inputs.rne.company.head_office is not None:
        found.append((inputs.rne.company.head_office, inputs.of(SourceName.RNE)))
    return found


def _sirets(inputs: _Inputs) -> Sourced[tuple[str, ...]] | None:
    """Every establishment SIRET any register lists, with the registers that list at least one."""
    sirets: list[str] = []
    provenance: list[Provenance] = []
    for company, source in (
        (inputs.sirene, SourceName.SIRENE),
        (inputs.rne.company if inputs.rne else None, SourceName.RNE),
    ):
        if company is None:
            continue
        own = [e.siret for e in (company.head_office, *company.establishments) if e is not None and e.siret]
        if own:
            sirets += own
            provenance.append(inputs.of(source))
    return _sourced(tuple(sorted(set(sirets))), *provenance)


def _companies(inputs: _Inputs) -> list[tuple[Company, Provenance]]:
    """The company as each register describes it, Sirene first."""
    found: list[tuple[Company, Provenance]] = []
    if inputs.sirene is not None:
        found.append((inputs.sirene, inputs.of(SourceName.SIRENE)))
    if inputs.rne is not None:
        found.append((inputs.rne.company, inputs.of(SourceName.RNE)))
    return found


def _address_key(address: Address) -> tuple[str | None, str | None]:
    """What makes two head-office addresses the same place: postcode and commune code."""
    # Registers spell streets differently ("BD"/"BOULEVARD"); the postcode and INSEE commune code agree.
    return (address.postal_code, address.city_code)


# --------------------------------------------------------------------------------------------
# Status and legal events


def _notice_provenance(notice: BodaccNotice, base: Provenance) -> Provenance:
    """The BODACC testimony for one notice: its publication date and id."""
    return base.model_copy(
        update={"source_timestamp": source_time(notice.publication_date), "record_id": notice.id}
    )


def legal_events(notices: Sequence[BodaccNotice], siren: str, base: Provenance) -> tuple[LegalEvent, ...]:
    """Notices in force about this SIREN that a reviewer needs, newest first."""
    kept = [
        n
        for n in effective_notices(list(notices))
        if n.kind in EVENT_KINDS and (not n.sirens or siren in n.sirens)
    ]
    kept.sort(key=lambda n: (n.publication_date or date.min, n.id), reverse=True)
    return tuple(
        LegalEvent(
            notice_id=n.id,
            kind=n.kind,
            publication_date=n.publication_date,
            judgment_nature=n.judgment_nature,
            judgment_date=n.judgment_date,
            court=n.court,
            url=n.url,
            provenance=(_notice_provenance(n, base),),
        )
        for n in kept
    )


def _is_closure(event: LegalEvent) -> bool:
    """A judgment closing the proceeding (e.g. "clôture pour insuffisance d'actif")."""
    return any(word in (event.judgment_nature or "").lower() for word in _CLOSURE_WORDS)


def open_proceeding(events: Sequence[LegalEvent]) -> LegalEvent | None:
    """The latest collective-proceeding judgment unless it closes the proceeding."""
    collective = [e for e in events if e.kind.is_collective_proceeding]
    if not collective:
        return None
    latest = max(collective, key=lambda e: (e.judgment_date or e.publication_date or date.min, e.notice_id))
    return None if _is_closure(latest) else latest


def _status(
    inputs: _Inputs, events: Sequence[LegalEvent]
) -> tuple[Sourced[EntityStatus] | None, list[Conflict]]:
    """Struck off (BODACC), ceased (any register) or active, with the matching alert."""
    reported = [(c.status, p) for c, p in _companies(inputs) if c.status is not None]
    active = [p for s, p in reported if s is AdministrativeStatus.ACTIVE]
    ceased = [p for s, p in reported if s is AdministrativeStatus.CEASED]
    struck = next((e for e in events if e.kind is BodaccKind.STRIKING_OFF), None)
    conflicts: list[Conflict] = []
    if struck is not None:
        sources = [SourceName.BODACC, *(p.source for p in ceased)]
        if active and not ceased:
            # A striking-off also follows a transfer of the registered office to another court.
            conflicts.append(
                _conflict(
                    ConflictCode.COMPANY_STRUCK_OFF,
                    "BODACC published a striking-off while the register still reports the company active",
                    [*sources, *(p.source for p in active)],
                    notice_id=struck.notice_id,
                    register_status=EntityStatus.ACTIVE.value,
                )
            )
            return Sourced[EntityStatus](value=EntityStatus.ACTIVE, provenance=tuple(active)), conflicts
        conflicts.append(
            _conflict(
                ConflictCode.COMPANY_STRUCK_OFF,
                "the company has been struck off the trade register",
                sources,
                notice_id=struck.notice_id,
                publication_date=struck.publication_date.isoformat() if struck.publication_date else None,
            )
        )
        return Sourced[EntityStatus](
            value=EntityStatus.STRUCK_OFF, provenance=(*struck.provenance, *ceased)
        ), conflicts
    if ceased:
        conflicts.append(
            _conflict(
                ConflictCode.COMPANY_CEASED,
                "a register reports the company as ceased",
                [p.source for p in ceased],
            )
        )
        return Sourced[EntityStatus](value=EntityStatus.CEASED, provenance=tuple(ceased)), conflicts
    if active:
        return Sourced[EntityStatus](value=EntityStatus.ACTIVE, provenance=tuple(active)), conflicts
    return None, conflicts


# --------------------------------------------------------------------------------------------
# Officers and beneficial owners


@dataclass
class _Draft:
    """A party under construction: its matching record, its fields, and conflicts awaiting its key."""

    record: PartyRecord
    fields: dict[str, Any]
    issues: list[tuple[ConflictCode, str, tuple[SourceName, ...], dict[str, Any]]] = field(
        default_factory=list
    )
    key: str = ""


def declared_birth(person: DeclaredPerson) -> tuple[int | None, int | None]:
    """(year, month) of a declared "YYYY-MM" birth month."""
    if not person.birth_month:
        return None, None
    year, month = person.birth_month.split("-")
    return int(year), int(month)


def _declared_record(person: DeclaredPerson) -> PartyRecord:
    """Matching record of a declared officer or owner."""
    year, month = declared_birth(person)
    if looks_like_company(person.name):
        return PartyRecord("entity", (person.name,), year, month)
    return PartyRecord("person", (person.name,), year, month)


def _register_person_record(person: NaturalPersonOfficer | BeneficialOwner) -> PartyRecord:
    """Matching record of a register person, under every spelling it may be declared with."""
    names = person_names(person.last_name, person.first_names, person.usage_name)
    return PartyRecord("person", names, person.birth_year, person.birth_month)


def _officer_record(officer: Officer) -> PartyRecord:
    """Matching record of an RNE officer (companies by SIREN)."""
    if isinstance(officer, LegalEntityOfficer):
        return PartyRecord("entity", (officer.name,), siren=officer.siren)
    return _register_person_record(officer)


def _display_name(person: NaturalPersonOfficer | BeneficialOwner) -> str:
    """All first names then the birth name, as the register lists them."""
    return " ".join((*person.first_names, person.last_name))


def _with_declared(
    register: Sourced[V] | None, declared_value: V | None, declared: Provenance | None
) -> Sourced[V] | None:
    """Add the declaration to a register value it confirms; fill from it when the register is silent."""
    if declared is None or declared_value is None:
        return register
    if register is None:
        return _sourced(declared_value, declared)
    if register.value == declared_value:
        return register.model_copy(update={"provenance": (*register.provenance, declared)})
    return register


def _declared_party_fields(person: DeclaredPerson, prov: Provenance) -> dict[str, Any]:
    """Party fields of a declared person the register does not list."""
    year, month = declared_birth(person)
    return {
        "kind": "entity" if looks_like_company(person.name) else "person",
        "name": _sourced(person.name, prov),
        "birth_year": _sourced(year, prov),
        "birth_month": _sourced(month, prov),
        "nationality": _sourced(person.nationality, prov),
    }


def _register_party_fields(
    person: NaturalPersonOfficer | BeneficialOwner,
    prov: Provenance,
    declared: DeclaredPerson | None,
    declared_prov: Provenance,
    score: float | None,
) -> dict[str, Any]:
    """Party fields of a register person, confirmed by the declaration where it agrees."""
    d_year, d_month = declared_birth(declared) if declared else (None, None)
    d_prov = declared_prov if declared else None
    fields: dict[str, Any] = {
        "kind": "person",
        "name": _sourced(_display_name(person), prov),
        "birth_year": _with_declared(_sourced(person.birth_year, prov), d_year, d_prov),
        "birth_month": _with_declared(_sourced(person.birth_month, prov), d_month, d_prov),
        "nationality": _with_declared(
            _sourced(person.nationality_code or person.nationality, prov),
            declared.nationality if declared else None,
            d_prov,
        ),
        "match_score": round(score, 4) if score is not None else None,
    }
    if declared is not None:
        fields["name"] = fields["name"].model_copy(update={"provenance": (prov, declared_prov)})
        if not same_name(declared.name, _display_name(person), "person"):
            fields["declared_name"] = _sourced(declared.name, declared_prov)
    return fields


def _officer_drafts(
    declared: EntityCustomer, inputs: _Inputs, declared_prov: Provenance, matcher: NamesMatch
) -> list[_Draft]:
    """Register officers, matched with the declared ones; declared officers the register lacks."""
    register = list(inputs.rne.officers) if inputs.rne else []
    prov = inputs.of(SourceName.RNE) if inputs.rne else None
    wanted = list(declared.declared_officers)
    pairs, near = pair_up(
        [_declared_record(p) for p in wanted], [_officer_record(o) for o in register], matcher
    )
    by_register = {j: (i, m) for i, (j, m) in pairs.items()}
    drafts: list[_Draft] = []
    for j, officer in enumerate(register):
        assert prov is not None
        i, found = by_register.get(j, (None, None))
        person = wanted[i] if i is not None else None
        record = _officer_record(officer)
        if person is not None:
            record = PartyRecord(
                record.kind, (*record.names, person.name), record.birth_year, record.birth_month, record.siren
            )
        if isinstance(officer, LegalEntityOfficer):
            fields: dict[str, Any] = {
                "kind": "entity",
                "name": _sourced(officer.name, prov, *((declared_prov,) if person else ())),
                "siren": _sourced(officer.siren, prov),
                "match_score": round(found.name_score, 4) if found else None,
            }
            if person is not None and not same_name(person.name, officer.name):
                fields["declared_name"] = _sourced(person.name, declared_prov)
        else:
            fields = _register_party_fields(
                officer, prov, person, declared_prov, found.name_score if found else None
            )
        fields["role_code"] = _sourced(officer.role_code, prov)
        fields["role"] = _with_declared(
            _sourced(officer.role_label, prov),
            person.role if person else None,
            declared_prov if person else None,
        )
        drafts.append(_Draft(record, fields))
    for i, person in enumerate(wanted):
        if i in pairs:
            continue
        fields = _declared_party_fields(person, declared_prov)
        fields["role"] = _sourced(person.role, declared_prov)
        draft = _Draft(_declared_record(person), fields)
        if inputs.rne is not None:
            details: dict[str, Any] = {"declared": person.name}
            if (other := near[i]) is not None:
                details["same_name_other_birth"] = other.birth_agrees is False
            draft.issues.append(
                (
                    ConflictCode.DECLARED_OFFICER_NOT_IN_REGISTER,
                    "a declared officer is not among the legal representatives in the RNE",
                    (SourceName.DECLARED, SourceName.RNE),
                    details,
                )
            )
        drafts.append(draft)
    return drafts


def _group_register_owners(
    owners: Sequence[BeneficialOwner], matcher: NamesMatch
) -> list[list[BeneficialOwner]]:
    """Entries of the same person grouped: registers sometimes list one owner under two declarations."""
    groups: list[list[BeneficialOwner]] = []
    for owner in owners:
        record = _register_person_record(owner)
        for group in groups:
            if compare_parties(record, _register_person_record(group[0]), matcher).matched:
                group.append(owner)
                break
        else:
            groups.append([owner])
    return groups


def _owner_draft(
    group: Sequence[BeneficialOwner],
    prov: Provenance,
    declared: DeclaredPerson | None,
    declared_prov: Provenance,
    score: float | None,
) -> _Draft:
    """One register owner (all its entries), confirmed or contradicted by the declaration."""
    first = group[0]
    fields = _register_party_fields(first, prov, declared, declared_prov, score)
    shares = sorted({o.ownership_pct for o in group if o.ownership_pct is not None})
    votes = [o.voting_pct for o in group if o.voting_pct is not None]
    modes = tuple(dict.fromkeys(m for o in group for m in o.control_modes))
    indirect = [o.indirect_ownership_pct for o in group if o.indirect_ownership_pct is not None]
    record = _register_person_record(first)
    if declared is not None:
        record = PartyRecord("person", (*record.names, declared.name), record.birth_year, record.birth_month)
    draft = _Draft(record, fields)
    owned = _sourced(shares[-1] if shares else None, prov)
    pct = declared.ownership_pct if declared is not None else None
    if declared is not None and pct is not None:
        if owned is None:
            owned = _sourced(pct, declared_prov)
        elif agreeing := [s for s in shares if abs(s - pct) <= OWNER_PCT_TOLERANCE]:
            closest = min(agreeing, key=lambda s: abs(s - pct))
            owned = Sourced[float](value=closest, provenance=(prov, declared_prov))
        else:
            draft.issues.append(
                (
                    ConflictCode.OWNER_PERCENTAGE_MISMATCH,
                    "the declared share of a beneficial owner differs from the register",
                    (SourceName.DECLARED, prov.source),
                    {
                        "declared_pct": declared.ownership_pct,
                        "register_pct": shares,
                        "tolerance": OWNER_PCT_TOLERANCE,
                    },
                )
            )
    if len(shares) > 1:
        draft.issues.append(
            (
                ConflictCode.REGISTER_OWNER_DUPLICATED,
                "the register lists the same beneficial owner several times with different shares",
                (prov.source,),
                {"register_pct": shares},
            )
        )
    fields.update(
        ownership_pct=owned,
        voting_pct=_sourced(max(votes) if votes else None, prov),
        indirect=_sourced(any(v > 0 for v in indirect), prov) if indirect else None,
        control_types=_sourced(modes, prov),
        residence_country=_sourced(first.residence_country_code, prov),
    )
    return draft


def _owner_drafts(
    declared: EntityCustomer, inputs: _Inputs, declared_prov: Provenance, matcher: NamesMatch
) -> list[_Draft]:
    """Register owners matched with the declared ones; checked only when the register could be read."""
    wanted = list(declared.declared_beneficial_owners)
    owners = inputs.owners
    readable = owners is not None and owners.availability is not BeneficialOwnersAvailability.NOT_AVAILABLE
    groups = _group_register_owners(owners.owners, matcher) if owners is not None else []
    prov = inputs.of(inputs.owners_source) if inputs.owners_source else None
    pairs, near = pair_up(
        [_declared_record(p) for p in wanted], [_register_person_record(g[0]) for g in groups], matcher
    )
    by_register = {j: (i, m) for i, (j, m) in pairs.items()}
    drafts: list[_Draft] = []
    for j, group in enumerate(groups):
        assert prov is not None
        i, found = by_register.get(j, (None, None))
        person = wanted[i] if i is not None else None
        draft = _owner_draft(group, prov, person, declared_prov, found.name_score if found else None)
        if person is None:
            draft.issues.append(
                (
                    ConflictCode.REGISTER_OWNER_NOT_DECLARED,
                    "the register lists a beneficial owner the customer did not declare",
                    (prov.source, SourceName.DECLARED),
                    {"register": _display_name(group[0])},
                )
            )
        drafts.append(draft)
    for i, person in enumerate(wanted):
        if i in pairs:
            continue
        fields = _declared_party_fields(person, declared_prov)
        fields["ownership_pct"] = _sourced(person.ownership_pct, declared_prov)
        draft = _Draft(_declared_record(person), fields)
        if readable:
            assert prov is not None
            details: dict[str, Any] = {"declared": person.name}
            if (other := near[i]) is not None:
                details["same_name_other_birth"] = other.birth_agrees is False
            draft.issues.append(
                (
                    ConflictCode.DECLARED_OWNER_NOT_IN_REGISTER,
                    "a declared beneficial owner is not in the register of beneficial owners",
                    (SourceName.DECLARED, prov.source),
                    details,
                )
            )
        drafts.append(draft)
    return drafts


def _assign_keys(drafts: Sequence[_Draft], matcher: NamesMatch) -> None:
    """Same key for the same party across roles (an officer who is also an owner); stable in input order."""
    known: list[tuple[str, PartyRecord]] = []
    persons = entities = 0
    for draft in drafts:
        for key, record in known:
            if compare_parties(draft.record, record, matcher).matched:
                draft.key = key
                break
        else:
            if draft.record.kind == "entity":
                entities += 1
                draft.key = f"E{entities}"
            else:
                persons += 1
                draft.key = f"P{persons}"
            known.append((draft.key, draft.record))


def _party_conflicts(drafts: Iterable[_Draft]) -> list[Conflict]:
    """Conflicts of every party, now that each has its key."""
    return [
        Conflict(code=code, explanation=text, sources=sources, party_key=d.key, details=details)
        for d in drafts
        for code, text, sources, details in d.issues
    ]


def ownership_depth(
    owners: Sequence[ResolvedOwner],
    owners_provenance: Provenance | None,
    linked: Sequence[ResolvedEntity],
) -> Sourced[int] | None:
    """Levels between the company and its ultimate natural-person owners.

    1 when every registered owner holds directly; 2 when one holds through an interposed legal
    entity (RBE indirect share); for a holding resolved too (passed in `linked`), 1 + its own depth.
    The deepest chain wins. None when neither the register nor a resolved holding tells.
    """
    candidates: list[tuple[int, tuple[Provenance, ...]]] = []
    registered = [o for o in owners if o.in_register]
    if registered and owners_provenance is not None:
        indirect = any(o.indirect is not None and o.indirect.value for o in registered)
        candidates.append((2 if indirect else 1, (owners_provenance,)))
    for holding in linked:
        if holding.ownership_depth is not None:
            candidates.append((1 + holding.ownership_depth.value, holding.ownership_depth.provenance))
    if not candidates:
        return None
    depth = max(c[0] for c in candidates)
    provenance = tuple(dict.fromkeys(p for d, provs in candidates if d == depth for p in provs))
    return Sourced[int](value=depth, provenance=provenance)


# --------------------------------------------------------------------------------------------
# Entry points


def _inputs(
    declared: EntityCustomer,
    sirene: Company | None,
    rne: RneRecord | None,
    owners: BeneficialOwnersResult | None,
    bodacc: Sequence[BodaccNotice] | None,
    fetched_at: Mapping[str, datetime],
    snapshot_hashes: Mapping[str, str],
    source_timestamps: Mapping[str, datetime],
) -> tuple[_Inputs, list[Conflict]]:
    """Set aside sources that answered for another SIREN, pick the owner source, build each testimony."""
    answered = _siren_checks(declared, sirene, rne, owners, bodacc)
    conflicts = _identity_conflicts(declared, answered)
    foreign = {s for s, v in answered.items() if v != declared.siren}
    sirene = None if SourceName.SIRENE in foreign else sirene
    rne = None if SourceName.RNE in foreign else rne
    owners = None if SourceName.RBE in foreign else owners
    bodacc = None if SourceName.BODACC in foreign else bodacc
    owners_source = SourceName.RBE if owners is not None else None
    if owners is None and rne is not None:
        # The RNE record carries the same block; use it rather than report the owners as unknown.
        owners, owners_source = rne.beneficial_owners, SourceName.RNE
    derived: dict[SourceName, datetime | None] = {
        SourceName.RNE: source_time(rne.updated_at) if rne else None,
        SourceName.BODACC: source_time(
            max((n.publication_date for n in bodacc or () if n.publication_date), default=None)
        ),
    }
    present = {
        SourceName.SIRENE: sirene is not None,
        SourceName.RNE: rne is not None,
        SourceName.RBE: owners_source is SourceName.RBE,
        SourceName.BODACC: bodacc is not None,
        SourceName.DECLARED: True,
    }
    provenance = {
        s: _provenance(s, fetched_at, snapshot_hashes, source_timestamps, derived.get(s))
        for s, used in present.items()
        if used
    }
    inputs = _Inputs(
        provenance, sirene, rne, owners, owners_source, tuple(bodacc) if bodacc is not None else None
    )
    return inputs, conflicts


def resolve_entity(
    declared: EntityCustomer,
    *,
    sirene: Company | None = None,
    rne: RneRecord | None = None,
    owners: BeneficialOwnersResult | None = None,
    bodacc: Sequence[BodaccNotice] | None = None,
    fetched_at: Mapping[str, datetime] | None = None,
    snapshot_hashes: Mapping[str, str] | None = None,
    source_timestamps: Mapping[str, datetime] | None = None,
    linked: Mapping[str, ResolvedEntity] | None = None,
    now: datetime,
    matcher: NamesMatch = names_match,
) -> ResolvedEntity:
    """Consolidate one legal entity; a source passed as None was not consulted and is listed as missing.

    :param declared: the customer's declaration (SIREN, name, officers, beneficial owners).
    :param sirene: the Sirene legal unit, with its establishments when fetched.
    :param rne: the RNE record (company, officers, and its beneficial-owner block).
    :param owners: the RBE answer; when None, the RNE record's own block is used (source "rne").
    :param bodacc: every BODACC notice fetched for the SIREN ([] = consulted, nothing published).
    :param fetched_at: per source name ("sirene", "rne", "rbe", "bodacc", "declared"), when it was fetched.
    :param snapshot_hashes: per source name, the content hash of the stored raw answer.
    :param source_timestamps: per source name, the source's own timestamp when the model lacks it
        (Sirene `dateDernierTraitementUniteLegale`, see :func:`sirene_last_processed`); RNE `updatedAt`
        and BODACC publication dates are read from the models.
    :param linked: resolved holdings acting as officers, by SIREN, to measure the ownership chain.
    :param now: the resolution time (aware).
    :param matcher: name similarity used to match people across sources.
    """
    now = _aware(now, "now")
    fetched_at = fetched_at or {}
    snapshot_hashes = snapshot_hashes or {}
    inputs, conflicts = _inputs(
        declared, sirene, rne, owners, bodacc, fetched_at, snapshot_hashes, source_timestamps or {}
    )
    declared_prov = inputs.of(SourceName.DECLARED)
    companies = _companies(inputs)
    siren = Sourced[str](
        value=declared.siren,
        provenance=(declared_prov, *(p for c, p in companies)),
    )
    legal_name = _agreed(((c.legal_name, p) for c, p in companies), key=lambda n: name_tokens(n, "entity"))
    conflicts += _name_conflicts(declared, legal_name, inputs, matcher)
    heads = _head_offices(inputs)
    naf = _agreed((c.naf_code, p) for c, p in companies)
    category = _agreed((c.legal_category_code, p) for c, p in companies)
    head_status = [(e.status is AdministrativeStatus.ACTIVE, p) for e, p in heads if e.status is not None]
    events: tuple[LegalEvent, ...] = ()
    proceeding: Sourced[bool] | None = None
    if inputs.notices is not None:
        bodacc_prov = inputs.of(SourceName.BODACC)
        events = legal_events(inputs.notices, declared.siren, bodacc_prov)
        current = open_proceeding(events)
        proceeding = Sourced[bool](
            value=current is not None, provenance=current.provenance if current else (bodacc_prov,)
        )
        if current is not None:
            conflicts.append(
                _conflict(
                    ConflictCode.COLLECTIVE_PROCEEDING_OPEN,
                    "a collective proceeding (safeguard, receivership or liquidation) is open",
                    [SourceName.BODACC],
                    notice_id=current.notice_id,
                    kind=current.kind.value,
                    judgment_date=current.judgment_date.isoformat() if current.judgment_date else None,
                )
            )
    status, status_conflicts = _status(inputs, events)
    conflicts += status_conflicts
    officer_drafts = _officer_drafts(declared, inputs, declared_prov, matcher)
    owner_drafts = _owner_drafts(declared, inputs, declared_prov, matcher)
    _assign_keys([*officer_drafts, *owner_drafts], matcher)
    conflicts += _party_conflicts([*officer_drafts, *owner_drafts])
    officers = tuple(ResolvedOfficer(key=d.key, **d.fields) for d in officer_drafts)
    owners_resolved = tuple(ResolvedOwner(key=d.key, **d.fields) for d in owner_drafts)
    owners_prov = inputs.of(inputs.owners_source) if inputs.owners_source else None
    holdings = [
        (linked or {})[o.siren.value]
        for o in officers
        if o.kind == "entity" and o.siren and o.siren.value in (linked or {})
    ]
    return ResolvedEntity(
        siren=siren,
        head_office_siret=_agreed((e.siret, p) for e, p in heads),
        sirets=_sirets(inputs),
        legal_name=legal_name,
        declared_name=Sourced[str](value=declared.declared_name, provenance=(declared_prov,)),
        acronym=_agreed((c.acronym, p) for c, p in companies),
        legal_category=_sourced(
            LegalCategory(code=category.value, label=legal_label(companies, category.value)),
            *category.provenance,
        )
        if category
        else None,
        head_office_address=_agreed(((e.address, p) for e, p in heads), key=_address_key),
        head_office_active=_agreed(head_status),
        activity=_sourced(Activity(code=naf.value), *naf.provenance) if naf else None,
        status=status,
        cessation_date=_agreed((c.cessation_date, p) for c, p in companies),
        creation_date=_agreed((c.creation_date, p) for c, p in companies),
        officers=officers,
        beneficial_owners=owners_resolved,
        beneficial_owners_availability=_sourced(inputs.owners.availability, owners_prov)
        if inputs.owners is not None and owners_prov is not None
        else None,
        ownership_depth=ownership_depth(owners_resolved, owners_prov, holdings),
        legal_events=events,
        collective_proceeding_open=proceeding,
        conflicts=tuple(conflicts),
        source_provenance=dict(inputs.provenance),
        missing_sources=tuple(
            s
            for s in (SourceName.SIRENE, SourceName.RNE, SourceName.RBE, SourceName.BODACC)
            if s not in inputs.provenance
        ),
        resolved_at=now,
    )


def legal_label(companies: Sequence[tuple[Company, Provenance]], code: str) -> str | None:
    """Label of a legal category code from the first source that gives one."""
    return next(
        (
            c.legal_category_label
            for c, _ in companies
            if c.legal_category_code == code and c.legal_category_label
        ),
        None,
    )


def resolve_person(
    declared: PersonCustomer,
    *,
    declared_at: datetime | None = None,
    snapshot_hash: str | None = None,
    now: datetime,
) -> ResolvedPerson:
    """A natural-person customer as declared; screening adds its findings elsewhere."""
    prov = Provenance(
        source=SourceName.DECLARED,
        snapshot_hash=snapshot_hash,
        fetched_at=_aware(declared_at, "declared_at") if declared_at is not None else None,
    )
    return ResolvedPerson(
        name=Sourced[str](value=declared.name, provenance=(prov,)),
        birth_date=Sourced[date](value=declared.birth_date, provenance=(prov,)),
        nationality=Sourced[str](value=declared.nationality, provenance=(prov,)),
        residence_country=Sourced[str](value=declared.residence_country, provenance=(prov,)),
        occupation=_sourced(declared.occupation, prov),
        pep_declared=Sourced[bool](value=declared.pep_declared, provenance=(prov,)),
        pep_category=_sourced(declared.pep_category, prov),
        expected_patrimony_eur=_sourced(declared.expected_patrimony_eur, prov),
        monthly_volume_eur=_sourced(declared.monthly_volume_eur, prov),
        resolved_at=now,
    )
