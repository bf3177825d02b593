"""Beneficial owners: the three availability states stay apart, and the depth of the ownership chain."""

from __future__ import annotations

from kyc_core.resolution import SourceName, resolve_entity
from kyc_core.sources.models import (
    BeneficialOwnersAvailability,
    BeneficialOwnersResult,
    ControlMode,
    LegalEntityOfficer,
    RneRecord,
)
from resolution_testkit import NOW, SIREN, company, customer, owner

HOLDING = "887722262"
DECLARED = [{"name": "Anne Leroy", "birth_month": "1975-02", "ownership_pct": 60}]


def resolve(owners, declared=DECLARED, **kwargs):
    """Resolve the declared owners against this register answer."""
    return resolve_entity(
        customer(declared_beneficial_owners=declared), sirene=company(), owners=owners, now=NOW, **kwargs
    )


def test_not_available_none_declared_and_not_consulted_stay_distinct():
    hidden = resolve(BeneficialOwnersResult.not_available(SIREN))
    empty = resolve(BeneficialOwnersResult.none_declared(SIREN))
    unasked = resolve(None)
    assert hidden.beneficial_owners_availability.value is BeneficialOwnersAvailability.NOT_AVAILABLE
    assert empty.beneficial_owners_availability.value is BeneficialOwnersAvailability.NONE_DECLARED
    assert unasked.beneficial_owners_availability is None
    assert SourceName.RBE in unasked.missing_sources and SourceName.RBE not in hidden.missing_sources
    # Only a readable register can contradict the declaration.
    assert hidden.conflicts == () and unasked.conflicts == ()
    assert [c.code.value for c in empty.conflicts] == ["declared_owner_not_in_register"]
    for entity in (hidden, empty, unasked):
        assert [o.sources for o in entity.beneficial_owners] == [(SourceName.DECLARED,)]
        assert entity.beneficial_owners[0].ownership_pct.value == 60


def test_register_owner_details_percentages_and_control_types():
    listed = owner(
        "LEROY",
        ("Anne",),
        1975,
        2,
        60.0,
        voting_pct=65.0,
        residence_country_code="BEL",
        control_modes=(
            ControlMode(code="1", label="Détention de plus de 25% du capital ou du droit de vote"),
        ),
    )
    entity = resolve(BeneficialOwnersResult.declared(SIREN, [listed]))
    (anne,) = entity.beneficial_owners
    assert anne.ownership_pct.value == 60.0 and anne.voting_pct.value == 65.0
    assert [m.code for m in anne.control_types.value] == ["1"]
    assert anne.residence_country.value == "BEL"
    assert anne.indirect.value is False
    assert entity.ownership_depth.value == 1
    assert entity.ownership_depth.sources == (SourceName.RBE,)


def test_an_indirect_holding_means_two_levels():
    listed = owner("LEROY", ("Anne",), 1975, 2, 60.0, direct_ownership_pct=10.0, indirect_ownership_pct=50.0)
    entity = resolve(BeneficialOwnersResult.declared(SIREN, [listed]))
    assert entity.beneficial_owners[0].indirect.value is True
    assert entity.ownership_depth.value == 2


def test_a_resolved_holding_adds_its_own_depth():
    indirect = owner(
        "LEROY", ("Anne",), 1975, 2, 100.0, direct_ownership_pct=0.0, indirect_ownership_pct=100.0
    )
    holding = resolve_entity(
        customer(HOLDING, "TBLB"),
        sirene=company(siren=HOLDING, name="TBLB"),
        owners=BeneficialOwnersResult.declared(HOLDING, [indirect]),
        now=NOW,
    )
    assert holding.ownership_depth.value == 2
    record = RneRecord(
        company=company("rne"),
        officers=(LegalEntityOfficer(name="TBLB", siren=HOLDING, role_code="73"),),
        beneficial_owners=BeneficialOwnersResult.not_available(SIREN),
    )
    entity = resolve_entity(customer(), rne=record, linked={HOLDING: holding}, now=NOW)
    assert entity.linked_entities[0].siren.value == HOLDING
    assert entity.ownership_depth.value == 3
    assert entity.ownership_depth.sources == (SourceName.RBE,)
    assert entity.ownership_depth.provenance == holding.ownership_depth.provenance
    alone = resolve_entity(customer(), rne=record, now=NOW)
    assert alone.ownership_depth is None


def test_rbe_answer_wins_over_the_rne_block():
    record = RneRecord(
        company=company("rne"),
        beneficial_owners=BeneficialOwnersResult.declared(SIREN, [owner("LEROY", ("Anne",), 1975, 2, 60.0)]),
    )
    entity = resolve_entity(
        customer(), rne=record, owners=BeneficialOwnersResult.not_available(SIREN), now=NOW
    )
    assert entity.beneficial_owners_availability.value is BeneficialOwnersAvailability.NOT_AVAILABLE
    assert entity.beneficial_owners_availability.sources == (SourceName.RBE,)
    assert entity.beneficial_owners == ()
