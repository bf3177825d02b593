"""What a reviewer may answer, kept import-light: Airflow reads it when it parses the DAG file."""

from __future__ import annotations

CONFIRM = "Confirm"
OVERTURN = "Overturn"
REVIEW_OPTIONS = [CONFIRM, OVERTURN]
#: A reviewer's rationale is part of the record: shorter answers are refused.
MIN_RATIONALE = 5
