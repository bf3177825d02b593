"""Operator fetching a company's register data (Sirene, RNE, RBE, BODACC) into the KYC database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

if TYPE_CHECKING:
    from kyc_core.registry import CompanyFetchResult, RegistryEndpoints

log = logging.getLogger(__name__)


class RegistrySourceUnusable(AirflowFailException):
    """A register refused this deployment's credentials or configuration: no retry can fix it."""


class RegistrySourceUnavailable(AirflowException):
    """A register could not answer now (outage, open breaker, spent quota): a later try may succeed."""


class RegistrySourceDown(AirflowFailException):
    """A register still unavailable on the last try of an assessment stage (the assessment fails closed)."""


class FetchRegistryDataOperator(BaseOperator):
    """
    Fetch one company from the French registers (Sirene, RNE, RBE, BODACC) behind their circuit breakers and
    snapshot the raw answers.

    Two uses:
    - **A stage of a customer's assessment** (`customer_id` and `sources`, as `kyc_onboarding` runs it: one task
      per register): the answers are stored as the assessment's fetch stage in this run, so the later stages
      (resolution, screening, score, decision) read them without asking again. A person has no register: the
      task is skipped. A register the segment's policy lists as optional and paid is skipped too: the
      `buy_paid_sources` stage buys it only when the first score and the month's budget allow.
    - **A standalone fetch** of a SIREN (`siren`), every register.

    Returns ids, counts and per-source statuses only (the data stays in the KYC database). A source
    refusing the credentials fails the task without retry. A source that is merely unavailable fails the
    try while Airflow retries remain. On the last try, a standalone fetch returns its summary with the source
    listed as unavailable; an assessment stage stores the source as unavailable and **fails** (red in the
    grid, no failure e-mail: the assessment goes on and decides `review` / `source_unavailable`).

    :param siren: SIREN of the company (standalone use). (templated)
    :param customer_id: KYC customer: the snapshots belong to it; without `siren`, the stage of its assessment
        in this run. (templated)
    :param sources: registers to ask (default all four).
    :param kyc_conn_id: connection of the KYC database.
    :param sirene_conn_id: connection of INSEE Sirene (password = API key).
    :param rne_conn_id: connection of INPI RNE (login/password); extra `rbe_entitled` marks an account
        entitled to beneficial owners.
    :param bodacc_conn_id: connection of BODACC (Opendatasoft).
    :param key_prefix: prefix of the shared breaker/limit/cache keys in Redis (one per environment).
    """

    template_fields: Sequence[str] = ("siren", "customer_id")
    ui_color = "#dbe9f6"

    def __init__(
        self,
        *,
        siren: str | None = None,
        customer_id: str | None = None,
        sources: Sequence[str] | None = None,
        kyc_conn_id: str = "kyc_db",
        sirene_conn_id: str = "kyc_sirene",
        rne_conn_id: str = "kyc_rne",
        bodacc_conn_id: str = "kyc_bodacc",
        key_prefix: str = "kyc:",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if siren is None and customer_id is None:
            raise ValueError("FetchRegistryDataOperator needs a siren or a customer_id")
        self.siren = siren
        self.customer_id = customer_id
        self.sources = list(sources) if sources is not None else None
        self.kyc_conn_id = kyc_conn_id
        self.sirene_conn_id = sirene_conn_id
        self.rne_conn_id = rne_conn_id
        self.bodacc_conn_id = bodacc_conn_id
        self.key_prefix = key_prefix

    def registry_endpoints(self) -> RegistryEndpoints:
        """Base URLs and credentials from the three source connections."""
        from kyc_airflow.hooks.sources import registry_endpoints

        return registry_endpoints(self.sirene_conn_id, self.rne_conn_id, self.bodacc_conn_id)

    def execute(self, context: Any) -> dict[str, Any]:
        if self.siren is None:
            return self._assessment_stage(context)
        return self._standalone(context)

    def _assessment_stage(self, context: Any) -> dict[str, Any]:
        """Fetch these registers as a stage of the customer's assessment in this run."""
        from airflow.sdk.exceptions import AirflowSkipException

        from kyc_airflow.tasks.onboarding import run_stage

        sources = self.sources or ["sirene", "rne", "rbe", "bodacc"]
        result = run_stage(str(self.customer_id), "fetch", context, sources=sources)
        if "decided" in result:
            raise AirflowSkipException(f"this run already decided for the customer ({result['decided']})")
        statuses = result["sources"]
        log.info("registers: %s", ", ".join(f"{s}={v}" for s, v in statuses.items()))
        if all(v == "not_applicable" for v in statuses.values()):
            raise AirflowSkipException("a person: no register to ask")
        if all(v == "deferred" for v in statuses.values()):
            raise AirflowSkipException("optional paid register for this segment: buy_paid_sources decides")
        down = [s for s, v in statuses.items() if v in ("unavailable", "infrastructure_unavailable")]
        why = ("Redis (shared breaker and cache state) unavailable: register(s) {} not asked"
               if any(statuses[s] == "infrastructure_unavailable" for s in down) else "register(s) {} unavailable")
        if down and self._retries_left(context):
            raise RegistrySourceUnavailable(f"{why.format(', '.join(down))}; asked again on the next try")
        if down:
            raise RegistrySourceDown(
                f"{why.format(', '.join(down))} on the last try: the assessment decides review (source_unavailable "
                "or infrastructure_unavailable) and its case review asks again with backoff"
            )
        return result

    def _standalone(self, context: Any) -> dict[str, Any]:
        from kyc_core.errors import StoreUnavailable, UserError
        from kyc_core.registry import fetch_company
        from kyc_core.resilience import CallContext
        from kyc_core.settings import get_settings

        from kyc_airflow.runtime import actor_for, kyc_database_url, run_id_of

        try:
            result = asyncio.run(
                fetch_company(
                    str(self.siren).strip(),
                    sources=self.sources,
                    endpoints=self.registry_endpoints(),
                    database_url=kyc_database_url(self.kyc_conn_id),
                    redis_url=get_settings().redis_url,
                    key_prefix=self.key_prefix,
                    context=CallContext(run_id=run_id_of(context), task_id=self.task_id),
                    customer_id=self.customer_id or None,
                    actor=actor_for(context),
                )
            )
        except StoreUnavailable:
            # The database may come back: let Airflow retry.
            raise
        except UserError as exc:
            # A SIREN failing its check stays invalid on every retry.
            raise AirflowFailException(str(exc)) from None
        summary = result.summary()
        for source, status in summary["sources"].items():
            log.info(
                "source=%s status=%s error=%s cached=%s snapshots=%s",
                source,
                status["status"],
                status["error"],
                status["from_cache"],
                status["snapshot_ids"],
            )
        self._raise_for(result, context)
        return summary

    def _raise_for(self, result: CompanyFetchResult, context: Any) -> None:
        """Fail without retry on unusable sources; fail for a retry on unavailable ones while tries remain."""
        if result.unusable:
            raise RegistrySourceUnusable(
                f"register(s) {', '.join(result.unusable)} refused the configured credentials or settings"
            )
        if result.transient and self._retries_left(context):
            raise RegistrySourceUnavailable(
                f"register(s) {', '.join(result.transient)} unavailable; snapshots of the others are stored"
            )
        if result.transient:
            log.warning(
                "register(s) %s still unavailable on the last try: reported for a fail-closed decision",
                ",".join(result.transient),
            )

    def _retries_left(self, context: Any) -> bool:
        """Whether Airflow will run another try after this one fails."""
        ti = context.get("ti")
        try_number = getattr(ti, "try_number", None) or 1
        return try_number <= (self.retries or 0)
