"""House defaults shared by the DAG files (kept import-light: DAG files load this at parse time)."""

from __future__ import annotations

from datetime import timedelta

import pendulum

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
OWNER = "kyc-compliance"

#: Tasks that call outside (database, registers, list downloads): retried with exponential backoff.
EXTERNAL_CALL = {
    "retries": 3,
    "retry_delay": timedelta(seconds=15),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}

#: Tasks that only judge their input: a retry cannot fix bad input.
NO_RETRY = {"retries": 0}

#: Human review tasks: a try that ends without a recorded answer (a refused answer, the KYC database down for
#: longer than the answer waits, a try the scheduler failed around the answer) asks the reviewer again.
REVIEW_TASK = {
    "retries": 5,
    "retry_delay": timedelta(seconds=10),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}


def _notify_failure(context) -> None:
    """E-mail on-call when a task fails for good (imported on failure only: DAG parsing stays light)."""
    from kyc_airflow.notifiers.failure import notify_failure

    notify_failure(context)


DEFAULT_ARGS = {"owner": OWNER, **EXTERNAL_CALL, "on_failure_callback": _notify_failure}
