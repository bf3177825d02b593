"""Fixtures for delta screening: customers registered from the emulator's dataset (shared ones: ../conftest.py)."""

from __future__ import annotations

import pytest
from kyc_core.countries import iso2
from kyc_core.customers.registration import register_customer
from kyc_core.customers.request import DeclaredPerson, EntityCustomer, OnboardingCustomer
from kyc_core.store.db import session_scope
from kyc_dev.emulator.dataset import Company, Person


def _declared(person: Person, role: str | None = None) -> DeclaredPerson:
    """How a customer declares a person: given names then surname, birth month, nationality."""
    return DeclaredPerson(
        name=" ".join([*person.first_names, person.last_name]),
        birth_month=person.birth_ym,
        nationality=iso2(person.nationality_code),
        role=role,
    )


@pytest.fixture
def register(store: str):
    """Onboard a dataset company as an entity customer declaring its officers and owners; its customer id."""

    def run(company: Company, *, with_people: bool = True) -> str:
        officers = [_declared(o.person, o.role_code) for o in company.officers if o.person is not None]
        owners = [_declared(b.person) for b in company.beneficial_owners]
        item = OnboardingCustomer(
            customer=EntityCustomer(
                siren=company.siren,
                declared_name=company.name,
                declared_officers=officers if with_people else [],
                declared_beneficial_owners=owners if with_people else [],
            ),
            segment="cgp",
            external_ref=f"T-{company.siren}",
        )
        with session_scope(store) as session:
            return register_customer(session, item, actor="test", run_id=None).customer_id

    return run
