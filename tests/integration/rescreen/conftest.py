"""Fixtures for list refresh and delta screening: the emulator, a migrated KYC database, fast guards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kyc_core.emulator import EmulatorConfig, start_emulator_in_thread
from kyc_core.emulator.dataset import Company, Person
from kyc_core.onboarding.customers import register_customer
from kyc_core.onboarding.request import DeclaredPerson, EntityCustomer, OnboardingCustomer
from kyc_core.rescreen.parties import iso2
from kyc_core.rescreen.sources import DEFAULT_LIST_KEYS, ListSource, resolve_source
from kyc_core.resilience import CallLedger, MemoryBackend, SourceGuard, load_source_config
from kyc_core.store.db import session_scope
from kyc_core.store.migrate import upgrade

#: Retries stay on, their backoff shrinks to milliseconds.
FAST_RETRIES = {"*": {"retry_initial_s": 0.01, "retry_max_s": 0.02}}


@pytest.fixture
def emulator() -> Iterator:
    with start_emulator_in_thread(config=EmulatorConfig(companies=300, quotas={})) as running:
        yield running


@pytest.fixture
def store(db_url: str) -> str:
    upgrade(db_url)
    return db_url


@pytest.fixture
def sources(emulator) -> dict[str, ListSource]:
    """The default lists, under the emulator's `/lists` base URL."""
    return {key: resolve_source(key, emulator.root + "/lists") for key in DEFAULT_LIST_KEYS}


@pytest.fixture
def make_guard(store: str):
    """Guards with their own breaker state per source, writing ledger rows to the test database."""
    backend = MemoryBackend()

    def make(source: str) -> SourceGuard:
        return SourceGuard(
            source, backend=backend, config=load_source_config(source, FAST_RETRIES), ledger=CallLedger(store)
        )

    return make


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
