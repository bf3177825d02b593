"""The index's length-window search, per-record pre-bound and span caches never change what is found."""

from __future__ import annotations

import random

from kyc_core.screening.compare import Thresholds
from kyc_core.screening.index import FuzzyVocabulary, Screener, brute_force_screen
from kyc_core.screening.model import ListedParty, Subject
from rapidfuzz.distance import OSA

LETTERS = "abdehiklmnorstuy"


def _word(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(low, high)))


def _keyed(hits) -> list[tuple[str, str, str, float]]:
    return [(h.subject_key, h.list_key, h.entry_id, round(h.score, 9)) for h in hits]


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(len(word))
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + rng.choice(LETTERS) + word[i + 1 :]
    if kind == 1 and len(word) > 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + rng.choice(LETTERS) + word[i:]
    return word[: max(0, i - 1)] + word[i] + word[max(0, i - 1) : i] + word[i + 1 :]


def test_search_finds_every_close_string_for_unseen_queries():
    rng = random.Random(7)
    words = sorted({_word(rng, 1, 14) for _ in range(1500)})
    vocab = FuzzyVocabulary(words)
    checked = 0
    for _ in range(300):
        # Queries are mostly absent from the vocabulary (new customer tokens, joined words).
        query = _typo(rng, _typo(rng, rng.choice(words) + rng.choice(["", rng.choice(words)[:2]])))
        for threshold, limit in ((0.75, None), (0.8, 2), (0.6, None)):
            found = set(vocab.search(query, threshold, limit).tolist())
            needed = {
                i
                for i, w in enumerate(words)
                if (limit is None or abs(len(w) - len(query)) <= limit)
                and OSA.normalized_similarity(query, w) >= threshold
            }
            assert needed <= found, (query, threshold)
            checked += len(needed)
    assert checked > 300


def test_search_of_a_query_sharing_no_bigram_returns_nothing_when_bigrams_are_required():
    vocab = FuzzyVocabulary(["martin", "martine", "mardin", "dupont"])
    assert vocab.search("xxxxxxx", 0.8).tolist() == []
    assert sorted(vocab.search("martin", 0.8).tolist()) == [0, 1, 2]


def _spanned_world() -> tuple[list[ListedParty], list[Subject]]:
    """Entries whose tokens are reached through joined query words and acronyms, and customers sharing them."""
    entries = [
        ListedParty("t", "1", "person", ("Jeanmarie DUPONT",)),
        ListedParty("t", "2", "organization", ("JM Trading LLC",)),
        ListedParty("t", "3", "person", ("Jean Marie DUPONT",)),
        ListedParty("t", "4", "organization", ("Jean Martin Trading",)),
        ListedParty("t", "5", "person", ("Abdul Rahman AL-TIKRITI",)),
        ListedParty("t", "6", "person", ("Abdulrahman TIKRITI",), ("1961",)),
    ]
    names = [
        ("Jean Marie DUPONT", "person"),
        ("Jean Marie DUPOND", "person"),
        ("Jean Marie Martin", "person"),
        ("Jean Martin Trading", "organization"),
        ("JM Trading", "organization"),
        ("Jean Martin Trading SA", "organization"),
        ("Abdul Rahman TIKRITI", "person"),
        ("Abdulrahman AL TIKRITI", "person"),
        ("Abdul Rahmann TIKRITY", "person"),
        ("Marie DUPONT", "person"),
    ]
    subjects = [
        Subject(f"S{i}", (name,), type_, ("1961",) if i % 2 else ()) for i, (name, type_) in enumerate(names)
    ]
    return entries, subjects


def test_repeated_and_interleaved_screens_give_the_brute_force_hits():
    entries, subjects = _spanned_world()
    thresholds = Thresholds(review=0.4, match=0.7)
    screener = Screener(entries, thresholds)
    expected = {s.key: _keyed(brute_force_screen(s, entries, thresholds)) for s in subjects}
    # Twice over, forwards then backwards, so cached summaries are reused across customers.
    for subject in subjects + subjects[::-1]:
        assert _keyed(screener.screen(subject)) == expected[subject.key], subject.names
    assert sum(len(v) for v in expected.values()) >= 10


def test_a_threshold_at_the_best_score_still_finds_that_hit():
    entries, subjects = _spanned_world()
    reached = 0
    for subject in subjects:
        best = brute_force_screen(subject, entries, Thresholds(review=0.05, match=0.99))
        if not best:
            continue
        # The bounds must hold with no slack: a threshold equal to the true best score.
        thresholds = Thresholds(review=best[0].score, match=0.99)
        expected = _keyed(brute_force_screen(subject, entries, thresholds))
        assert _keyed(Screener(entries, thresholds).screen(subject)) == expected, subject.names
        reached += 1
    assert reached == len(subjects)
