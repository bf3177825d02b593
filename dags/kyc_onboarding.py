"""
### KYC onboarding

Onboards one customer or a small batch submitted through the REST API or the trigger form.

**Conf** (`customers`: a list): each item has `customer` (a natural person: `kind: person`, name, birth date,
nationality, residence country, occupation, declared PEP status; or a legal entity: `kind: entity`, SIREN,
declared name, declared officers and beneficial owners), `segment` (`cgp`, `fintech`, `asset_mgmt`), `channel`
and an optional `external_ref`.

**Stages**
1. `validate_request`: the conf is checked field by field (SIREN/SIRET Luhn key, dates, ISO country codes).
   An invalid request fails here, naming the field, with an `input_rejected` audit event and nothing else written.
2. `register_customers`: each customer is stored once (re-running the run changes nothing) with a
   `customer_registered` audit event.

Logs identify customers by id only. Decisions are recorded in the KYC database (`kyc case show`).
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from kyc_airflow.defaults import DEFAULT_ARGS, NO_RETRY, START_DATE
from kyc_core.onboarding.request import trigger_item_schema

_EXAMPLE = [
    {
        "customer": {"kind": "entity", "siren": "552100554", "declared_name": "Example SA"},
        "segment": "cgp",
        "channel": "ui",
    }
]


@dag(
    dag_id="kyc_onboarding",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=8,
    default_args=DEFAULT_ARGS,
    tags=["kyc", "onboarding"],
    doc_md=__doc__,
    params={
        "customers": Param(
            _EXAMPLE,
            type="array",
            minItems=1,
            items=trigger_item_schema(),
            title="Customers",
            description="One or more customers to onboard (validated again, field by field, by the first task).",
        )
    },
    render_template_as_native_obj=True,
)
def kyc_onboarding():
    @task(**NO_RETRY)
    def validate_request(params=None) -> int:
        from kyc_airflow.tasks.onboarding import validate_request as run

        return run({"customers": params["customers"]}, get_current_context())

    @task
    def register_customers(params=None) -> list[str]:
        from kyc_airflow.tasks.onboarding import register_customers as run

        return run({"customers": params["customers"]}, get_current_context())

    validate_request() >> register_customers()


kyc_onboarding()
