"""Candidate generation that never hides a pair the scorer would accept, and the screeners built on it.

Why it is lossless, by construction:

1. Two tokens can only be aligned by the scorer if their similarity reaches `align_min` (or
   `variant_sim` for joined words, equality for acronyms, first letter for initials). Similarity is
   the maximum of edit similarities on the raw, romanisation-folded and consonant-skeleton forms.
   For each form, :class:`FuzzyVocabulary` returns a superset of the vocabulary within the needed
   edit distance using a bigram count filter that holds for any edit script (one edit touches at
   most three padded bigrams), then the exact token similarity is checked.
2. From the tokens that can align, the index knows, for every name of every party touched, the
   identity weight that can possibly be aligned on each side. :func:`name_score_upper_bound` turns
   those weights into the highest score the name pair can reach; pairs below the threshold (minus
   the most birth dates and countries can add) are skipped, all others are scored in full.
3. A party never touched shares no alignable token with the query, so its upper bound is zero.
   Identifiers are looked up exactly and add their parties to the candidates.

Initials in the query can align with any token starting with their letter: they are counted as
alignable everywhere (which only loosens the bound).
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from kyc_core.screening.compare import (
    DEFAULT_CONFIG,
    DEFAULT_THRESHOLDS,
    KEYING_MAX,
    LOOSE_FACTOR,
    SKELETON_FACTOR,
    SYLLABLE_MAX,
    MatcherConfig,
    MatchResult,
    Thresholds,
    acronym_eligible,
    edit_similarity,
    name_score_upper_bound,
    normalize_identifier,
    score_pair,
    types_compatible,
)
from kyc_core.screening.model import Hit, ListedParty, Subject
from kyc_core.screening.normalize import (
    INITIAL,
    NUMBER,
    ORGANIZATION,
    PERSON,
    UNKNOWN,
    WORD,
    NameForm,
    analyze_name,
    consonant_skeleton,
    loose_form,
    split_alternates,
)

_KNOWN_TYPES = ("person", "organization", "vessel", "aircraft")
# Codes pack (record, token position) into one integer; names never have this many tokens.
_MAX_POSITIONS = 4096
_EPS = 1e-9
# Bound on memoised candidate sets per typed index (cleared when full).
_CANDIDATE_CACHE_SIZE = 100_000
# Bound on memoised summaries of query tokens that joined words or acronyms also reach.
_SPAN_SUMMARY_CACHE_SIZE = 20_000
# Slack for rounding when a looser bound is compared with the threshold before the exact one.
_COARSE_MARGIN = 1e-9


def _bigrams(text: str) -> set[str]:
    padded = f"^{text}$"
    return {padded[i : i + 2] for i in range(len(padded) - 1)}


class FuzzyVocabulary:
    """Strings searchable by minimum edit similarity; returns a superset, callers verify exactly.

    Bigram postings are ordered by gram, then by string length, so a search only reads the lengths
    the similarity (and an optional maximum length difference) allows.
    """

    def __init__(self, strings: Sequence[str]):
        lengths = np.array([len(s) for s in strings], dtype=np.int32)
        order = np.argsort(lengths, kind="stable")
        self.size = len(order)
        self.original = order.astype(np.int64)
        self.lengths = lengths[order]
        self.gram_ids: dict[str, int] = {}
        gram_of = array("q")
        position_of = array("q")
        sizes = []
        for position, idx in enumerate(order.tolist()):
            grams = _bigrams(strings[idx])
            sizes.append(len(grams))
            for gram in grams:
                gram_of.append(self.gram_ids.setdefault(gram, len(self.gram_ids)))
                position_of.append(position)
        self.gram_counts = np.array(sizes, dtype=np.int32)
        # One flat posting list sorted by (gram, position); positions follow length order, so the
        # postings of one gram within a length window are one slice, found by binary search.
        keys = np.empty(0, dtype=np.int64)
        if len(gram_of):
            keys = np.frombuffer(gram_of, dtype=np.int64) * self.size + np.frombuffer(
                position_of, dtype=np.int64
            )
        posting_keys = np.sort(keys)
        self.posting_positions = posting_keys % max(1, self.size)
        top = int(self.lengths[-1]) if self.size else 0
        self.length_start = np.searchsorted(self.lengths, np.arange(top + 2))
        # Where each gram's postings reach each length: a small table (grams x lengths) read by index.
        boundaries = np.arange(len(self.gram_ids), dtype=np.int64)[:, None] * self.size + self.length_start
        self.gram_length_offsets = np.searchsorted(posting_keys, boundaries.ravel()).reshape(boundaries.shape)

    #: Array attributes that are the whole searchable state (with `gram_ids` and `size`).
    ARRAYS = (
        "original",
        "lengths",
        "gram_counts",
        "posting_positions",
        "length_start",
        "gram_length_offsets",
    )

    @classmethod
    def loaded(cls, grams: list[str], arrays: dict[str, np.ndarray]) -> FuzzyVocabulary:
        """A vocabulary from persisted arrays (no string is re-read)."""
        vocabulary = cls.__new__(cls)
        for name in cls.ARRAYS:
            setattr(vocabulary, name, arrays[name])
        vocabulary.size = len(arrays["original"])
        vocabulary.gram_ids = {gram: number for number, gram in enumerate(grams)}
        return vocabulary

    def search(
        self, text: str, min_similarity: float, max_length_difference: int | None = None
    ) -> np.ndarray:
        """Ids of every string whose edit similarity to `text` may reach `min_similarity`."""
        if not self.size:
            return np.empty(0, dtype=np.int64)
        size = len(text)
        shortest = max(0, int(np.ceil(size * min_similarity - _EPS)))
        longest_allowed = int(np.floor(size / min_similarity + _EPS)) if min_similarity > 0 else 10**6
        if max_length_difference is not None:
            shortest = max(shortest, size - max_length_difference)
            longest_allowed = min(longest_allowed, size + max_length_difference)
        top = len(self.length_start) - 2
        longest_allowed = min(longest_allowed, top)
        if shortest > longest_allowed:
            return np.empty(0, dtype=np.int64)
        start = int(self.length_start[shortest])
        end = int(self.length_start[longest_allowed + 1])
        if start >= end:
            return np.empty(0, dtype=np.int64)
        grams = _bigrams(text)
        gram_ids = self.gram_ids
        known = [gram_ids[g] for g in grams if g in gram_ids]
        # Largest edit distance (optimal string alignment) that still allows the similarity; one edit
        # changes at most three padded bigrams (a transposition), so at least this many are shared.
        widest_edits = np.floor((1.0 - min_similarity) * max(longest_allowed, size) + _EPS)
        least_need = len(grams) - 3 * widest_edits
        if least_need > 0 and not known:
            return np.empty(0, dtype=np.int64)
        common = np.zeros(end - start, dtype=np.int64)
        if known:
            offsets = self.gram_length_offsets[known]
            low = offsets[:, shortest].tolist()
            high = offsets[:, longest_allowed + 1].tolist()
            positions = self.posting_positions
            hits = np.concatenate([positions[a:b] for a, b in zip(low, high, strict=True)])
            common = np.bincount(hits - start, minlength=end - start)
        # Every string needs at least `least_need` shared bigrams: when that is positive only strings
        # sharing some are examined, instead of the whole length window.
        window = np.flatnonzero(common >= least_need) if least_need > 0 else np.arange(end - start)
        lengths = self.lengths[start + window]
        max_edits = np.floor((1.0 - min_similarity) * np.maximum(lengths, size) + _EPS)
        need = np.maximum(self.gram_counts[start + window], len(grams)) - 3 * max_edits
        ok = (np.abs(lengths - size) <= max_edits) & (common[window] >= need)
        return self.original[start + window[ok]]


class _Postings:
    """Key -> (codes, weights) postings kept in flat arrays (a million names fit in a few hundred MB)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] | None = {}
        self.keys: list[str] = []
        self._key = array("q")
        self._code = array("q")
        self._weight = array("d")
        self._word = array("b")

    @property
    def ids(self) -> dict[str, int]:
        """Key -> key id (built on first use for a loaded index: not every store is looked up by key)."""
        if self._ids is None:
            self._ids = {key: number for number, key in enumerate(self.keys)}
        return self._ids

    def add(self, key: str, code: int, weight: float, word: bool) -> None:
        """Record that `key` occurs at `code` (record * positions + position) with a token weight."""
        ids = self.ids
        key_id = ids.get(key)
        if key_id is None:
            key_id = ids[key] = len(self.keys)
            self.keys.append(key)
        self._key.append(key_id)
        self._code.append(code)
        self._weight.append(weight)
        self._word.append(1 if word else 0)

    def freeze(self) -> None:
        """Sort postings by key so each key's postings are one slice."""
        keys = np.frombuffer(self._key, dtype=np.int64) if len(self._key) else np.empty(0, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        self.codes = (
            np.frombuffer(self._code, dtype=np.int64) if len(self._code) else np.empty(0, np.int64)
        )[order]
        self.weights = (np.frombuffer(self._weight, dtype=np.float64) if len(self._weight) else np.empty(0))[
            order
        ]
        self.words = (np.frombuffer(self._word, dtype=np.int8) if len(self._word) else np.empty(0, np.int8))[
            order
        ] > 0
        self.starts = np.searchsorted(keys[order], np.arange(len(self.keys) + 1))
        del self._key, self._code, self._weight, self._word

    @classmethod
    def loaded(
        cls, keys: list[str], codes: np.ndarray, weights: np.ndarray, words: np.ndarray, starts: np.ndarray
    ) -> _Postings:
        """Frozen postings from persisted arrays."""
        postings = cls.__new__(cls)
        postings.keys = keys
        postings._ids = None
        postings.codes, postings.weights, postings.words, postings.starts = codes, weights, words, starts
        return postings

    def get(self, key_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Codes, weights and is-a-word flags of one key."""
        start, end = self.starts[key_id], self.starts[key_id + 1]
        return self.codes[start:end], self.weights[start:end], self.words[start:end]


class _TypedIndex:
    """Names of parties analysed under one entity type, with their token vocabulary and postings."""

    def __init__(self, analysis_type: str, config: MatcherConfig):
        self.configure(analysis_type, config)
        self.raw = _Postings()
        self.composite = _Postings()
        self.acronym = _Postings()
        self._party = array("q")
        self._name = array("q")
        self._total = array("d")
        self._script_of: dict[str, str] = {}
        self._acronym_keys: set[str] = set()

    def configure(self, analysis_type: str, config: MatcherConfig) -> None:
        """What the index reads of the matcher configuration (also set on a persisted index when loaded)."""
        self.analysis_type = analysis_type
        self.config = config
        self._max_weight = max(w for _, w in config.kind_weights)
        self._coarse_bound_sound = config.conflict_cost >= max(
            config.extra_cost_person, config.extra_cost_org
        )
        # One-sided tokens cost what the scorer charges for this type (the cheaper one when undecided).
        self._extra_cost = {PERSON: config.extra_cost_person, ORGANIZATION: config.extra_cost_org}.get(
            analysis_type, config.min_extra_cost
        )

    def add(self, party: int, name_index: int, form: NameForm) -> None:
        """Index one analysed name spelling."""
        if not form.tokens:
            return
        record_id = len(self._party)
        weights = [self.config.weight(t.kind) for t in form.tokens]
        self._party.append(party)
        self._name.append(name_index)
        self._total.append(float(sum(weights)))
        tokens = form.tokens
        base = record_id * _MAX_POSITIONS
        for pos, token in enumerate(tokens):
            # Both the canonical and the written spelling are keys: the scorer compares either.
            for spelling in token.spellings:
                self.raw.add(spelling, base + pos, weights[pos], token.kind == WORD)
                # Verification must never be stricter than any occurrence: abjad only loosens, cjk only tightens.
                if token.script == "abjad":
                    self._script_of[spelling] = "abjad"
            if acronym_eligible(token):
                self._acronym_keys.add(token.text)
        for size in (2, 3):
            for start in range(0, len(tokens) - size + 1):
                span = tokens[start : start + size]
                if any(t.kind == NUMBER for t in span):
                    continue
                text = "".join(t.text for t in span)
                word = any(t.kind == WORD for t in span)
                for pos in range(start, start + size):
                    self.composite.add(text, base + pos, weights[pos], word)
        for size in range(3, 6):
            for start in range(0, len(tokens) - size + 1):
                span = tokens[start : start + size]
                if all(len(t.text) > 1 for t in span):
                    text = "".join(t.text[0] for t in span)
                    for pos in range(start, start + size):
                        self.acronym.add(text, base + pos, weights[pos], False)

    def freeze(self) -> None:
        """Build the searchable structures once every name is added."""
        for store in (self.raw, self.composite, self.acronym):
            store.freeze()
        raw_keys = self.raw.keys
        self.raw_vocab = FuzzyVocabulary(raw_keys)
        # Folded and skeleton forms, one per raw key (searches return raw ids directly).
        self.loose_of_key = [loose_form(k) for k in raw_keys]
        self.skeleton_of_key = [consonant_skeleton(k) for k in raw_keys]
        self.loose_vocab = FuzzyVocabulary(self.loose_of_key)
        self.skeleton_vocab = FuzzyVocabulary(self.skeleton_of_key)
        self.key_is_abjad = np.array([self._script_of.get(k) == "abjad" for k in raw_keys], dtype=bool)
        abjad_ids = np.nonzero(self.key_is_abjad)[0]
        self.abjad_skeleton_vocab = FuzzyVocabulary([self.skeleton_of_key[i] for i in abjad_ids.tolist()])
        self.composite_vocab = FuzzyVocabulary(self.composite.keys)
        self.record_weight = np.array(self._total, dtype=np.float64)
        self.record_party = np.array(self._party, dtype=np.int64)
        self.record_name = np.array(self._name, dtype=np.int64)
        del self._party, self._name, self._total
        self.finish()

    def finish(self) -> None:
        """Derived lookups and empty caches, from the frozen state (also what a persisted index is loaded into)."""
        self.raw_keys = self.raw.keys
        self.raw_ids = self.raw.ids
        self.raw_key_array = np.array(self.raw_keys, dtype=object)
        self.raw_lengths = np.array([len(k) for k in self.raw_keys], dtype=np.int32)
        self.sorted_ids = np.argsort(np.array(self.raw_keys, dtype=str), kind="stable").astype(np.int64)
        self.sorted_keys = np.array(self.raw_keys, dtype=str)[self.sorted_ids]
        self.loose_array = np.array(self.loose_of_key, dtype=object)
        self.skeleton_array = np.array(self.skeleton_of_key, dtype=object)
        self.skeleton_lengths = np.array([len(k) for k in self.skeleton_of_key], dtype=np.int32)
        self.abjad_ids = np.nonzero(self.key_is_abjad)[0]
        self.has_abjad = bool(len(self.abjad_ids))
        self.composite_keys = self.composite.keys
        self._neighbour_cache: dict[tuple[str, str], tuple[tuple[int, float], ...]] = {}
        self._joined_cache: dict[str, tuple[tuple[int, float], ...]] = {}
        self._composite_cache: dict[str, tuple[tuple[int, float], ...]] = {}
        self._syllable_cache: dict[str, tuple[tuple[int, float], ...]] = {}
        self._summary_cache: dict[tuple[str, str, str, str, bool], tuple[np.ndarray, ...] | None] = {}
        self._span_summary_cache: dict[tuple, tuple[np.ndarray, ...]] = {}
        self._candidate_cache: dict[tuple[NameForm, float], dict[int, set[int]]] = {}

    def token_neighbours(self, text: str, script: str) -> tuple[tuple[int, float], ...]:
        """(raw vocabulary id, similarity) of every token the scorer could align with `text`."""
        cache_key = (text, script)
        cached = self._neighbour_cache.get(cache_key)
        if cached is not None:
            return cached
        align_min = self.config.align_min
        text_loose = loose_form(text)
        # Short tokens one keying error apart (Ai / Ali) are aligned below the usual similarity; for them
        # that wider search (lengths within one) already holds everything `align_min` reaches.
        short = len(text) <= KEYING_MAX
        parts = [
            self.raw_vocab.search(text, 1.0 - 1.0 / KEYING_MAX, 1)
            if short
            else self.raw_vocab.search(text, align_min),
            self.loose_vocab.search(text_loose, align_min / LOOSE_FACTOR),
        ]
        skeleton = consonant_skeleton(text) if script == "abjad" or self.has_abjad else ""
        if len(skeleton) >= 2:
            # A latin query meets abjad-script keys only; an abjad query meets every key.
            if script == "abjad":
                parts.append(self.skeleton_vocab.search(skeleton, align_min / SKELETON_FACTOR))
            else:
                parts.append(
                    self.abjad_ids[self.abjad_skeleton_vocab.search(skeleton, align_min / SKELETON_FACTOR)]
                )
        ids = np.unique(np.concatenate(parts))
        found: dict[int, float] = {}
        if len(ids):
            sims = self._similarity_bound(text, text_loose, skeleton, script, ids)
            # Bulk and scalar edit similarities may differ in the last bit: keep ties.
            keep = sims >= align_min - _EPS
            for idx, sim in zip(ids[keep].tolist(), sims[keep].tolist(), strict=True):
                if len(self.raw_keys[idx]) > 1:
                    found[idx] = sim
        exact = self.raw_ids.get(text)
        if exact is not None:
            found[exact] = 1.0
        if self.analysis_type != PERSON:
            # Cut-off organisation words: keys the query word continues (the listed word was cut off).
            truncated_sim = self.config.truncated_sim
            for size in range(self.config.truncated_min, len(text)):
                idx = self.raw_ids.get(text[:size])
                if idx is not None:
                    found[idx] = max(found.get(idx, 0.0), truncated_sim)
        initial = self.raw_ids.get(text[0])
        if initial is not None and len(text) > 1 and not text[0].isdigit():
            found[initial] = max(found.get(initial, 0.0), self.config.initial_sim)
        result = tuple(sorted(found.items()))
        self._neighbour_cache[cache_key] = result
        return result

    def _similarity_bound(
        self, text: str, text_loose: str, skeleton: str, script: str, ids: np.ndarray
    ) -> np.ndarray:
        """Token similarity of `text` to vocabulary keys, computed in bulk; never below the scorer's value.

        Same formula as :func:`token_similarity` except that the digit and Han/Hangul exact-only rules
        are not applied, which can only raise the value (a superset for candidate generation).
        """
        sims = process.cdist(
            [text], self.raw_key_array[ids], scorer=OSA.normalized_similarity, dtype=np.float64
        )[0]
        loose = process.cdist(
            [text_loose], self.loose_array[ids], scorer=OSA.normalized_similarity, dtype=np.float64
        )[0]
        sims = np.maximum(sims, LOOSE_FACTOR * loose)
        if len(skeleton) >= 2:
            sk = process.cdist(
                [skeleton], self.skeleton_array[ids], scorer=OSA.normalized_similarity, dtype=np.float64
            )[0]
            applies = (self.skeleton_lengths[ids] >= 2) & ((script == "abjad") | self.key_is_abjad[ids])
            sims = np.where(applies, np.maximum(sims, SKELETON_FACTOR * sk), sims)
        # A keying error between short tokens (at most KEYING_MAX letters) is one edit: lift them all.
        longest = np.maximum(len(text), self.raw_lengths[ids])
        short_edit = (longest <= KEYING_MAX) & (sims >= 1.0 - 1.0 / KEYING_MAX - _EPS)
        return np.where(short_edit, np.maximum(sims, self.config.align_min), sims)

    def joined_neighbours(self, text: str) -> tuple[tuple[int, float], ...]:
        """(raw vocabulary id, similarity) a concatenation of query tokens could be aligned with (joined words)."""
        cached = self._joined_cache.get(text)
        if cached is not None:
            return cached
        floor = self.config.variant_sim
        candidates = self.raw_vocab.search(text, floor, 2).tolist()
        result = tuple(
            sorted((i, sim) for i in candidates if (sim := edit_similarity(text, self.raw_keys[i])) >= floor)
        )
        self._joined_cache[text] = result
        return result

    def composite_neighbours(self, text: str) -> tuple[tuple[int, float], ...]:
        """(id, similarity) of indexed concatenations of adjacent tokens a query token could be aligned with."""
        cached = self._composite_cache.get(text)
        if cached is not None:
            return cached
        floor = self.config.variant_sim
        candidates = self.composite_vocab.search(text, floor, 2).tolist()
        result = tuple(
            sorted(
                (i, sim)
                for i in candidates
                if (sim := edit_similarity(self.composite_keys[i], text)) >= floor
            )
        )
        self._composite_cache[text] = result
        return result

    def syllable_neighbours(self, text: str) -> tuple[tuple[int, float], ...]:
        """(id, similarity) of indexed concatenations of adjacent tokens a concatenation of two query tokens may match."""
        cached = self._syllable_cache.get(text)
        if cached is not None:
            return cached
        floor = self.config.variant_sim
        candidates = self.composite_vocab.search(text, floor).tolist()
        result = tuple(
            sorted(
                (i, sim)
                for i in candidates
                if (sim := edit_similarity(self.composite_keys[i], text)) >= floor
            )
        )
        self._syllable_cache[text] = result
        return result

    def continuations(self, text: str) -> np.ndarray:
        """Raw vocabulary ids of the keys that begin with `text` and are longer (`text` may be a cut-off word)."""
        low = int(np.searchsorted(self.sorted_keys, text, side="right"))
        high = int(np.searchsorted(self.sorted_keys, text + "\x7f", side="left"))
        return self.sorted_ids[low:high]

    def _own_sources(self, token, last: bool = False) -> list[tuple]:
        """Postings slices one query token may align with by itself (neighbours, joined entry words, acronyms).

        `last` marks the query's last token, which may itself be a cut-off organisation word.
        """
        sources: list[tuple] = []
        if token.kind == INITIAL:
            return sources
        word = 1 if token.kind == WORD else 0
        neighbours: dict[int, float] = {}
        for spelling in token.spellings:
            for i, sim in self.token_neighbours(spelling, token.script):
                if sim > neighbours.get(i, -1.0):
                    neighbours[i] = sim
        if last and self.analysis_type != PERSON and len(token.text) >= self.config.truncated_min:
            for i in self.continuations(token.text).tolist():
                neighbours[i] = max(neighbours.get(i, 0.0), self.config.truncated_sim)
        for i, sim in sorted(neighbours.items()):
            sources.append((*self.raw.get(i), 1, 1, sim, word))
        if len(token.text) > 1 and token.kind != NUMBER:
            for i, sim in self.composite_neighbours(token.text):
                sources.append((*self.composite.get(i), 3, 1, sim, 2 * word))
        acronym = self.acronym.ids.get(token.text) if acronym_eligible(token) else None
        if acronym is not None:
            distinctive = 2 if self.analysis_type != PERSON else 0
            sources.append((*self.acronym.get(acronym), 5, 1, self.config.acronym_sim, distinctive))
        return sources

    def _summary(self, sources: list[tuple]) -> tuple[np.ndarray, ...]:
        """Per-record and per-code arrays of one query token's sources (see candidate_pairs)."""
        sizes = [len(src[0]) for src in sources]
        codes = np.concatenate([src[0] for src in sources])
        emult = np.repeat([src[3] for src in sources], sizes)
        qmult = np.repeat([src[4] for src in sources], sizes)
        sims = np.repeat([src[5] for src in sources], sizes)
        modes = np.repeat([src[6] for src in sources], sizes)
        words = np.concatenate([src[2] for src in sources])
        distinctive = (modes == 2) | ((modes == 1) & words)
        records, inverse = np.unique(codes // _MAX_POSITIONS, return_inverse=True)
        cap = np.zeros(len(records))
        np.maximum.at(cap, inverse, emult)
        best = np.zeros(len(records))
        np.maximum.at(best, inverse, sims)
        entry_weights = np.concatenate([src[1] for src in sources])
        return records, cap, best, codes, entry_weights, qmult.astype(np.float64), codes[distinctive]

    def _token_summary(self, token, spans: list[tuple], last: bool = False) -> tuple[np.ndarray, ...] | None:
        """Summary of a query token's sources, cached by token and by what its spans reach."""
        key = (token.text, token.orig, token.script, token.kind, last)
        if spans:
            # A span source is fixed by its raw vocabulary id and its parameters (see _sources).
            span_key = (key, tuple(src[3:] for src in spans))
            cached = self._span_summary_cache.get(span_key)
            if cached is None:
                if len(self._span_summary_cache) >= _SPAN_SUMMARY_CACHE_SIZE:
                    self._span_summary_cache.clear()
                cached = self._span_summary_cache[span_key] = self._summary(
                    self._own_sources(token, last) + spans
                )
            return cached
        if key in self._summary_cache:
            return self._summary_cache[key]
        sources = self._own_sources(token, last)
        summary = self._summary(sources) if sources else None
        self._summary_cache[key] = summary
        return summary

    def _sources(self, tokens: tuple) -> tuple[list[list[tuple]], float, float]:
        """Postings only a span of query tokens reaches (joined words, acronyms), and what initials may add.

        A source is (codes, weights, words, entry tokens one pair may absorb, query tokens one pair may
        absorb, best similarity, distinctive mode: 0 never, 1 when the entry token is a word, 2 always),
        followed for spans by the raw vocabulary id the postings belong to.
        """
        per_token: list[list[tuple]] = [[] for _ in tokens]
        acronym_distinctive = 2 if self.analysis_type != PERSON else 0
        assumed = 0.0
        extra_entry = 0.0
        for token in tokens:
            if token.kind == INITIAL:
                # Any entry token with this first letter may align: count it everywhere.
                assumed += self.config.weight(INITIAL)
                extra_entry += self._max_weight
        # Query-side joined words and acronyms cover several query tokens at once.
        for size in (2, 3):
            for start in range(0, len(tokens) - size + 1):
                span = tokens[start : start + size]
                if any(t.kind == NUMBER for t in span):
                    continue
                word = 1 if any(t.kind == WORD for t in span) else 0
                for i, sim in self.joined_neighbours("".join(t.text for t in span)):
                    postings = self.raw.get(i)
                    for pos in range(start, start + size):
                        per_token[pos].append((*postings, 1, size, sim, word, i))
        # A short syllable may pair with an entry syllable compared within two-token units (jong un ~
        # jong on): the unit of query tokens is looked up among the entry's adjacent-token units.
        for start in range(0, len(tokens) - 1):
            span = tokens[start : start + 2]
            if any(t.kind == NUMBER for t in span):
                continue
            for pos in range(start, start + 2):
                token = tokens[pos]
                if token.kind != WORD or len(token.text) > SYLLABLE_MAX or token.script == "cjk":
                    continue
                for i, sim in self.syllable_neighbours("".join(t.text for t in span)):
                    per_token[pos].append((*self.composite.get(i), 1, 1, sim, 1, ("unit", i)))
        for size in range(3, 6):
            for start in range(0, len(tokens) - size + 1):
                span = tokens[start : start + size]
                if all(len(t.text) > 1 for t in span):
                    acronym_text = "".join(t.text[0] for t in span)
                    idx = self.raw_ids.get(acronym_text) if acronym_text in self._acronym_keys else None
                    if idx is not None:
                        postings = self.raw.get(idx)
                        for pos in range(start, start + size):
                            per_token[pos].append(
                                (*postings, 1, size, self.config.acronym_sim, acronym_distinctive, idx)
                            )
        return per_token, assumed, extra_entry

    def candidate_pairs(self, form: NameForm, floor: float) -> dict[int, set[int]]:
        """Records whose score upper bound against `form` reaches `floor`, grouped as party -> name indexes.

        Results are cached per (name, floor): a customer base repeats common names many times.
        """
        key = (form, floor)
        cached = self._candidate_cache.get(key)
        if cached is None:
            if len(self._candidate_cache) >= _CANDIDATE_CACHE_SIZE:
                self._candidate_cache.clear()
            cached = self._candidate_cache[key] = self._candidate_pairs(form, floor)
        return cached

    def _candidate_pairs(self, form: NameForm, floor: float) -> dict[int, set[int]]:
        tokens = form.tokens
        if not tokens or not len(self.record_party):
            return {}
        weights = np.array([self.config.weight(t.kind) for t in tokens], dtype=np.float64)
        spans, assumed, extra_entry = self._sources(tokens)
        query_records: list[np.ndarray] = []
        query_weights: list[np.ndarray] = []
        query_caps: list[np.ndarray] = []
        query_mass: list[np.ndarray] = []
        entry_codes: list[np.ndarray] = []
        entry_weights: list[np.ndarray] = []
        entry_caps: list[np.ndarray] = []
        distinctive_codes: list[np.ndarray] = []
        for pos, token in enumerate(tokens):
            summary = self._token_summary(token, spans[pos], pos == len(tokens) - 1)
            if summary is None:
                continue
            records, cap, best, codes, code_weights, qmult, dcodes = summary
            query_records.append(records)
            query_weights.append(np.full(len(records), weights[pos]))
            query_caps.append(cap * self._max_weight)
            query_mass.append(best * weights[pos])
            entry_codes.append(codes)
            entry_weights.append(code_weights)
            entry_caps.append(qmult)
            distinctive_codes.append(dcodes)
        if not query_records:
            if assumed > 0:
                # Only initials: every record may align with them; the bound decides.
                return self._bound_all(weights, assumed, extra_entry, floor)
            return {}
        touched, inverse = np.unique(np.concatenate(query_records), return_inverse=True)
        matched_query = np.bincount(inverse, weights=np.concatenate(query_weights), minlength=len(touched))
        # Each query token sits in one pair at most, which absorbs at most `emult` entry tokens.
        entry_capacity = np.bincount(inverse, weights=np.concatenate(query_caps), minlength=len(touched))
        # Agreement mass: each query token agrees at most as well as its best counterpart in the record.
        mass = np.bincount(inverse, weights=np.concatenate(query_mass), minlength=len(touched)) + assumed
        entry_total = self.record_weight[touched]
        total_query = float(weights.sum())
        if (
            assumed == 0
            and self._coarse_bound_sound
            and not self._coarse_survivors(
                matched_query, entry_capacity + extra_entry, entry_total, total_query, mass, floor
            )
        ):
            return {}
        codes, code_inverse = np.unique(np.concatenate(entry_codes), return_inverse=True)
        code_w = np.zeros(len(codes))
        code_w[code_inverse] = np.concatenate(entry_weights)
        code_q = np.zeros(len(codes))
        np.maximum.at(code_q, code_inverse, np.concatenate(entry_caps))
        slot = np.searchsorted(touched, codes // _MAX_POSITIONS)
        matched_entry = np.bincount(slot, weights=code_w, minlength=len(touched))
        # Likewise each entry token absorbs at most `qmult` query tokens.
        max_query_weight = float(weights.max())
        query_capacity = np.bincount(slot, weights=code_q, minlength=len(touched)) * max_query_weight
        matched_query = np.minimum(matched_query, query_capacity) + assumed
        # Initials may absorb one more entry token each, of at most full weight.
        matched_entry = np.minimum(np.minimum(matched_entry, entry_capacity) + extra_entry, entry_total)
        bound = name_score_upper_bound(
            matched_query,
            np.maximum(0.0, total_query - matched_query),
            matched_entry,
            np.maximum(0.0, entry_total - matched_entry),
            self.config,
            mass,
            self._extra_cost,
        )
        if any(t.kind == WORD for t in tokens):
            # Without a word agreeing with a word (or an organisation acronym) the scorer caps the name;
            # identical token lists are the only other way out, and they need a word on both sides.
            capable = np.zeros(len(touched), dtype=bool)
            found = np.concatenate(distinctive_codes)
            capable[np.searchsorted(touched, found // _MAX_POSITIONS)] = True
            weak_cap = self.config.weak_only_cap * (self.config.name_floor + self.config.name_richness)
            bound = np.where(capable, bound, np.minimum(bound, weak_cap))
        keep = touched[bound >= floor - _EPS]
        out: dict[int, set[int]] = defaultdict(set)
        for record_id in keep.tolist():
            out[int(self.record_party[record_id])].add(int(self.record_name[record_id]))
        if assumed > 0:
            untouched = self._bound_all(weights, assumed, extra_entry, floor)
            for party, names in untouched.items():
                out[party].update(names)
        return out

    def _coarse_survivors(
        self,
        matched_query: np.ndarray,
        entry_reach: np.ndarray,
        entry_total: np.ndarray,
        total_query: float,
        mass: np.ndarray,
        floor: float,
    ) -> bool:
        """Whether any record passes a looser bound built from per-record sums only (skips the per-token work).

        Dropping the per-token capacity limits only raises the matched weights, and with a conflict
        cost at least the one-sided cost the bound grows as unmatched weights shrink, so no record
        the exact bound keeps can fail here.
        """
        matched_entry = np.minimum(entry_reach, entry_total)
        bound = name_score_upper_bound(
            matched_query,
            np.maximum(0.0, total_query - matched_query),
            matched_entry,
            np.maximum(0.0, entry_total - matched_entry),
            self.config,
            mass,
            self._extra_cost,
        )
        return bool((bound >= floor - _EPS - _COARSE_MARGIN).any())

    def _bound_all(
        self, weights: np.ndarray, assumed: float, extra_entry: float, floor: float
    ) -> dict[int, set[int]]:
        """Bound for records aligned only through query initials (rare: names of initials)."""
        total_query = float(weights.sum())
        entry_total = self.record_weight
        matched_entry = np.minimum(entry_total, extra_entry)
        bound = name_score_upper_bound(
            np.full(len(entry_total), assumed),
            np.full(len(entry_total), total_query - assumed),
            matched_entry,
            entry_total - matched_entry,
            self.config,
        )
        out: dict[int, set[int]] = defaultdict(set)
        for record_id in np.nonzero(bound >= floor - _EPS)[0].tolist():
            out[int(self.record_party[record_id])].add(int(self.record_name[record_id]))
        return out


@dataclass(frozen=True, slots=True)
class _Party:
    """What the index needs of either side: names, type, qualifiers."""

    names: tuple[str, ...]
    type_: str
    birth_dates: tuple[str, ...]
    countries: tuple[str, ...]
    identifiers: tuple[str, ...]


class NameIndex:
    """Lossless candidate index over a collection of parties (listed entries or customers)."""

    def __init__(self, parties: Iterable[_Party], config: MatcherConfig = DEFAULT_CONFIG):
        self.config = config
        self.parties: list[_Party] = list(parties)
        self._typed: dict[tuple[str, str], _TypedIndex] = {}
        self._identifiers: dict[str, list[int]] = defaultdict(list)
        for number, party in enumerate(self.parties):
            if party.type_ in _KNOWN_TYPES:
                self._add(("typed", party.type_), party.type_, number, party)
            else:
                for as_type in (*_KNOWN_TYPES, UNKNOWN):
                    self._add(("unknown_as", as_type), as_type, number, party)
            for identifier in party.identifiers:
                key = normalize_identifier(identifier)
                if len(key) >= 4:
                    self._identifiers[key].append(number)
        for typed in self._typed.values():
            typed.freeze()

    def _add(self, key: tuple[str, str], as_type: str, number: int, party: _Party) -> None:
        typed = self._typed.get(key)
        if typed is None:
            typed = self._typed[key] = _TypedIndex(as_type, self.config)
        for name_index, name in enumerate(party.names):
            for alternate in split_alternates(name):
                typed.add(number, name_index, analyze_name(alternate, as_type))

    def _plans(self, query_type: str) -> list[tuple[_TypedIndex, str]]:
        """Which typed indexes to search and how to analyse the query for each (mirrors score_pair)."""
        plans: list[tuple[_TypedIndex, str]] = []
        if query_type in _KNOWN_TYPES:
            for key in (("typed", query_type), ("unknown_as", query_type)):
                if key in self._typed:
                    plans.append((self._typed[key], query_type))
        else:
            for as_type in _KNOWN_TYPES:
                if ("typed", as_type) in self._typed:
                    plans.append((self._typed[("typed", as_type)], as_type))
            if ("unknown_as", UNKNOWN) in self._typed:
                plans.append((self._typed[("unknown_as", UNKNOWN)], UNKNOWN))
        return plans

    def candidates(self, query: _Party, threshold: float) -> dict[int, frozenset[tuple[int, int]] | None]:
        """Parties that may score at least `threshold`, each with the (query name, party name) pairs to compare.

        None as the pair set means "compare every name" (identifier hits).
        """
        bonus = (self.config.dob_match_day if query.birth_dates else 0.0) + (
            self.config.country_match if query.countries else 0.0
        )
        floor = threshold - bonus
        pairs: dict[int, set[tuple[int, int]]] = defaultdict(set)
        for typed, as_type in self._plans(query.type_):
            for query_index, name in enumerate(query.names):
                for alternate in split_alternates(name):
                    form = analyze_name(alternate, as_type)
                    for party, name_indexes in typed.candidate_pairs(form, floor).items():
                        pairs[party].update((query_index, j) for j in name_indexes)
        out: dict[int, frozenset[tuple[int, int]] | None] = {p: frozenset(v) for p, v in pairs.items()}
        for identifier in query.identifiers:
            for party in self._identifiers.get(normalize_identifier(identifier), ()):
                out[party] = None
        return out


def _as_party_from_listed(entry: ListedParty) -> _Party:
    return _Party(
        tuple(entry.names),
        entry.entry_type or UNKNOWN,
        tuple(entry.birth_dates),
        tuple(entry.countries),
        tuple(entry.identifiers),
    )


def _as_party_from_subject(subject: Subject) -> _Party:
    return _Party(
        tuple(subject.names),
        subject.subject_type or UNKNOWN,
        tuple(subject.birth_dates),
        tuple(subject.countries),
        tuple(subject.identifiers),
    )


def score_subject_entry(
    subject: Subject,
    entry: ListedParty,
    config: MatcherConfig = DEFAULT_CONFIG,
    name_pairs: frozenset[tuple[int, int]] | None = None,
) -> MatchResult:
    """The scorer applied to one customer-side subject and one listed party."""
    return score_pair(
        tuple(subject.names),
        tuple(entry.names),
        subject.subject_type or UNKNOWN,
        entry.entry_type or UNKNOWN,
        tuple(subject.birth_dates),
        tuple(entry.birth_dates),
        tuple(subject.countries),
        tuple(entry.countries),
        tuple(subject.identifiers),
        tuple(entry.identifiers),
        config,
        name_pairs,
    )


def _hit(subject: Subject, entry: ListedParty, result: MatchResult, thresholds: Thresholds) -> Hit:
    return Hit(
        subject_key=subject.key,
        list_key=entry.list_key,
        entry_id=entry.entry_id,
        matched_name=result.matched_name,
        query_name=result.query_name,
        score=result.score,
        verdict=thresholds.verdict(result.score),
        explanation=result.explanation,
        content_hash=entry.content_hash,
    )


def _ordered(hits: list[Hit]) -> list[Hit]:
    # Highest score first; equal scores in a stable, reproducible order.
    return sorted(hits, key=lambda h: (-h.score, h.list_key, h.entry_id, h.subject_key))


def brute_force_screen(
    subject: Subject,
    entries: Sequence[ListedParty],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    config: MatcherConfig = DEFAULT_CONFIG,
) -> list[Hit]:
    """Baseline: score the subject against every entry, keep hits at or above the review threshold."""
    hits = []
    for entry in entries:
        if not types_compatible(subject.subject_type or UNKNOWN, entry.entry_type or UNKNOWN):
            continue
        result = score_subject_entry(subject, entry, config)
        if result.score >= thresholds.review:
            hits.append(_hit(subject, entry, result, thresholds))
    return _ordered(hits)


class Screener:
    """Screens subjects against listed parties through the lossless index.

    :param entries: the listed parties (every active list together)
    :param thresholds: review and match thresholds from the policy
    :param config: matcher weights
    """

    def __init__(
        self,
        entries: Iterable[ListedParty],
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        config: MatcherConfig = DEFAULT_CONFIG,
    ):
        self.entries: Sequence[ListedParty] = list(entries)
        self.thresholds = thresholds
        self.config = config
        self.index = NameIndex((_as_party_from_listed(e) for e in self.entries), config)

    @classmethod
    def from_index(
        cls, entries: Sequence[ListedParty], index: NameIndex, thresholds: Thresholds, config: MatcherConfig
    ) -> Screener:
        """A screener over an index already built (a persisted one, see :mod:`kyc_core.screening.persist`)."""
        screener = cls.__new__(cls)
        screener.entries, screener.index, screener.thresholds, screener.config = (
            entries,
            index,
            thresholds,
            config,
        )
        return screener

    def screen(self, subject: Subject) -> list[Hit]:
        """Hits at or above the review threshold, best first, each with its explanation."""
        hits = []
        for number, pairs in self.index.candidates(
            _as_party_from_subject(subject), self.thresholds.review
        ).items():
            entry = self.entries[number]
            result = score_subject_entry(subject, entry, self.config, pairs)
            if result.score >= self.thresholds.review:
                hits.append(_hit(subject, entry, result, self.thresholds))
        return _ordered(hits)


class CustomerIndex:
    """The reverse direction: a few new or changed list entries against many customers.

    :param subjects: every customer, officer and beneficial owner to watch
    :param thresholds: review and match thresholds from the policy
    :param config: matcher weights
    """

    def __init__(
        self,
        subjects: Iterable[Subject],
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        config: MatcherConfig = DEFAULT_CONFIG,
    ):
        self.subjects: list[Subject] = list(subjects)
        self.thresholds = thresholds
        self.config = config
        self.index = NameIndex((_as_party_from_subject(s) for s in self.subjects), config)

    def screen_entry(self, entry: ListedParty) -> list[Hit]:
        """Hits of one listed entry among the customers, best first."""
        hits = []
        for number, pairs in self.index.candidates(
            _as_party_from_listed(entry), self.thresholds.review
        ).items():
            subject = self.subjects[number]
            # Candidate pairs are (entry name, subject name); the scorer takes the subject first.
            swapped = None if pairs is None else frozenset((j, i) for i, j in pairs)
            result = score_subject_entry(subject, entry, self.config, swapped)
            if result.score >= self.thresholds.review:
                hits.append(_hit(subject, entry, result, self.thresholds))
        return _ordered(hits)

    def screen_delta(self, entries: Iterable[ListedParty]) -> list[Hit]:
        """Hits of every given entry (a list delta), best first."""
        hits: list[Hit] = []
        for entry in entries:
            hits.extend(self.screen_entry(entry))
        return _ordered(hits)
