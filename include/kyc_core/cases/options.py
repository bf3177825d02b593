"""What a reviewer may answer, kept import-light: Airflow reads it when it parses the DAG file.

Two kinds of review:

- **four eyes** (`edd_required`, `reject`): two different reviewers each `Confirm` or `Overturn` the proposed
  outcome. Both confirm: it is final. Any overturn: a senior reviewer decides (`Approve`, `EDD required`,
  `Reject`), so a disagreement never ends as a silent open case.
- **single** (`review`: a possible match, a source that could not be consulted, a declared name that is not the
  registered one): one reviewer decides the outcome (`Approve`, `EDD required`, `Reject`).
"""

from __future__ import annotations

CONFIRM = "Confirm"
OVERTURN = "Overturn"
FOUR_EYES_OPTIONS = [CONFIRM, OVERTURN]
APPROVE = "Approve"
EDD_REQUIRED = "EDD required"
REJECT = "Reject"
DECISION_OPTIONS = [APPROVE, EDD_REQUIRED, REJECT]
#: The outcome a decision option stands for.
OUTCOME_OF = {APPROVE: "approve", EDD_REQUIRED: "edd_required", REJECT: "reject"}
#: Stages: 1 and 2 are the two reviewers of a four-eyes review (1 alone for a single review), 3 the senior.
SENIOR_STAGE = 3
#: A reviewer's rationale is part of the record: shorter answers are refused.
MIN_RATIONALE = 5


def options_for(kind: str, stage: int) -> list[str]:
    """The options of one review stage: confirm/overturn for the two four-eyes reviewers, an outcome otherwise."""
    return FOUR_EYES_OPTIONS if kind == "four_eyes" and stage < SENIOR_STAGE else DECISION_OPTIONS

#: Each open hit of the decision (strongest first, at most `MAX_FORM_HITS`) is one question of the form, under the
#: key `hit_<hit id>`: leave it undecided, or judge it (`kyc_core.cases.judging` says what a judgement does).
HIT_PARAM_PREFIX = "hit_"
UNDECIDED = "undecided"
HIT_CHOICES = [UNDECIDED, "false_positive", "true_match"]
HIT_CHOICE_LABELS = {UNDECIDED: "Undecided", "false_positive": "False positive", "true_match": "True match"}
MAX_FORM_HITS = 20


def hit_param(hit_id: int) -> str:
    """The form field of one hit."""
    return f"{HIT_PARAM_PREFIX}{hit_id}"


def hit_id_of(key: str) -> int | None:
    """The hit a form field is about, or None for any other field."""
    digits = key.removeprefix(HIT_PARAM_PREFIX)
    return int(digits) if key.startswith(HIT_PARAM_PREFIX) and digits.isdigit() else None
