"""Deciding whether two records describe the same person or company: name matcher plus birth agreement."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from kyc_core.screening.compare import compare_names
from kyc_core.screening.normalize import ORGANIZATION, PERSON, analyze_name

PartyKind = Literal["person", "entity"]

#: Name score at or above which two records may be the same party. The matcher scores an exact
#: name about 0.92 and a spelling variant ("Dupont"/"Dupond") about 0.86, while a different given
#: name with the same surname falls near 0.23, so 0.80 keeps variants and reorderings only.
NAME_MATCH_THRESHOLD = 0.80

#: How two names are compared: similarity in [0, 1]; swappable for tests or another matcher.
NamesMatch = Callable[[str, str, PartyKind], float]


def names_match(a: str, b: str, kind: PartyKind = "person") -> float:
    """Similarity of two names by the screening matcher (case, accents, order, script and legal form ignored)."""
    return compare_names(a, b, ORGANIZATION if kind == "entity" else PERSON).score


def name_tokens(name: str, kind: PartyKind) -> tuple[str, ...]:
    """The identity-bearing tokens of a name, legal form, case and accents removed."""
    return analyze_name(name, ORGANIZATION if kind == "entity" else PERSON).texts


def same_name(a: str, b: str, kind: PartyKind = "entity") -> bool:
    """True when two names reduce to the same tokens ("Ganymède SAS" and "GANYMEDE")."""
    tokens = name_tokens(a, kind)
    return bool(tokens) and tokens == name_tokens(b, kind)


def looks_like_company(name: str) -> bool:
    """A declared name carrying a legal form (SAS, SARL, GmbH, ...) is taken for a company."""
    return analyze_name(name).legal_form is not None


def person_names(
    last_name: str, first_names: Sequence[str] = (), usage_name: str | None = None
) -> tuple[str, ...]:
    """The spellings a register person may be declared under: usual first name or all of them, birth or usage name."""
    lasts = [n for n in dict.fromkeys((last_name, usage_name)) if n]
    candidates: list[str] = []
    for last in lasts:
        if first_names:
            candidates.append(f"{first_names[0]} {last}")
            if len(first_names) > 1:
                candidates.append(" ".join((*first_names, last)))
        else:
            candidates.append(last)
    return tuple(dict.fromkeys(candidates))


def births_compatible(
    year_a: int | None, month_a: int | None, year_b: int | None, month_b: int | None
) -> bool | None:
    """False when known birth years (or months of the same year) differ; None when one side lacks a year."""
    if year_a is None or year_b is None:
        return None
    if year_a != year_b:
        return False
    if month_a is not None and month_b is not None and month_a != month_b:
        return False
    return True


@dataclass(frozen=True)
class PartyRecord:
    """What matching needs from one record, whatever its source."""

    kind: PartyKind
    names: tuple[str, ...]
    birth_year: int | None = None
    birth_month: int | None = None
    siren: str | None = None


@dataclass(frozen=True)
class PartyMatch:
    """Outcome of comparing two records."""

    matched: bool
    name_score: float
    #: None when a birth date was missing on one side, so only the name could be compared.
    birth_agrees: bool | None


def compare_parties(a: PartyRecord, b: PartyRecord, matcher: NamesMatch = names_match) -> PartyMatch:
    """Same party when SIRENs agree, or names match and birth dates do not contradict each other."""
    if a.siren and b.siren:
        same = a.siren == b.siren
        return PartyMatch(same, 1.0 if same else 0.0, None)
    birth = births_compatible(a.birth_year, a.birth_month, b.birth_year, b.birth_month)
    kind: PartyKind = "entity" if "entity" in (a.kind, b.kind) else "person"
    score = max((matcher(x, y, kind) for x in a.names for y in b.names), default=0.0)
    return PartyMatch(birth is not False and score >= NAME_MATCH_THRESHOLD, score, birth)


def pair_up(
    left: Sequence[PartyRecord], right: Sequence[PartyRecord], matcher: NamesMatch = names_match
) -> tuple[dict[int, tuple[int, PartyMatch]], list[PartyMatch | None]]:
    """One-to-one pairing, best name scores first: {left index: (right index, match)}.

    Also returns, for each left record left unpaired, its closest rejected candidate (e.g. same name
    but another birth year), so an analyst sees why it was not paired.
    """
    candidates: list[tuple[float, int, int, PartyMatch]] = []
    near: list[PartyMatch | None] = [None] * len(left)
    for i, a in enumerate(left):
        for j, b in enumerate(right):
            found = compare_parties(a, b, matcher)
            if found.matched:
                candidates.append((found.name_score, i, j, found))
            elif found.name_score >= NAME_MATCH_THRESHOLD and (
                (best := near[i]) is None or found.name_score > best.name_score
            ):
                near[i] = found
    pairs: dict[int, tuple[int, PartyMatch]] = {}
    used: set[int] = set()
    for _, i, j, found in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        if i in pairs or j in used:
            continue
        pairs[i] = (j, found)
        used.add(j)
    return pairs, [None if i in pairs else near[i] for i in range(len(left))]
