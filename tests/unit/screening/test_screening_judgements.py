"""Analyst judgements suppress a hit only while the listed entry is unchanged."""

from __future__ import annotations

import pytest
from kyc_core.screening.judgements import FALSE_POSITIVE, TRUE_MATCH, apply_judgements
from kyc_core.screening.model import Hit, Judgement


def _hit(subject: str, entry: str, content_hash: str) -> Hit:
    return Hit(subject, "ofac_sdn", entry, "ALI Hassan", "Ali Hassan", 0.81, "match", {}, content_hash)


def test_false_positive_suppresses_the_same_entry_version():
    result = apply_judgements(
        [_hit("c1", "100", "h1")], [Judgement("c1", "ofac_sdn", "100", "h1", FALSE_POSITIVE)]
    )
    assert result.open == []
    assert [h.entry_id for h in result.suppressed] == ["100"]


def test_a_changed_entry_brings_the_hit_back_for_review():
    result = apply_judgements(
        [_hit("c1", "100", "h2")], [Judgement("c1", "ofac_sdn", "100", "h1", FALSE_POSITIVE)]
    )
    assert [h.entry_id for h in result.open] == ["100"]
    assert [h.entry_id for h in result.stale] == ["100"]
    assert result.suppressed == []


def test_judgement_applies_to_its_subject_and_entry_only():
    hits = [_hit("c1", "100", "h1"), _hit("c2", "100", "h1"), _hit("c1", "200", "h1")]
    result = apply_judgements(hits, [Judgement("c1", "ofac_sdn", "100", "h1", FALSE_POSITIVE)])
    assert [(h.subject_key, h.entry_id) for h in result.open] == [("c2", "100"), ("c1", "200")]


def test_latest_judgement_wins():
    judgements = [
        Judgement("c1", "ofac_sdn", "100", "h1", FALSE_POSITIVE),
        Judgement("c1", "ofac_sdn", "100", "h1", TRUE_MATCH),
    ]
    result = apply_judgements([_hit("c1", "100", "h1")], judgements)
    assert [h.entry_id for h in result.open] == ["100"]
    assert result.suppressed == []


def test_unknown_verdict_is_refused():
    with pytest.raises(ValueError, match="unknown judgement verdict"):
        apply_judgements([], [Judgement("c1", "ofac_sdn", "100", "h1", "maybe")])
