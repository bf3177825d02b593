"""The candidate index never hides a hit that brute force finds, in either direction."""

from __future__ import annotations

import random

import pytest
from kyc_core.screening.compare import Thresholds
from kyc_core.screening.index import CustomerIndex, FuzzyVocabulary, Screener, brute_force_screen
from kyc_core.screening.model import ListedParty, Subject

GIVEN = [
    "muhammad",
    "ali",
    "hassan",
    "vladimir",
    "sergei",
    "jean",
    "marie",
    "kim",
    "abdul",
    "fatima",
    "ivan",
    "olga",
    "pierre",
    "ahmad",
    "yusuf",
    "omar",
    "li",
    "wei",
    "jong",
    "nikolai",
]
FAMILY = [
    "putin",
    "lavrov",
    "al-assad",
    "dupont",
    "martin",
    "bin laden",
    "kadyrov",
    "jong un",
    "haqqani",
    "rahman",
    "ivanov",
    "petrov",
    "nazarbayev",
    "smith",
    "al-tikriti",
    "zhang wei",
    "abdurrahman",
]
ORG = ["Trading", "Holding", "Bank", "Shipping", "Petroleum", "Industries"]
FORMS = ["LLC", "GmbH", "SA", "OOO", "JSC", "Ltd", ""]


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4 or rng.random() < 0.5:
        return word
    i = rng.randrange(1, len(word) - 1)
    choice = rng.randrange(3)
    if choice == 0:
        return word[:i] + rng.choice("aeioukrstn") + word[i + 1 :]
    if choice == 1:
        return word[:i] + word[i + 1 :]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def _person(rng: random.Random) -> str:
    words = [_typo(rng, rng.choice(GIVEN)) for _ in range(rng.randint(0, 2))] + [
        _typo(rng, rng.choice(FAMILY))
    ]
    roll = rng.random()
    if roll < 0.15:
        return f"{words[-1].upper()}, {' '.join(words[:-1]).title()}"
    if roll < 0.25 and len(words) > 1:
        return f"{words[0][0].upper()}. {' '.join(words[1:])}"
    if roll < 0.3:
        return "".join(words)
    return " ".join(words)


def _organisation(rng: random.Random) -> str:
    return f"{_typo(rng, rng.choice(FAMILY)).title()} {rng.choice(ORG)} {rng.choice(FORMS)}".strip()


def _entries(rng: random.Random, count: int) -> list[ListedParty]:
    out = []
    for number in range(count):
        type_ = rng.choice(["person", "person", "person", "organization", "vessel", "unknown"])
        if type_ == "organization":
            names = (_organisation(rng),)
        elif type_ == "vessel":
            names = (f"{rng.choice(FAMILY).title()} {rng.randint(1, 5)}",)
        else:
            names = tuple(_person(rng) for _ in range(rng.randint(1, 3)))
        out.append(
            ListedParty(
                "test",
                str(number),
                type_,
                names,
                birth_dates=(str(rng.randint(1950, 1990)),) if rng.random() < 0.4 else (),
                countries=(rng.choice(["RU", "IQ", "FR"]),) if rng.random() < 0.4 else (),
                identifiers=(f"P{rng.randint(1000, 1030)}",) if rng.random() < 0.2 else (),
            )
        )
    return out


def _subjects(rng: random.Random, count: int) -> list[Subject]:
    out = []
    for number in range(count):
        type_ = rng.choice(["person", "person", "organization", "unknown"])
        name = _organisation(rng) if type_ == "organization" else _person(rng)
        out.append(
            Subject(
                f"S{number}",
                (name,),
                type_,
                birth_dates=(str(rng.randint(1950, 1990)),) if rng.random() < 0.4 else (),
                countries=(rng.choice(["RU", "IQ", "FR"]),) if rng.random() < 0.3 else (),
                identifiers=(f"P{rng.randint(1000, 1030)}",) if rng.random() < 0.1 else (),
            )
        )
    return out


def _keyed(hits) -> list[tuple[str, str, str, float]]:
    return [(h.subject_key, h.list_key, h.entry_id, round(h.score, 9)) for h in hits]


@pytest.fixture(scope="module")
def world():
    rng = random.Random(20260401)
    return _entries(rng, 250), _subjects(rng, 160)


@pytest.mark.parametrize("review", [0.55, 0.4])
def test_indexed_screening_returns_exactly_the_brute_force_hits(world, review):
    entries, subjects = world
    thresholds = Thresholds(review=review, match=0.7)
    screener = Screener(entries, thresholds)
    total = 0
    for subject in subjects:
        expected = _keyed(brute_force_screen(subject, entries, thresholds))
        assert _keyed(screener.screen(subject)) == expected, subject.names
        total += len(expected)
    # The generated world must produce hits, or the comparison proves nothing.
    assert total > 40


def test_customer_index_finds_every_subject_brute_force_finds(world):
    entries, subjects = world
    index = CustomerIndex(subjects)
    for entry in entries[:120]:
        expected = sorted(
            (h.subject_key, round(h.score, 9))
            for subject in subjects
            for h in brute_force_screen(subject, [entry])
        )
        got = sorted((h.subject_key, round(h.score, 9)) for h in index.screen_entry(entry))
        assert got == expected, entry.names


def test_index_prunes_most_entries(world):
    entries, subjects = world
    screener = Screener(entries)
    from kyc_core.screening.index import _as_party_from_subject

    sizes = [len(screener.index.candidates(_as_party_from_subject(s), 0.55)) for s in subjects[:50]]
    assert sum(sizes) / len(sizes) < len(entries) / 5


def test_hits_are_ordered_by_score_with_explanations():
    entries = [
        ListedParty("un_sc", "1", "person", ("Sergey Viktorovich LAVROV",), ("1950-03-21",)),
        ListedParty("eu_fsf", "2", "person", ("Sergei Lavrov",)),
        ListedParty("ofac_sdn", "3", "vessel", ("Sergei Lavrov",)),
    ]
    hits = Screener(entries).screen(Subject("c1", ("Sergei Lavrov",), "person", ("1950",)))
    assert [h.entry_id for h in hits] == ["2", "1"]
    assert hits[0].score >= hits[1].score
    assert hits[0].verdict == "match"
    assert hits[1].explanation["birth_date"]["detail"] == "year"
    assert hits[0].to_dict()["list"] == "eu_fsf"


def test_identifier_alone_brings_a_candidate():
    entries = [ListedParty("ofac_sdn", "9", "person", ("Completely Different",), identifiers=("AB-123456",))]
    hits = Screener(entries, Thresholds(review=0.2, match=0.7)).screen(
        Subject("c1", ("Other Person",), "person", identifiers=("ab123456",))
    )
    assert [h.entry_id for h in hits] == ["9"]
    assert hits[0].explanation["identifier"]["detail"] == "identical"


def test_fuzzy_vocabulary_returns_every_string_within_the_similarity():
    from rapidfuzz.distance import OSA

    rng = random.Random(5)
    words = ["".join(rng.choice("abcdehiklmnorstu") for _ in range(rng.randint(1, 14))) for _ in range(3000)]
    vocab = FuzzyVocabulary(words)
    for query in words[:200]:
        for threshold in (0.6, 0.75, 0.8):
            found = set(vocab.search(query, threshold).tolist())
            needed = {i for i, w in enumerate(words) if OSA.normalized_similarity(query, w) >= threshold}
            assert needed <= found
