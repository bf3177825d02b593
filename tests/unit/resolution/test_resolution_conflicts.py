"""Each typed conflict: raised when the sources disagree, silent when they agree."""

from __future__ import annotations

import pytest
from kyc_core.resolution import ConflictCode, EntityStatus, SourceName, resolve_entity
from kyc_core.sources.models import (
    AdministrativeStatus,
    BeneficialOwnersResult,
    BodaccKind,
    BodaccNoticeType,
    RneRecord,
)
from resolution_testkit import NOW, OTHER_SIREN, SIREN, company, customer, notice, officer, owner


def rne_record(officers=(), owners=None, **company_fields) -> RneRecord:
    """An RNE record for SIREN with the given officers and beneficial-owner answer."""
    return RneRecord(
        company=company("rne", **company_fields),
        officers=tuple(officers),
        beneficial_owners=owners or BeneficialOwnersResult.not_available(company_fields.get("siren", SIREN)),
    )


def codes(entity) -> tuple[ConflictCode, ...]:
    """Conflict codes of a resolution, in order."""
    return entity.conflict_codes


@pytest.mark.parametrize("declared", ["Kanta", "KANTA SAS", "kanta s.a.s.", "Kantâ", "KT", "Kanta Lab"])
def test_declared_name_matching_a_register_name_raises_nothing(declared):
    unit = company(
        acronym="KT", head_office=company().head_office.model_copy(update={"trade_name": "Kanta Lab"})
    )
    entity = resolve_entity(customer(name=declared), sirene=unit, now=NOW)
    assert codes(entity) == ()


def test_declared_name_different_from_the_register_is_flagged_with_both_names():
    entity = resolve_entity(customer(name="Kanta Technologies"), sirene=company(), now=NOW)
    assert codes(entity) == (ConflictCode.DECLARED_NAME_MISMATCH,)
    conflict = entity.conflicts[0]
    assert conflict.details["declared"] == "Kanta Technologies"
    assert conflict.details["register"] == "KANTA"
    assert 0.3 < conflict.details["similarity"] < 0.8
    assert conflict.sources == (SourceName.DECLARED, SourceName.SIRENE)


def test_declared_name_is_not_judged_without_a_register():
    entity = resolve_entity(customer(name="Anything At All"), now=NOW)
    assert codes(entity) == ()
    assert entity.legal_name is None


def test_sirene_and_rne_legal_names_disagreeing_is_flagged_and_sirene_wins():
    entity = resolve_entity(
        customer(), sirene=company(name="KANTA"), rne=rne_record(name="CANTA INNOVATION"), now=NOW
    )
    assert ConflictCode.REGISTER_NAMES_DISAGREE in codes(entity)
    assert entity.legal_name.value == "KANTA"
    assert entity.legal_name.sources == (SourceName.SIRENE,)
    conflict = next(c for c in entity.conflicts if c.code is ConflictCode.REGISTER_NAMES_DISAGREE)
    assert conflict.details["sirene"] == "KANTA" and conflict.details["rne"] == "CANTA INNOVATION"


def test_a_source_answering_for_another_siren_is_flagged_and_set_aside():
    foreign = rne_record(officers=[officer("MARTIN", ("Jacques",), 1970, 1)], siren=OTHER_SIREN)
    entity = resolve_entity(customer(), sirene=company(), rne=foreign, now=NOW)
    assert codes(entity) == (ConflictCode.SIREN_MISMATCH,)
    assert entity.conflicts[0].details == {"declared": SIREN, "answered": {"rne": OTHER_SIREN}}
    assert entity.officers == ()
    assert SourceName.RNE in entity.missing_sources


def test_a_declared_siret_of_another_company_is_a_siren_mismatch():
    entity = resolve_entity(customer(siret="55203253400646"), sirene=company(), now=NOW)
    assert codes(entity) == (ConflictCode.SIREN_MISMATCH,)
    assert entity.conflicts[0].details["siret"] == "55203253400646"


def test_bodacc_notices_about_other_companies_only_are_a_mismatch():
    other = notice("A1", BodaccKind.LIQUIDATION, "2025-01-10", sirens=(OTHER_SIREN,))
    entity = resolve_entity(customer(), sirene=company(), bodacc=[other], now=NOW)
    assert codes(entity) == (ConflictCode.SIREN_MISMATCH,)
    assert entity.legal_events == ()
    assert entity.collective_proceeding_open is None


def test_declared_officer_missing_from_the_rne_is_flagged_only_when_the_rne_answered():
    declared = customer(declared_officers=[{"name": "Jacques Martin", "birth_month": "1970-01"}])
    registered = rne_record(officers=[officer("DURAND", ("Marie",), 1980, 5)])
    entity = resolve_entity(declared, rne=registered, now=NOW)
    assert codes(entity) == (ConflictCode.DECLARED_OFFICER_NOT_IN_REGISTER,)
    martin = next(o for o in entity.officers if o.key == entity.conflicts[0].party_key)
    assert martin.name.value == "Jacques Martin" and martin.sources == (SourceName.DECLARED,)
    without_rne = resolve_entity(declared, sirene=company(), now=NOW)
    assert codes(without_rne) == ()
    assert [o.sources for o in without_rne.officers] == [(SourceName.DECLARED,)]


def _owners(*entries) -> BeneficialOwnersResult:
    """A register answer listing these owners."""
    return BeneficialOwnersResult.declared(SIREN, list(entries))


def test_declared_owner_absent_and_register_owner_undeclared_are_both_flagged():
    entity = resolve_entity(
        customer(
            declared_beneficial_owners=[
                {"name": "Paul Girard", "birth_month": "1960-03", "ownership_pct": 60}
            ]
        ),
        owners=_owners(owner("LEROY", ("Anne",), 1975, 2, 60.0)),
        now=NOW,
    )
    assert codes(entity) == (
        ConflictCode.REGISTER_OWNER_NOT_DECLARED,
        ConflictCode.DECLARED_OWNER_NOT_IN_REGISTER,
    )
    undeclared, absent = entity.conflicts
    assert undeclared.details == {"register": "Anne LEROY"}
    assert absent.details == {"declared": "Paul Girard"}
    assert undeclared.party_key != absent.party_key


def test_declared_owner_against_a_register_with_nobody_is_flagged():
    entity = resolve_entity(
        customer(declared_beneficial_owners=[{"name": "Paul Girard", "ownership_pct": 30}]),
        owners=BeneficialOwnersResult.none_declared(SIREN),
        now=NOW,
    )
    assert codes(entity) == (ConflictCode.DECLARED_OWNER_NOT_IN_REGISTER,)


@pytest.mark.parametrize(
    ("declared_pct", "flagged"), [(40.0, True), (61.5, True), (60.5, False), (60.0, False)]
)
def test_owner_percentage_differences_beyond_one_point_are_flagged(declared_pct, flagged):
    entity = resolve_entity(
        customer(
            declared_beneficial_owners=[
                {"name": "Anne Leroy", "birth_month": "1975-02", "ownership_pct": declared_pct}
            ]
        ),
        owners=_owners(owner("LEROY", ("Anne",), 1975, 2, 60.0)),
        now=NOW,
    )
    assert codes(entity) == ((ConflictCode.OWNER_PERCENTAGE_MISMATCH,) if flagged else ())
    (anne,) = entity.beneficial_owners
    assert anne.ownership_pct.value == 60.0
    expected = (SourceName.RBE,) if flagged else (SourceName.RBE, SourceName.DECLARED)
    assert anne.ownership_pct.sources == expected
    if flagged:
        assert entity.conflicts[0].details["declared_pct"] == declared_pct
        assert entity.conflicts[0].details["register_pct"] == [60.0]


def test_ceased_company_is_flagged_ceased():
    entity = resolve_entity(
        customer(), sirene=company(status=AdministrativeStatus.CEASED), bodacc=[], now=NOW
    )
    assert codes(entity) == (ConflictCode.COMPANY_CEASED,)
    assert entity.status.value is EntityStatus.CEASED


def test_a_register_reporting_ceased_wins_over_one_reporting_active():
    entity = resolve_entity(
        customer(), sirene=company(), rne=rne_record(status=AdministrativeStatus.CEASED), now=NOW
    )
    assert entity.status.value is EntityStatus.CEASED
    assert entity.status.sources == (SourceName.RNE,)


def test_striking_off_while_the_register_says_active_is_flagged_but_status_stays_active():
    radiation = notice("B1", BodaccKind.STRIKING_OFF, "2025-03-01")
    entity = resolve_entity(customer(), sirene=company(), bodacc=[radiation], now=NOW)
    assert entity.status.value is EntityStatus.ACTIVE
    assert codes(entity) == (ConflictCode.COMPANY_STRUCK_OFF,)
    assert entity.conflicts[0].details["register_status"] == "active"


def test_striking_off_with_one_register_ceased_is_struck_off_even_if_another_says_active():
    radiation = notice("B1", BodaccKind.STRIKING_OFF, "2025-03-01")
    entity = resolve_entity(
        customer(),
        sirene=company(),
        rne=rne_record(status=AdministrativeStatus.CEASED),
        bodacc=[radiation],
        now=NOW,
    )
    assert entity.status.value is EntityStatus.STRUCK_OFF
    assert entity.status.sources == (SourceName.BODACC, SourceName.RNE)
    assert codes(entity) == (ConflictCode.COMPANY_STRUCK_OFF,)


def test_open_collective_proceeding_is_flagged_and_a_closure_ends_it():
    opening = notice(
        "A1",
        BodaccKind.RECEIVERSHIP,
        "2025-01-10",
        judgment_nature="Jugement d'ouverture d'une procédure de redressement judiciaire",
        judgment_date="2025-01-05",
    )
    sale = notice("A2", BodaccKind.SALE, "2025-02-10")
    entity = resolve_entity(customer(), sirene=company(), bodacc=[opening, sale], now=NOW)
    assert codes(entity) == (ConflictCode.COLLECTIVE_PROCEEDING_OPEN,)
    assert entity.conflicts[0].details["kind"] == "receivership"
    assert entity.collective_proceeding_open.value is True
    assert entity.collective_proceeding_open.provenance[0].record_id == "A1"
    assert [e.notice_id for e in entity.legal_events] == ["A2", "A1"]
    closure = notice(
        "A3",
        BodaccKind.LIQUIDATION,
        "2025-06-01",
        judgment_nature="Jugement de clôture pour insuffisance d'actif",
        judgment_date="2025-05-20",
    )
    closed = resolve_entity(customer(), sirene=company(), bodacc=[opening, sale, closure], now=NOW)
    assert closed.collective_proceeding_open.value is False
    assert ConflictCode.COLLECTIVE_PROCEEDING_OPEN not in codes(closed)


def test_cancelled_notices_are_not_legal_events():
    opening = notice("A202501010001", BodaccKind.LIQUIDATION, "2025-01-10")
    cancellation = notice(
        "A202501200002",
        BodaccKind.LIQUIDATION,
        "2025-01-20",
        notice_type=BodaccNoticeType.CANCELLATION,
        corrects_notice_id="A202501010001",
    )
    entity = resolve_entity(customer(), sirene=company(), bodacc=[opening, cancellation], now=NOW)
    assert entity.legal_events == ()
    assert entity.collective_proceeding_open.value is False
    assert codes(entity) == ()


def test_conflict_codes_and_explanations_carry_no_names():
    entity = resolve_entity(
        customer(
            name="Zebulon Trading",
            declared_officers=[{"name": "Jacques Martin"}],
            declared_beneficial_owners=[{"name": "Paul Girard", "ownership_pct": 10}],
        ),
        sirene=company(),
        rne=rne_record(officers=[officer("DURAND", ("Marie",), 1980, 5)]),
        owners=_owners(owner("LEROY", ("Anne",), 1975, 2, 60.0)),
        now=NOW,
    )
    assert len(entity.conflicts) == 4
    for conflict in entity.conflicts:
        text = f"{conflict.code} {conflict.explanation}".lower()
        for name in ("zebulon", "martin", "girard", "leroy", "durand", "kanta"):
            assert name not in text
