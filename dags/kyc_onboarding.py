"""
### KYC onboarding

Onboards one customer or a small batch submitted through the REST API or the trigger form, and decides
for each: **approve**, **review**, **edd_required** or **reject**.

**Conf** (`customers`: a list): each item has `customer` (a natural person: `kind: person`, name, birth date,
nationality, residence country, occupation, declared PEP status and category, expected patrimony or monthly
volume; or a legal entity: `kind: entity`, SIREN, declared name, declared officers and beneficial owners),
`segment` (`cgp`, `fintech`, `asset_mgmt`), `channel` and an optional `external_ref`.

**Stages**
1. `validate_request`: the conf is checked field by field (SIREN/SIRET Luhn key, dates, ISO country codes, names
   without markup or control characters). An invalid request fails here, naming the field, with an
   `input_rejected` audit event and nothing else written.
2. `register_customers`: each customer is stored once (re-running changes nothing).
3. For each customer (`customer` group, one mapped instance per customer, labelled with its reference), every
   stage in the pool `kyc_assessment`; each stores what it found in the KYC database and passes ids only, so a
   cleared stage re-runs from what the stages before it stored (clearing `score_edd` re-scores with no register
   call):
   - `fetch_sirene`, `fetch_rne`, `fetch_rbe`, `fetch_bodacc` (in parallel, `FetchRegistryDataOperator`, each
     behind its circuit breaker). **A register that does not answer is visible in the grid**: its task goes
     up for retry once, then **fails** (red) while the assessment goes on and fails closed. A person has no
     register (skipped); a register the segment's policy buys only when warranted is skipped here.
   - `resolve_entity`: one consolidated entity with provenance (runs whatever the fetches ended with).
   - `screen_parties`: the customer, every officer and beneficial owner against the active OFAC, EU and UN lists.
   - `score_edd`: the EDD score (geography, PEP/sanctions, activity, structure) under the segment's policy.
   - `buy_paid_sources`: the optional paid registers, when the first score and the month's budget allow; then
     resolution, screening and score again with them.
   - `decide`: the proposed decision with its reasons, documents to request and next review date. A mandatory
     source that could not be consulted gives `review` (`source_unavailable`), never `approve`.
     **Its return value is the decision** (`outcome`, `status`: `final` or `pending_review`, `review_run_id`).
   - `notify`: e-mail to compliance for `edd_required`, `reject` and strong sanctions hits.
   - `open_review`: a decision that needs a person (`review`, `edd_required`, `reject`) starts its own
     `kyc_case_review` run (`case__<decision id>`); this run ends with the proposed decision, so a pending
     review never holds another customer's onboarding.

Every stage is an audit event. Logs identify customers by id only; explain any decision with
`kyc case show <decision or customer id>`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, get_current_context, task, task_group
from kyc_airflow.defaults import DEFAULT_ARGS, NO_RETRY, START_DATE
from kyc_airflow.notifiers.deadline import decision_deadline_alert
from kyc_airflow.operators.registry import FetchRegistryDataOperator
from kyc_airflow.operators.review import OpenCaseReviewOperator
from kyc_core.customers.request import form_params_schema, trigger_item_schema
from kyc_core.monitoring.deadlines import decision_deadline

#: The example the trigger form starts from: a company the demo's source emulator knows (clean register record).
_EXAMPLE_SIREN, _EXAMPLE_NAME = "798550281", "SIMON TRANSPORTS"
_EXAMPLE = [
    {"customer": {"kind": "entity", "siren": _EXAMPLE_SIREN, "declared_name": _EXAMPLE_NAME}, "segment": "cgp", "channel": "ui"}
]
_FORM_DEFAULTS = {"kind": None, "pep_declared": False, "segment": "cgp"}


@dag(
    dag_id="kyc_onboarding",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    # Assessments are limited by the `kyc_assessment` pool, not by runs: many customers may be in flight.
    max_active_runs=64,
    # Later stages first (a task weighs as much as the tasks before it): under a backlog the runs in progress reach
    # their decision before new runs take the slots; Airflow's default ("downstream") would start every queued run's
    # first stages before any run decides.
    default_args={**DEFAULT_ARGS, "weight_rule": "upstream"},
    # A run that has not proposed its decisions by the policies' `decision_sla.initial_assessment_minutes`
    # e-mails compliance (the final decision has its own deadline, on kyc_case_review).
    deadline=decision_deadline_alert(decision_deadline(stage="initial")),
    tags=["kyc", "onboarding"],
    doc_md=__doc__,
    params={
        **{name: Param(_FORM_DEFAULTS.get(name), **schema) for name, schema in form_params_schema().items()},
        "customers": Param(
            _EXAMPLE,
            type="array",
            minItems=1,
            items=trigger_item_schema(),
            title="Customers (batch)",
            description="Used when Kind is empty: one or more customers (the REST API's form; validated again, field by "
                        "field, by the first task).",
        ),
    },
    render_template_as_native_obj=True,
)
def kyc_onboarding():
    @task(**NO_RETRY)
    def validate_request(params=None) -> int:
        from kyc_airflow.tasks.onboarding import request_conf
        from kyc_airflow.tasks.onboarding import validate_request as run

        context = get_current_context()
        return run(request_conf(params, context), context)

    @task
    def register_customers(params=None) -> list[str]:
        from kyc_airflow.tasks.onboarding import register_customers as run
        from kyc_airflow.tasks.onboarding import request_conf

        context = get_current_context()
        return run(request_conf(params, context), context)

    @task_group(group_id="customer")
    def per_customer(customer_id: str):
        # One task per register, in parallel, each behind its breaker; the grid shows which one did not answer.
        fetches = [
            FetchRegistryDataOperator(
                task_id=f"fetch_{source}", customer_id=customer_id, sources=[source], pool="kyc_assessment",
                map_index_template="{{ customer_label }}", retries=1, retry_delay=timedelta(seconds=15),
                on_failure_callback=[],
            )
            for source in ("sirene", "rne", "rbe", "bodacc")
        ]

        # A register that did not answer leaves its task failed; the assessment goes on and fails closed.
        @task(pool="kyc_assessment", map_index_template="{{ customer_label }}", trigger_rule="all_done")
        def resolve_entity(customer_id: str) -> dict:
            from kyc_airflow.tasks.onboarding import run_stage

            return run_stage(customer_id, "resolve", get_current_context())

        @task(pool="kyc_assessment", map_index_template="{{ customer_label }}")
        def screen_parties(customer_id: str) -> dict:
            from kyc_airflow.tasks.onboarding import run_stage

            return run_stage(customer_id, "screen", get_current_context())

        @task(pool="kyc_assessment", map_index_template="{{ customer_label }}")
        def score_edd(customer_id: str) -> dict:
            from kyc_airflow.tasks.onboarding import run_stage

            return run_stage(customer_id, "score", get_current_context())

        @task(pool="kyc_assessment", map_index_template="{{ customer_label }}")
        def buy_paid_sources(customer_id: str) -> dict:
            from kyc_airflow.tasks.onboarding import run_stage

            return run_stage(customer_id, "paid", get_current_context())

        @task(pool="kyc_assessment", map_index_template="{{ customer_label }}")
        def decide(customer_id: str) -> dict:
            from kyc_airflow.tasks.onboarding import decide as run

            return run(customer_id, get_current_context())

        @task(map_index_template="{{ customer_label }}")
        def notify(summary: dict) -> bool:
            from kyc_airflow.tasks.onboarding import notify as run

            return run(summary, get_current_context())

        resolved = resolve_entity(customer_id)
        fetches >> resolved
        screened = screen_parties(customer_id)
        scored = score_edd(customer_id)
        paid = buy_paid_sources(customer_id)
        summary = decide(customer_id)
        resolved >> screened >> scored >> paid >> summary
        notify(summary)
        OpenCaseReviewOperator(task_id="open_review", assessment=summary)

    registered = register_customers()
    validate_request() >> registered
    per_customer.expand(customer_id=registered)


kyc_onboarding()
