"""Pairwise matching: small pure feature functions combined by a weighted, versioned algorithm.

A comparison aligns the tokens of two names without regard to order, measures how well the aligned
tokens agree and how much is left over on each side, then lets birth dates, countries, identifiers,
legal forms and entity types corroborate or contradict. Every feature reports its value and its
contribution so an analyst can see why a score is what it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from rapidfuzz.distance import OSA

from kyc_core.screening.normalize import (
    GENERIC,
    INITIAL,
    NUMBER,
    ORGANIZATION,
    PERSON,
    STOP,
    UNKNOWN,
    WORD,
    NameForm,
    Token,
    analyze_name,
    consonant_skeleton,
    loose_form,
    split_alternates,
)

#: Changes whenever a change to this module can change a score; stored with every decision.
MATCHER_VERSION = "kyc-matcher-2.0"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Score cut-offs: at or above `match` a hit is a match, at or above `review` it goes to an analyst."""

    review: float
    match: float

    def verdict(self, score: float) -> str:
        """match, review or no_match for a score."""
        if score >= self.match:
            return "match"
        if score >= self.review:
            return "review"
        return "no_match"


#: Defaults used when no policy file supplies thresholds (the policy configuration overrides them).
DEFAULT_THRESHOLDS = Thresholds(review=0.55, match=0.70)


@dataclass(frozen=True, slots=True)
class MatcherConfig:
    """Weights of the scoring algorithm; each is documented where it acts."""

    # Identity weight of each token kind: a particle or an initial says little about who someone is.
    kind_weights: tuple[tuple[str, float], ...] = (
        (WORD, 1.0),
        (GENERIC, 0.6),
        (STOP, 0.2),
        (INITIAL, 0.3),
        (NUMBER, 0.3),
    )
    # Below this similarity two tokens are not aligned at all (a substitution of the token).
    align_min: float = 0.75
    # Above this similarity an aligned pair is a plain spelling variant, below it a doubtful one.
    variant_sim: float = 0.8
    # How many matched tokens one substituted token cancels: names that differ by a whole token
    # (a different father's name, another clan) are different people.
    conflict_cost: float = 3.0
    # Cost of a doubtful pair, per unit of similarity below `variant_sim`.
    doubt_cost: float = 6.0
    # Cost of a token present on one side only: missing middle names are common for people,
    # an extra word in an organisation name often means a different company.
    extra_cost_person: float = 0.2
    extra_cost_org: float = 0.8
    # Similarity given to an initial that agrees with the first letter of a full token.
    initial_sim: float = 0.9
    # Similarity given to an acronym spelled by the first letters of aligned tokens.
    acronym_sim: float = 0.9
    # Similarity of an organisation's last word cut off by a fixed-width field with the full word
    # (JOINT STOCK COMPAN, ... CAPI), when at least `truncated_min` letters are left.
    truncated_sim: float = 0.8
    truncated_min: int = 3
    # Small deduction when the words appear in another order without a "SURNAME, Given" comma.
    order_penalty: float = 0.03
    # Father's name on one side used as the own name on the other: father and son, not one person.
    patronymic_swap_penalty: float = 0.3
    # Scale of a name-only score: exact names land below 1.0, richer names a little higher.
    name_floor: float = 0.90
    name_richness: float = 0.06
    richness_tokens: float = 3.0
    # Qualifier contributions (added to the name part; ranges checked in the features).
    dob_match_day: float = 0.05
    dob_match_month: float = 0.035
    dob_match_year: float = 0.025
    # Birth years two or more apart: most likely another person, but lists do err, so review stays possible.
    dob_conflict: float = -0.30
    # Same year, another month or day: often a transcription error in one of the sources.
    dob_day_conflict: float = -0.10
    country_match: float = 0.02
    country_conflict: float = -0.05
    identifier_match: float = 0.30
    legal_form_conflict: float = -0.25
    # Cap of a name whose only agreement is on filler, generic words, numbers or initials.
    weak_only_cap: float = 0.4
    # Cap of a total whose birth dates or countries contradict the name (a homonym): below the default
    # match threshold, so such a pair is reviewed, never matched on the name alone. An identical
    # identifier lifts the cap.
    conflict_cap: float = 0.68
    # Cost of a one-sided token when a Latin name meets a name written in an abjad script: the
    # consonant skeletons such names are compared on fit many names, so what is left over counts.
    extra_cost_cross_script: float = 0.8

    def weight(self, kind: str) -> float:
        """Identity weight of a token kind."""
        for name, value in self.kind_weights:
            if name == kind:
                return value
        return 1.0

    @property
    def min_extra_cost(self) -> float:
        """Cheapest cost of a one-sided token, whatever the entity type (used by index bounds)."""
        return min(self.extra_cost_person, self.extra_cost_org)

    @property
    def max_qualifier_bonus(self) -> float:
        """Most that birth dates and countries can add (identifiers are looked up separately)."""
        return self.dob_match_day + self.country_match


DEFAULT_CONFIG = MatcherConfig()


# --------------------------------------------------------------------------------------------
# Token similarity


#: Factor applied to the similarity of romanisation-folded spellings (y/i, kh/h, doubled letters).
LOOSE_FACTOR = 0.95
#: Factor applied to the similarity of consonant skeletons (abjad romanisations lack vowels).
SKELETON_FACTOR = 0.85


def edit_similarity(a: str, b: str) -> float:
    """1 - optimal-string-alignment distance / longer length (a transposition is one edit)."""
    if a == b:
        return 1.0
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    return 1.0 - OSA.distance(a, b) / longest


@lru_cache(maxsize=500_000)
def token_similarity(a: str, b: str, script_a: str = "", script_b: str = "") -> float:
    """Similarity of two tokens in [0, 1]: edit similarity, also on romanisation-folded and (abjad) consonant forms."""
    if a == b:
        return 1.0
    if a.isdigit() or b.isdigit():
        return 0.0
    if "cjk" in (script_a, script_b):
        # One Han/Hangul character more or less is another name, not a typo.
        return 0.0
    sim = edit_similarity(a, b)
    sim = max(sim, LOOSE_FACTOR * edit_similarity(loose_form(a), loose_form(b)))
    if "abjad" in (script_a, script_b):
        ska, skb = consonant_skeleton(a), consonant_skeleton(b)
        if len(ska) >= 2 and len(skb) >= 2:
            sim = max(sim, SKELETON_FACTOR * edit_similarity(ska, skb))
    return sim


#: Longest token whose single keying error is not already within `align_min` (1 edit in 3 letters is 0.67).
KEYING_MAX = 3


@lru_cache(maxsize=200_000)
def keying_error(a: str, b: str) -> bool:
    """Whether two short tokens differ by one adjacent transposition, one dropped or one doubled letter (Ai / Ali)."""
    # Three letters on the longer side: in two-letter tokens (al / la) one edit is the whole token.
    if a == b or max(len(a), len(b)) != KEYING_MAX or min(len(a), len(b)) < 2:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    if len(long) - len(short) != 1:
        return False
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def spelling_similarity(a: Token, b: Token, config: MatcherConfig = DEFAULT_CONFIG) -> tuple[float, str]:
    """Best similarity over the written and canonical spellings of two word tokens, and how it was reached."""
    best, how = 0.0, "fuzzy"
    for text_a in a.spellings:
        for text_b in b.spellings:
            sim = token_similarity(text_a, text_b, a.script, b.script)
            if sim < config.align_min and "cjk" not in (a.script, b.script) and keying_error(text_a, text_b):
                # A keying error in a short token keeps it aligned, as a doubtful pair.
                sim, kind = config.align_min, "keying"
            else:
                kind = "exact" if sim == 1.0 else "fuzzy"
            if sim > best:
                best, how = sim, kind
    return best, how


def _pair_match(a: Token, b: Token, config: MatcherConfig, org: bool = False) -> tuple[float, str]:
    """Similarity of two tokens taking their kinds into account, and how they agree.

    An initial stands for a person's given name: never for the surname of a "SURNAME, Given" name, and in
    an organisation name a single letter only agrees with the same letter.
    """
    if a.kind == INITIAL or b.kind == INITIAL:
        if a.kind == INITIAL and b.kind == INITIAL:
            return (1.0 if a.text == b.text else 0.0), "initial"
        full = b if a.kind == INITIAL else a
        if org or full.surname:
            return 0.0, "initial"
        if a.text[0] == b.text[0] and not (a.text.isdigit() or b.text.isdigit()):
            return config.initial_sim, "initial"
        return 0.0, "initial"
    return spelling_similarity(a, b, config)


# --------------------------------------------------------------------------------------------
# Alignment


@dataclass(frozen=True, slots=True)
class AlignedPair:
    """Tokens of side A (indexes) aligned to tokens of side B, with their similarity and weight."""

    left: tuple[int, ...]
    right: tuple[int, ...]
    similarity: float
    weight: float
    how: str


@dataclass(slots=True)
class Alignment:
    """Result of aligning two token sequences."""

    pairs: list[AlignedPair] = field(default_factory=list)
    unmatched_left: list[int] = field(default_factory=list)
    unmatched_right: list[int] = field(default_factory=list)


def _units(tokens: tuple[Token, ...]) -> list[tuple[tuple[int, ...], str]]:
    """Single tokens plus concatenations of two or three adjacent tokens (joined or split words)."""
    units: list[tuple[tuple[int, ...], str]] = []
    n = len(tokens)
    for size in (2, 3):
        for start in range(0, n - size + 1):
            span = tokens[start : start + size]
            if any(t.kind == NUMBER for t in span):
                continue
            units.append((tuple(range(start, start + size)), "".join(t.text for t in span)))
    return units


def acronym_eligible(token: Token) -> bool:
    """Whether a token may stand for the initials of several words (3 to 5 letters, not a particle).

    Two letters are shared by one two-word name in a few hundred: they identify no organisation.
    """
    return token.kind in (WORD, GENERIC) and 3 <= len(token.text) <= 5 and token.text.isalpha()


def _acronym_matches(short: tuple[Token, ...], long: tuple[Token, ...]) -> list[tuple[int, tuple[int, ...]]]:
    """Tokens of `short` spelled by the first letters of a run of adjacent tokens of `long`."""
    found: list[tuple[int, tuple[int, ...]]] = []
    for i, token in enumerate(short):
        size = len(token.text)
        if not acronym_eligible(token):
            continue
        for start in range(0, len(long) - size + 1):
            span = long[start : start + size]
            if all(len(t.text) > 1 for t in span) and "".join(t.text[0] for t in span) == token.text:
                found.append((i, tuple(range(start, start + size))))
    return found


def truncated_pair(short: Token, full: Token, config: MatcherConfig = DEFAULT_CONFIG) -> bool:
    """Whether `short` is `full` cut off after at least `truncated_min` letters (both real words)."""
    return (
        short.kind in (WORD, GENERIC)
        and full.kind in (WORD, GENERIC)
        and config.truncated_min <= len(short.text) < len(full.text)
        and full.text.startswith(short.text)
    )


def truncations(
    left: tuple[Token, ...],
    right: tuple[Token, ...],
    config: MatcherConfig = DEFAULT_CONFIG,
    cut_left: bool = True,
    cut_right: bool = True,
) -> list[tuple[int, int]]:
    """(left, right) index pairs where the last word of one organisation name is a cut-off word of the other."""
    found = []
    last_l, last_r = len(left) - 1, len(right) - 1
    for j, token in enumerate(right):
        if cut_left and truncated_pair(left[last_l], token, config):
            found.append((last_l, j))
    for i, token in enumerate(left):
        if cut_right and truncated_pair(right[last_r], token, config):
            found.append((i, last_r))
    return found


#: Shortest raw name a source cuts off: fixed-width fields are wider, so a shorter name is whole.
CUT_NAME_MIN = 16


def may_be_cut(form: NameForm) -> bool:
    """Whether a name may have been cut off inside its last word.

    It must be long enough to have filled a field, end on a word (no legal form after it) and keep
    another word besides the cut one (a lone cut word identifies nothing).
    """
    return len(form.raw.strip()) >= CUT_NAME_MIN and not form.form_at_end and len(form.tokens) >= 2


def align_tokens(
    left: tuple[Token, ...],
    right: tuple[Token, ...],
    config: MatcherConfig = DEFAULT_CONFIG,
    org: bool = False,
    person: bool = False,
    expanded: frozenset[str] = frozenset(),
    cut_left: bool = False,
    cut_right: bool = False,
) -> Alignment:
    """Order-insensitive alignment: best pairs first, each token used once, joined/split words and acronyms allowed.

    `org` applies organisation rules to initials; `person` forbids acronyms (people are not known by them);
    acronyms in `expanded` have a published expansion and are compared through it only; `cut_*` say
    whether a side may have been cut off by a fixed-width field (its last word compared as a prefix).
    """
    candidates: list[tuple[float, float, tuple[int, ...], tuple[int, ...], str]] = []
    for i, a in enumerate(left):
        for j, b in enumerate(right):
            sim, how = _pair_match(a, b, config, org)
            if sim >= config.align_min:
                candidates.append((sim, 0.0, (i,), (j,), how))
    if org:
        for i, j in truncations(left, right, config, cut_left, cut_right):
            candidates.append((config.truncated_sim, 0.0, (i,), (j,), "truncated"))
    if len(left) != len(right) or len(candidates) < min(len(left), len(right)):
        for idx, text in _units(left):
            for j, b in enumerate(right):
                if b.kind in (WORD, GENERIC) and abs(len(text) - len(b.text)) <= 2:
                    sim = edit_similarity(text, b.text)
                    if sim >= config.variant_sim:
                        candidates.append((sim, 0.01, idx, (j,), "joined"))
        for idx, text in _units(right):
            for i, a in enumerate(left):
                if a.kind in (WORD, GENERIC) and abs(len(text) - len(a.text)) <= 2:
                    sim = edit_similarity(a.text, text)
                    if sim >= config.variant_sim:
                        candidates.append((sim, 0.01, (i,), idx, "joined"))
        if not person:
            for i, idx in _acronym_matches(left, right):
                if left[i].text not in expanded:
                    candidates.append((config.acronym_sim, 0.0, (i,), idx, "acronym"))
            for j, idx in _acronym_matches(right, left):
                if right[j].text not in expanded:
                    candidates.append((config.acronym_sim, 0.0, idx, (j,), "acronym"))
    # Best similarity first; among equals prefer covering more tokens, then keep original order.
    candidates.sort(key=lambda c: (-(c[0] + c[1]), -(len(c[2]) + len(c[3])), c[2], c[3]))
    used_left: set[int] = set()
    used_right: set[int] = set()
    alignment = Alignment()
    for sim, _bonus, idx_l, idx_r, how in candidates:
        if used_left.intersection(idx_l) or used_right.intersection(idx_r):
            continue
        used_left.update(idx_l)
        used_right.update(idx_r)
        weight_l = sum(config.weight(left[i].kind) for i in idx_l)
        weight_r = sum(config.weight(right[j].kind) for j in idx_r)
        alignment.pairs.append(AlignedPair(idx_l, idx_r, sim, min(weight_l, weight_r), how))
    if not org:
        _align_syllables(left, right, alignment, used_left, used_right, config)
    alignment.unmatched_left = [i for i in range(len(left)) if i not in used_left]
    alignment.unmatched_right = [j for j in range(len(right)) if j not in used_right]
    return alignment


#: Longest token read as one syllable of a romanised given name (Korean JU-SON, Jong Un), and longest
#: neighbour it is read with.
SYLLABLE_MAX = 3
SYLLABLE_NEIGHBOUR_MAX = 5


def syllable_similarity(left: tuple[Token, ...], i: int, right: tuple[Token, ...], j: int) -> float:
    """Similarity of two short syllables read together with an adjacent syllable pair (jong un ~ jong on).

    One vowel more or less in a two-letter syllable is most of its letters, but little of the given name it
    belongs to; so the syllable is compared within the two-token unit it forms with its neighbour.
    """
    best = 0.0
    for step in (-1, 1):
        ni, nj = i + step, j + step
        if not (0 <= ni < len(left) and 0 <= nj < len(right)):
            continue
        if NUMBER in (left[ni].kind, right[nj].kind):
            continue
        if max(len(left[ni].text), len(right[nj].text)) > SYLLABLE_NEIGHBOUR_MAX:
            continue
        pair_l = (left[ni].text + left[i].text) if step < 0 else (left[i].text + left[ni].text)
        pair_r = (right[nj].text + right[j].text) if step < 0 else (right[j].text + right[nj].text)
        best = max(best, edit_similarity(pair_l, pair_r))
    return best


def _align_syllables(
    left: tuple[Token, ...],
    right: tuple[Token, ...],
    alignment: Alignment,
    used_left: set[int],
    used_right: set[int],
    config: MatcherConfig,
) -> None:
    """Pair leftover short syllables whose neighbours are aligned with each other (RI JU-SON ~ RI JE-SON)."""
    singles = {(p.left[0], p.right[0]) for p in alignment.pairs if len(p.left) == 1 and len(p.right) == 1}
    for i, a in enumerate(left):
        if i in used_left or a.kind != WORD or len(a.text) > SYLLABLE_MAX or "cjk" == a.script:
            continue
        for j, b in enumerate(right):
            if j in used_right or b.kind != WORD or len(b.text) > SYLLABLE_MAX or "cjk" == b.script:
                continue
            if (i - 1, j - 1) not in singles and (i + 1, j + 1) not in singles:
                continue
            sim = syllable_similarity(left, i, right, j)
            if sim >= config.variant_sim:
                used_left.add(i)
                used_right.add(j)
                alignment.pairs.append(AlignedPair((i,), (j,), sim, 1.0, "syllable"))
                break


# --------------------------------------------------------------------------------------------
# Name features


@dataclass(frozen=True, slots=True)
class NameComparison:
    """Outcome of comparing two names: the name score and its per-feature breakdown."""

    score: float
    left: NameForm
    right: NameForm
    features: dict[str, Any]


def matched_weight(alignment: Alignment) -> float:
    """Total identity weight of the aligned token pairs."""
    return sum(p.weight for p in alignment.pairs)


def agreement(alignment: Alignment) -> float:
    """Weighted similarity mass of the aligned pairs (1.0 per perfectly agreeing unit of weight)."""
    return sum(p.weight * p.similarity for p in alignment.pairs)


def doubt(alignment: Alignment, config: MatcherConfig) -> float:
    """Cost of aligned pairs that are only doubtfully the same word (similarity below a plain variant)."""
    return sum(
        p.weight * config.doubt_cost * max(0.0, config.variant_sim - p.similarity) for p in alignment.pairs
    )


def leftover_weights(
    alignment: Alignment, left: NameForm, right: NameForm, config: MatcherConfig
) -> tuple[float, float]:
    """Identity weight of the tokens left unaligned on each side."""
    wl = sum(config.weight(left.tokens[i].kind) for i in alignment.unmatched_left)
    wr = sum(config.weight(right.tokens[j].kind) for j in alignment.unmatched_right)
    return wl, wr


def substitution(wl: float, wr: float) -> float:
    """Weight of tokens that have no counterpart while the other side also has unexplained tokens."""
    return min(wl, wr)


def extra(wl: float, wr: float) -> float:
    """Weight of tokens present on one side only (a missing middle name, an added qualifier)."""
    return abs(wl - wr)


def order_changed(alignment: Alignment, left: NameForm, right: NameForm) -> bool:
    """Whether aligned words appear in a different order on the two sides (ignoring "SURNAME, Given" forms)."""
    if left.had_comma or right.had_comma:
        return False
    words = sorted((p.left[0], p.right[0]) for p in alignment.pairs if left.tokens[p.left[0]].kind == WORD)
    rights = [r for _, r in words]
    return rights != sorted(rights)


_PATRONYMIC_SUFFIXES = ("ovich", "evich", "ovna", "evna", "ovych", "ivna", "ogly", "kyzy", "oglu")


def _roles(form: NameForm) -> list[str]:
    """Per token: "father" after bin/ibn/ben or with a patronymic suffix, else "own"."""
    roles: list[str] = []
    for i, token in enumerate(form.tokens):
        after_bin = i > 0 and form.tokens[i - 1].text == "bin"
        roles.append("father" if after_bin or token.text.endswith(_PATRONYMIC_SUFFIXES) else "own")
    return roles


def patronymic_swap(alignment: Alignment, left: NameForm, right: NameForm) -> bool:
    """Whether a name given as the father's name on one side is the person's own name on the other (father/son)."""
    roles_l, roles_r = _roles(left), _roles(right)
    if "father" not in roles_l or "father" not in roles_r:
        return False
    for pair in alignment.pairs:
        if len(pair.left) == 1 and len(pair.right) == 1 and left.tokens[pair.left[0]].kind == WORD:
            if roles_l[pair.left[0]] != roles_r[pair.right[0]]:
                return True
    return False


def distinctive_agreement(alignment: Alignment, left: NameForm, right: NameForm, org: bool) -> bool:
    """Whether at least one aligned pair involves a real word on both sides (not filler, numbers or initials)."""
    for pair in alignment.pairs:
        if pair.how == "acronym":
            # People are not known by their initials alone; organisations are (PLA, ICBC).
            if org:
                return True
            continue
        if any(left.tokens[i].kind == WORD for i in pair.left) and any(
            right.tokens[j].kind == WORD for j in pair.right
        ):
            return True
    return left.texts == right.texts


def cross_script(left: NameForm, right: NameForm) -> bool:
    """Whether one name was written in an abjad script and the other in Latin letters."""
    scripts = {t.script == "abjad" for t in left.tokens[:1]} | {t.script == "abjad" for t in right.tokens[:1]}
    return len(scripts) == 2


def bare_title_name(alignment: Alignment, left: NameForm, right: NameForm) -> bool:
    """Whether a name reduced to one word by removing a title (Shaykh SAI'ID) meets a longer name.

    What is left is a given name anyone may bear; the other name's further words are then unexplained,
    not a missing middle name.
    """
    for short, long, unmatched in (
        (left, right, alignment.unmatched_right),
        (right, left, alignment.unmatched_left),
    ):
        words = [t for t in short.tokens if t.kind == WORD]
        if short.honorifics and len(words) == 1 and any(long.tokens[i].kind == WORD for i in unmatched):
            return True
    return False


def name_richness(alignment: Alignment, config: MatcherConfig) -> float:
    """How much identity the agreement carries, in [0, 1] (three full words agreeing is the maximum)."""
    return min(1.0, agreement(alignment) / config.richness_tokens)


def is_org_like(type_: str, left: NameForm, right: NameForm) -> bool:
    """Whether organisation rules apply (declared organisation, or a legal form found on either side)."""
    if type_ == ORGANIZATION:
        return True
    if type_ == PERSON:
        return False
    return bool(left.legal_form or right.legal_form)


def compare_name_forms(
    left: NameForm,
    right: NameForm,
    type_: str = UNKNOWN,
    config: MatcherConfig = DEFAULT_CONFIG,
    expanded: frozenset[str] = frozenset(),
) -> NameComparison:
    """Score two analysed names in [0, 1] with the breakdown of every name feature."""
    if not left.tokens or not right.tokens:
        return NameComparison(0.0, left, right, {"empty_name": True})
    org = is_org_like(type_, left, right)
    alignment = align_tokens(
        left.tokens,
        right.tokens,
        config,
        org=org,
        person=type_ == PERSON,
        expanded=expanded,
        cut_left=org and may_be_cut(left),
        cut_right=org and may_be_cut(right),
    )
    wl, wr = leftover_weights(alignment, left, right, config)
    mass = agreement(alignment)
    weight = matched_weight(alignment)
    sub = substitution(wl, wr)
    ext = extra(wl, wr)
    doubtful = doubt(alignment, config)
    extra_cost = config.extra_cost_org if org else config.extra_cost_person
    crossed = cross_script(left, right)
    if crossed:
        extra_cost = max(extra_cost, config.extra_cost_cross_script)
    denominator = weight + config.conflict_cost * sub + extra_cost * ext + doubtful
    base = mass / denominator if denominator > 0 else 0.0
    reordered = order_changed(alignment, left, right)
    if reordered:
        base -= config.order_penalty
    swapped = not org and patronymic_swap(alignment, left, right)
    if swapped:
        base -= config.patronymic_swap_penalty
    distinctive = distinctive_agreement(alignment, left, right, org)
    if not distinctive:
        base = min(base, config.weak_only_cap)
    bare = bare_title_name(alignment, left, right)
    if bare:
        base = min(base, config.weak_only_cap)
    base = max(0.0, min(1.0, base))
    richness = name_richness(alignment, config)
    score = base * (config.name_floor + config.name_richness * richness)
    features: dict[str, Any] = {
        "aligned": [
            {
                "left": " ".join(left.tokens[i].text for i in p.left),
                "right": " ".join(right.tokens[j].text for j in p.right),
                "similarity": round(p.similarity, 3),
                "how": p.how,
            }
            for p in alignment.pairs
        ],
        "unmatched_left": [left.tokens[i].text for i in alignment.unmatched_left],
        "unmatched_right": [right.tokens[j].text for j in alignment.unmatched_right],
        "substituted_weight": round(sub, 3),
        "extra_weight": round(ext, 3),
        "doubt": round(doubtful, 3),
        "reordered": reordered,
        "patronymic_swap": swapped,
        "distinctive": distinctive,
        "cross_script": crossed,
        "bare_title_name": bare,
        "name_base": round(base, 4),
        "richness": round(richness, 3),
    }
    return NameComparison(score, left, right, features)


@lru_cache(maxsize=200_000)
def compare_names(
    name_a: str,
    name_b: str,
    type_: str = UNKNOWN,
    config: MatcherConfig = DEFAULT_CONFIG,
    expanded: frozenset[str] = frozenset(),
) -> NameComparison:
    """Best name score over the alternate spellings ("A/B") of two raw names (cached: common names recur)."""
    best: NameComparison | None = None
    for alt_a in split_alternates(name_a):
        form_a = analyze_name(alt_a, type_)
        for alt_b in split_alternates(name_b):
            result = compare_name_forms(form_a, analyze_name(alt_b, type_), type_, config, expanded)
            if best is None or result.score > best.score:
                best = result
    assert best is not None
    return best


def name_score_upper_bound(
    matched_left,
    unmatched_left,
    matched_right,
    unmatched_right,
    config: MatcherConfig = DEFAULT_CONFIG,
    mass=None,
    extra_cost: float | None = None,
):
    """Highest name score two names can reach when only these token weights can possibly be aligned.

    `matched_*` is the identity weight of the tokens that have at least one alignable counterpart on
    the other side, `unmatched_*` the rest. Works on floats or numpy arrays. Sound because aligned
    pair weights never exceed either side's matchable weight, unexplained tokens cost at least the
    cheapest one-sided cost (substitutions cost more), and every other rule only lowers the score.
    `mass`, when given, bounds the similarity-weighted agreement (each token's best similarity times
    its weight); agreement never exceeds the aligned weight, and x / (x + cost) grows with x.
    `extra_cost` is the one-sided cost of the entity type when it is known (else the cheapest).
    """
    shared = np.minimum(matched_left, matched_right)
    if mass is not None:
        shared = np.minimum(shared, mass)
    low = np.minimum(unmatched_left, unmatched_right)
    one_sided = config.min_extra_cost if extra_cost is None else extra_cost
    cost = config.conflict_cost * low + one_sided * np.abs(unmatched_left - unmatched_right)
    denominator = shared + cost
    base = np.where(denominator > 0, shared / np.where(denominator > 0, denominator, 1.0), 0.0)
    base = np.minimum(base, 1.0)
    richness = np.minimum(1.0, shared / config.richness_tokens)
    return base * (config.name_floor + config.name_richness * richness)


# --------------------------------------------------------------------------------------------
# Qualifier features


def types_compatible(type_a: str, type_b: str) -> bool:
    """A person never matches a vessel or an organisation; unknown types match anything."""
    if UNKNOWN in (type_a, type_b):
        return True
    return type_a == type_b


_DATE_RE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?\s*$")
_RANGE_RE = re.compile(r"^\s*(\d{4})\s*(?:\.\.|/|to|-)\s*(\d{4})\s*$")


@dataclass(frozen=True, slots=True)
class DateValue:
    """A birth date at its published precision; `year_to` > `year` for ranges."""

    year: int
    month: int | None = None
    day: int | None = None
    year_to: int | None = None


def parse_date(text: str) -> DateValue | None:
    """Parse "YYYY", "YYYY-MM", "YYYY-MM-DD" or a year range "YYYY..YYYY"; None when unreadable."""
    match = _RANGE_RE.match(text)
    if match:
        low, high = sorted((int(match.group(1)), int(match.group(2))))
        return DateValue(low, year_to=high)
    match = _DATE_RE.match(text)
    if not match:
        return None
    year = int(match.group(1))
    month = int(match.group(2)) if match.group(2) else None
    day = int(match.group(3)) if match.group(3) else None
    if month is not None and not 1 <= month <= 12 or day is not None and not 1 <= day <= 31:
        return None
    return DateValue(year, month, day)


def date_agreement(a: DateValue, b: DateValue) -> str:
    """How two dates relate: day/month/year agreement, compatible, near (one year apart), day_conflict, conflict."""
    a_low, a_high = a.year, a.year_to or a.year
    b_low, b_high = b.year, b.year_to or b.year
    if a_high < b_low or b_high < a_low:
        # Lists often publish a birth year off by one (Hijri/Gregorian conversion, "circa").
        return "near" if min(abs(b_low - a_high), abs(a_low - b_high)) <= 1 else "conflict"
    if a.year_to or b.year_to:
        return "compatible"
    if a.month is None or b.month is None:
        return "year"
    if a.month != b.month:
        return "day_conflict"
    if a.day is None or b.day is None:
        return "month"
    return "day" if a.day == b.day else "day_conflict"


def birth_date_feature(
    dates_a: tuple[str, ...], dates_b: tuple[str, ...], config: MatcherConfig
) -> tuple[float, str | None]:
    """Contribution of birth dates: best agreement between any two published dates, a conflict only if none agree."""
    parsed_a = [d for d in (parse_date(x) for x in dates_a) if d]
    parsed_b = [d for d in (parse_date(x) for x in dates_b) if d]
    if not parsed_a or not parsed_b:
        return 0.0, None
    rank = {"day": 6, "month": 5, "year": 4, "compatible": 3, "near": 2, "day_conflict": 1, "conflict": 0}
    best = max((date_agreement(a, b) for a in parsed_a for b in parsed_b), key=rank.__getitem__)
    value = {
        "day": config.dob_match_day,
        "month": config.dob_match_month,
        "year": config.dob_match_year,
        "compatible": 0.0,
        "near": 0.0,
        "day_conflict": config.dob_day_conflict,
        "conflict": config.dob_conflict,
    }[best]
    return value, best


def country_feature(
    countries_a: tuple[str, ...], countries_b: tuple[str, ...], config: MatcherConfig
) -> tuple[float, str | None]:
    """Contribution of countries: a shared one corroborates a little, disjoint sets weigh against a little."""
    set_a = {c.strip().upper() for c in countries_a if c.strip()}
    set_b = {c.strip().upper() for c in countries_b if c.strip()}
    if not set_a or not set_b:
        return 0.0, None
    if set_a & set_b:
        return config.country_match, "shared"
    return config.country_conflict, "disjoint"


def normalize_identifier(value: str) -> str:
    """Identifier reduced to upper-case letters and digits (spaces, dashes and dots vary between sources)."""
    return re.sub(r"[^0-9A-Z]", "", value.upper())


def identifier_feature(
    ids_a: tuple[str, ...], ids_b: tuple[str, ...], config: MatcherConfig
) -> tuple[float, str | None]:
    """Contribution of identifiers: one identical document or registry number is strong evidence."""
    set_a = {n for n in (normalize_identifier(x) for x in ids_a) if len(n) >= 4}
    set_b = {n for n in (normalize_identifier(x) for x in ids_b) if len(n) >= 4}
    shared = set_a & set_b
    if shared:
        return config.identifier_match, "identical"
    return 0.0, None


def legal_form_feature(left: NameForm, right: NameForm, config: MatcherConfig) -> tuple[float, str | None]:
    """Contribution of legal forms: two different specific families (AG vs GmbH) mean two legal persons."""
    fam_l, fam_r = left.legal_family, right.legal_family
    if not fam_l or not fam_r or "neutral" in (fam_l, fam_r):
        return 0.0, None
    if fam_l == fam_r:
        return 0.0, "same_family"
    return config.legal_form_conflict, f"{left.legal_form}≠{right.legal_form}"


# --------------------------------------------------------------------------------------------
# Whole comparison


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Score of one subject against one listed party, the best-matching names and the explanation."""

    score: float
    query_name: str
    matched_name: str
    explanation: dict[str, Any]


def contradictions(qualifiers: dict[str, tuple[float, str | None]]) -> list[str]:
    """Qualifiers that say the two parties are different people: birth years apart, disjoint countries.

    An identical identifier outweighs them (lists and registers do mistype dates).
    """
    if qualifiers.get("identifier", (0.0, None))[1] == "identical":
        return []
    found = []
    if qualifiers.get("birth_date", (0.0, None))[1] == "conflict":
        found.append("birth_date")
    if qualifiers.get("country", (0.0, None))[1] == "disjoint":
        found.append("country")
    return found


def combine(
    name: NameComparison,
    qualifiers: dict[str, tuple[float, str | None]],
    config: MatcherConfig = DEFAULT_CONFIG,
) -> tuple[float, dict[str, Any]]:
    """Weighted sum of the name score and qualifier contributions, clamped to [0, 1], with the breakdown.

    A contradiction (birth dates or countries) also caps the total below the match threshold; the cap
    is shown as its own contribution.
    """
    total = name.score
    explanation: dict[str, Any] = {"name": round(name.score, 4), **name.features}
    for feature, (value, detail) in qualifiers.items():
        if detail is None:
            continue
        total += value
        explanation[feature] = {"contribution": round(value, 4), "detail": detail}
    conflicts = contradictions(qualifiers)
    if conflicts and total > config.conflict_cap:
        explanation["conflict_cap"] = {
            "contribution": round(config.conflict_cap - total, 4),
            "detail": "+".join(conflicts),
        }
        total = config.conflict_cap
    return max(0.0, min(1.0, total)), explanation


@lru_cache(maxsize=100_000)
def expanded_acronyms(names: tuple[str, ...], type_: str) -> frozenset[str]:
    """Acronyms among a party's names that another of its names spells out (EGP: Ejercito Guerrillero Popular).

    Such an acronym stands for that expansion only: another name with the same initials is another
    organisation, so it is compared through the published expansion and never by its initials.
    """
    if len(names) < 2 or type_ == PERSON:
        return frozenset()
    forms = [analyze_name(alt, type_) for name in names for alt in split_alternates(name)]
    found: set[str] = set()
    for form in forms:
        for token in form.tokens:
            if not acronym_eligible(token) or token.text in found:
                continue
            for other in forms:
                if other is not form and len(other.tokens) > 1:
                    spelled = _acronym_matches((token,), other.tokens)
                    words = [t for t in other.tokens if t.kind in (WORD, GENERIC)]
                    if spelled or "".join(t.text[0] for t in words) == token.text:
                        found.add(token.text)
                        break
    return frozenset(found)


def score_pair(
    names_a: tuple[str, ...],
    names_b: tuple[str, ...],
    type_a: str = UNKNOWN,
    type_b: str = UNKNOWN,
    dates_a: tuple[str, ...] = (),
    dates_b: tuple[str, ...] = (),
    countries_a: tuple[str, ...] = (),
    countries_b: tuple[str, ...] = (),
    ids_a: tuple[str, ...] = (),
    ids_b: tuple[str, ...] = (),
    config: MatcherConfig = DEFAULT_CONFIG,
    name_pairs: frozenset[tuple[int, int]] | None = None,
) -> MatchResult:
    """Full comparison of two parties: best name pair, then qualifiers; score 0 for incompatible types.

    `name_pairs` restricts which (index in names_a, index in names_b) pairs are compared; the index
    passes the pairs that can reach the threshold, which gives the same result above it.
    """
    if not types_compatible(type_a, type_b):
        return MatchResult(
            0.0,
            names_a[0] if names_a else "",
            names_b[0] if names_b else "",
            {"type_mismatch": f"{type_a}≠{type_b}"},
        )
    type_ = type_a if type_a != UNKNOWN else type_b
    expanded = expanded_acronyms(names_a, type_) | expanded_acronyms(names_b, type_)
    best: NameComparison | None = None
    best_pair = ("", "")
    for i, name_a in enumerate(names_a):
        for j, name_b in enumerate(names_b):
            if name_pairs is not None and (i, j) not in name_pairs:
                continue
            result = compare_names(name_a, name_b, type_, config, expanded)
            if best is None or result.score > best.score:
                best, best_pair = result, (name_a, name_b)
    if best is None:
        return MatchResult(0.0, "", "", {"empty_name": True})
    qualifiers = {
        "birth_date": birth_date_feature(dates_a, dates_b, config),
        "country": country_feature(countries_a, countries_b, config),
        "identifier": identifier_feature(ids_a, ids_b, config),
        "legal_form": legal_form_feature(best.left, best.right, config),
    }
    score, explanation = combine(best, qualifiers, config)
    return MatchResult(score, best_pair[0], best_pair[1], explanation)


def compare_two_names(
    name_a: str, name_b: str, type_: str = UNKNOWN, config: MatcherConfig = DEFAULT_CONFIG
) -> MatchResult:
    """Score of two bare names of the same declared type (what `kyc compare` prints)."""
    return score_pair((name_a,), (name_b,), type_, type_, config=config)
