"""Analyst judgements applied to new screening results.

A "false positive" judgement on (subject, list entry) suppresses later hits of that pair only while
the listed entry is unchanged: a new alias, birth date or identifier published for the entry changes
its content hash and the hit comes back for a fresh review (the regulator expects re-assessment when
the designation changes). The latest judgement of a pair wins; judgements are never edited. Analysts give them in
the review form or with `kyc judge` (`kyc_core.cases.judging` holds the rules, `kyc_core.store.judgements` writes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kyc_core.screening.model import Hit, Judgement

FALSE_POSITIVE = "false_positive"
TRUE_MATCH = "true_match"
VERDICTS = (FALSE_POSITIVE, TRUE_MATCH)


@dataclass(frozen=True, slots=True)
class JudgedHits:
    """Hits split by what earlier judgements say about them."""

    open: list[Hit]
    suppressed: list[Hit]
    # Hits whose pair was judged before, on another version of the entry: shown again for review.
    stale: list[Hit]


def latest_judgements(judgements: Iterable[Judgement]) -> dict[tuple[str, str, str], Judgement]:
    """The last judgement given per (subject, list, entry), in input (chronological) order."""
    latest: dict[tuple[str, str, str], Judgement] = {}
    for judgement in judgements:
        if judgement.verdict not in VERDICTS:
            raise ValueError(f"unknown judgement verdict {judgement.verdict!r}")
        latest[(judgement.subject_key, judgement.list_key, judgement.entry_id)] = judgement
    return latest


def apply_judgements(hits: Iterable[Hit], judgements: Iterable[Judgement]) -> JudgedHits:
    """Suppress hits judged false positives on the same entry content; everything else stays open."""
    latest = latest_judgements(judgements)
    open_hits: list[Hit] = []
    suppressed: list[Hit] = []
    stale: list[Hit] = []
    for hit in hits:
        judgement = latest.get((hit.subject_key, hit.list_key, hit.entry_id))
        if judgement is None:
            open_hits.append(hit)
        elif judgement.entry_hash != hit.content_hash:
            stale.append(hit)
            open_hits.append(hit)
        elif judgement.verdict == FALSE_POSITIVE:
            suppressed.append(hit)
        else:
            open_hits.append(hit)
    return JudgedHits(open_hits, suppressed, stale)
