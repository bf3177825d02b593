"""Name normalization: transliteration, case, punctuation, honorifics, legal forms, spelling variants.

Every name, customer or listed, goes through :func:`analyze_name` so both sides of a comparison speak
the same reduced alphabet. The output keeps what was removed (legal form, honorifics) as features.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii
from rapidfuzz.distance import OSA

# Token kinds: a word carries identity; the others are weak evidence by nature.
WORD = "word"
STOP = "stop"  # particles and filler (al, bin, de, the, of)
GENERIC = "generic"  # words many organisation names share (group, holding, international)
INITIAL = "initial"  # a single letter standing for a given name
NUMBER = "number"  # digits, number words and series markers

PERSON = "person"
ORGANIZATION = "organization"
VESSEL = "vessel"
AIRCRAFT = "aircraft"
UNKNOWN = "unknown"

_PARTICLES = frozenset(
    "al el ul bin ibn ben bint binti bte de da do dos das del della di du der den van von ter le la y e"
    " the of and for in at und et".split()
)

_GENERIC_ORG_WORDS = frozenset(
    """group groupe gruppe holding holdings international company companies enterprise enterprises
    industries industry trading trade services service solutions systems global partners capital
    management investment investments fund trust foundation association organization institute
    society national general corporation limited incorporated entreprise societe finance
    financial consulting conseil gestion patrimoine immobilier immobiliere transport transports""".split()
)

# Honorifics and titles carry no identity; removed when leading, downweighted elsewhere.
_HONORIFICS = frozenset(
    """mr mrs ms miss mme mlle monsieur madame herr frau dr doctor prof professor sir dame lord lady
    sheikh shaikh shaykh sheik cheikh haji hajji hadji hajj mullah mulla maulvi maulana qari imam
    ayatollah hojatoleslam president prasident praesident general gen col colonel capt captain
    major lt lieutenant his her excellency he hon honourable honorable rev reverend father""".split()
)

# Vessel prefixes (motor vessel, motor tanker...) are not part of the ship's name.
_VESSEL_PREFIXES = frozenset("mv mt ms ss my fv tb".split())

# Legal forms across jurisdictions, grouped into families: two different families on the two sides
# of a comparison mean two different legal persons (Deutsche Bank AG is not Deutsche Bank GmbH).
_LEGAL_FORMS: dict[str, tuple[str, str]] = {}


def _register_forms(family: str, canonical: str, spellings: str) -> None:
    for spelling in spellings.split("|"):
        _LEGAL_FORMS[spelling.strip()] = (canonical, family)


_register_forms("stock", "ag", "ag|aktiengesellschaft|aktiengeselschaft")
_register_forms("stock", "sa", "sa|societe anonyme|sociedad anonima|sa de cv|sab de cv|sociedade anonima")
_register_forms("stock", "sas", "sas|sasu|societe par actions simplifiee")
_register_forms(
    "stock",
    "jsc",
    "jsc|ojsc|cjsc|pjsc|oao|zao|pao|ao|jsco|joint stock company|open joint stock company"
    " |closed joint stock company|public joint stock company|aktsionernoe obshchestvo"
    " |otkrytoe aktsionernoe obshchestvo|zakrytoe aktsionernoe obshchestvo"
    " |publichnoe aktsionernoe obshchestvo|aktsionernoye obshchestvo|public jsc|open jsc|closed jsc",
)
_register_forms("stock", "plc", "plc|public limited company")
_register_forms("stock", "nv", "nv|naamloze vennootschap")
_register_forms("stock", "spa", "spa|societa per azioni")
_register_forms("stock", "ab", "ab|aktiebolag|publ")
_register_forms("stock", "as", "as|a s|asa|aps")
_register_forms("stock", "se", "se|societas europaea")
_register_forms("stock", "kk", "kk|kabushiki kaisha")
_register_forms(
    "llc",
    "llc",
    "llc|lc|limited liability company|ooo|obshchestvo s ogranichennoi otvetstvennostiu"
    " |obshchestvo s ogranichennoy otvetstvennostyu|tov",
)
_register_forms("llc", "gmbh", "gmbh|gesellschaft mit beschrankter haftung|ges m b h")
_register_forms("llc", "sarl", "sarl|eurl|societe a responsabilite limitee")
_register_forms(
    "llc",
    "srl",
    "srl|societatea cu raspundere limitata|societa a responsabilita limitata|sl|sociedad limitada"
    " |s de rl|ltda",
)
_register_forms("llc", "bv", "bv|bvba|besloten vennootschap")
_register_forms("llc", "spzoo", "sp z oo|spolka z ograniczona odpowiedzialnoscia|sro|doo|kft")
_register_forms("partnership", "lp", "lp|llp|limited partnership|kg|gbr|ohg|snc|scs|gp|cv|sca|kgaa")
_register_forms("civil", "sci", "sci|societe civile immobiliere|societe civile|scp|scm")
_register_forms("nonprofit", "ano", "ano|avtonomnaya nekommercheskaya organizatsiya|ev|gie|asbl")
_register_forms("neutral", "inc", "inc|incorporated")
_register_forms("neutral", "corp", "corp|corporation|corporacion")
_register_forms("neutral", "co", "co|company|cie")
_register_forms("neutral", "ltd", "ltd|limited|pte|pty|pty ltd|pte ltd|co ltd|bhd|sdn bhd|pt|tbk")

_MAX_FORM_TOKENS = max(len(k.split()) for k in _LEGAL_FORMS)
# Abbreviations inside legal-form phrases (LTD LIABILITY COMPANY, CLOSED JOINT STOCK CO).
_FORM_WORD_ABBREVIATIONS = {"ltd": "limited", "co": "company", "corp": "corporation", "inc": "incorporated"}


def _expand_form_words(phrase: str) -> str:
    return " ".join(_FORM_WORD_ABBREVIATIONS.get(w, w) for w in phrase.split())


_EXPANDED_FORMS = {_expand_form_words(k): v for k, v in _LEGAL_FORMS.items() if len(k.split()) > 1}
# Spellings long enough to be recognised with one keying error or cut off at the end of a name
# (fixed-width source fields: "JOINT STOCK COMPAN"); short ones (sa, ag, co) only ever exactly.
_FUZZY_FORMS: dict[int, list[tuple[tuple[str, ...], str, str]]] = {}
for _spelling, (_canonical, _family) in _LEGAL_FORMS.items():
    if len(_spelling.replace(" ", "")) >= 6:
        _words = tuple(_spelling.split())
        _FUZZY_FORMS.setdefault(len(_words), []).append((_words, _canonical, _family))
# A word this long or longer may carry one keying error; a cut-off word keeps at least this many letters.
_FUZZY_FORM_WORD = 5
_TRUNCATED_FORM_PREFIX = 4

# Token-level spelling variants of the same name across transliteration conventions.
_VARIANTS: dict[str, str] = {}


def _register_variants(canonical: str, spellings: str) -> None:
    for spelling in spellings.split():
        _VARIANTS[spelling] = canonical


_register_variants(
    "muhammad",
    "mohammed mohammad mohamed mohamad muhammed muhamad muhamed mohd mohammod"
    " mukhammad mukhamed mouhamed mouhammad muhammet mehmet mohamud mohummad mochammad",
)
_register_variants("abdul", "abdel abdal abdoul abdol abd")
_register_variants("abdullah", "abdallah abdalla abdulah abdollah abdulla")
_register_variants("ahmad", "ahmed ahmet achmad akhmad")
_register_variants("husayn", "hussein husein hussain husain hossein hussayn")
_register_variants("hasan", "hassan hasaan")
_register_variants("yusuf", "youssef yousef yusef yousuf youssouf")
_register_variants("usama", "osama")
_register_variants("bin", "ibn ben bint binti")
_register_variants("abu", "abou abo")
_register_variants("al", "el ul")
_register_variants("organization", "organisation")
_register_variants("and", "und et")
_register_variants("saint", "st ste")

# Abbreviated organisation words, read as the word they stand for wherever they sit in a name
# (legal forms at either end are removed before this applies).
_ORG_VARIANTS = {
    "corp": "corporation",
    "corporacion": "corporation",
    "co": "company",
    "cie": "company",
    "ltd": "limited",
    "inc": "incorporated",
    "intl": "international",
    "natl": "national",
    "mfg": "manufacturing",
    "ind": "industries",
    "inds": "industries",
    "bros": "brothers",
    "assn": "association",
    "assoc": "association",
    "dept": "department",
}

# Multi-token spellings folded before token-level work ("abd al aziz" -> "abdul aziz"). A bare "abd" is
# a variant of "abdul" at token level (it may also be a whole family name, AL-'ABD).
_PHRASE_REWRITES = (
    (re.compile(r"\babd (?:al|el|ul|ol) "), "abdul "),
    (re.compile(r"\bu s a\b|\bu s\b"), "united states"),
)

_NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}
_TENS_WORDS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_ORDINAL_RE = re.compile(r"^(\d+)(?:st|nd|rd|th|er|e|eme|ème)$")
_ROMAN_RE = re.compile(r"^(?=[ivxl]+$)l?x{0,3}(?:ix|iv|v?i{0,3})$")

# Scripts whose usual romanisation drops short vowels (Arabic, Persian, Urdu, Hebrew): tokens coming
# from them are compared on their consonant skeleton.
_ABJAD_RANGES = ((0x0590, 0x05FF), (0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))

_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0x1100, 0x11FF), (0x3130, 0x318F))
_LOOSE_REWRITES = (
    ("ph", "f"),
    ("kh", "h"),
    ("ck", "k"),
    ("q", "k"),
    ("w", "v"),
    ("y", "i"),
    ("j", "i"),
    ("ou", "u"),
    ("oo", "u"),
    ("ee", "i"),
    ("ei", "i"),
    ("ie", "i"),
)
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "9": "g"}
_LEET_RE = re.compile(r"(?<=[a-z])[0134579](?=[a-z])|^[0134579](?=[a-z]{2})|(?<=[a-z]{2})0$")
_APOSTROPHES = re.compile(r"['\u2019\u2018\u02bc\u02bb`\u00b4\u2032]")
_DOTTED_INITIALS = re.compile(r"\b([a-z])\.(?:\s?-?\s?([a-z])\b\.?)+")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z][a-z])|(?<=[a-z]{3})(?=[A-Z]{2,4}\b)")


@dataclass(frozen=True, slots=True)
class Token:
    """One normalized token of a name with its kind."""

    text: str
    kind: str
    # "abjad" when romanised from a script without short vowels (compared on consonant skeletons),
    # "cjk" when from Han or Hangul (each syllable is a morpheme: no fuzzy spelling), else "".
    script: str = ""
    # The spelling as written when `text` is its canonical variant (mohamed -> muhammad), else "":
    # a keying error in the written spelling is still compared with what was written.
    orig: str = ""
    # True for the family-name part of a "SURNAME, Given" name: initials never stand for it.
    surname: bool = False

    @property
    def spellings(self) -> tuple[str, ...]:
        """The canonical text, then the written spelling when it differs."""
        return (self.text, self.orig) if self.orig else (self.text,)


@dataclass(frozen=True, slots=True)
class NameForm:
    """A name reduced for comparison, with the features normalization detected."""

    raw: str
    tokens: tuple[Token, ...]
    legal_form: str | None = None
    legal_family: str | None = None
    honorifics: tuple[str, ...] = ()
    had_comma: bool = False
    # A legal form was removed from the end (so the name was not cut off inside its last word).
    form_at_end: bool = False

    @property
    def texts(self) -> tuple[str, ...]:
        """Token strings in order."""
        return tuple(t.text for t in self.tokens)


def _script_of(text: str) -> str:
    """abjad, cjk or "" depending on the script most letters of `text` belong to."""
    if text.isascii():
        return ""
    letters = [ord(c) for c in text if c.isalpha()]
    if not letters:
        return ""
    abjad = cjk = 0
    for code in letters:
        if any(lo <= code <= hi for lo, hi in _ABJAD_RANGES):
            abjad += 1
        elif any(lo <= code <= hi for lo, hi in _CJK_RANGES):
            cjk += 1
    if abjad * 2 > len(letters):
        return "abjad"
    if cjk * 2 > len(letters):
        return "cjk"
    return ""


@lru_cache(maxsize=200_000)
def loose_form(text: str) -> str:
    """Spelling folded across romanisation conventions (y/i, w/v, kh/h, ph/f, ou/u, doubled letters)."""
    for old, new in _LOOSE_REWRITES:
        text = text.replace(old, new)
    out: list[str] = []
    for char in text:
        if out and out[-1] == char:
            continue
        out.append(char)
    return "".join(out)


def _unleet(word: str) -> str:
    """Digits typed for look-alike letters inside a word (1g0r, Sech1n) read as those letters."""
    if word.isdigit() or word.isalpha() or _ORDINAL_RE.match(word):
        return word
    return _LEET_RE.sub(lambda m: _LEET[m.group(0)], word)


@lru_cache(maxsize=200_000)
def consonant_skeleton(text: str) -> str:
    """The token without vowels and semi-vowels, doubled letters collapsed (how abjad scripts write it)."""
    out: list[str] = []
    for char in text:
        if char in "aeiouwy" or not char.isalpha():
            continue
        if char == "p":
            char = "b"  # Arabic has no /p/: Perez is written with a b
        if char == "v":
            char = "f"
        if out and out[-1] == char:
            continue
        out.append(char)
    return "".join(out)


def transliterate(text: str) -> str:
    """Latin ASCII rendering of any script, accents removed, case kept."""
    text = unicodedata.normalize("NFKC", text)
    return anyascii(text)


def _basic_clean(text: str, join_initials: bool = True) -> str:
    """Lowercase ASCII with punctuation folded to single spaces; dotted initials joined for organisations.

    A person's "S. T." is two given names, not the word "st" (saint) nor "mr" (mister).
    """
    text = _CAMEL.sub(" ", text) if any(c.islower() for c in text) else text
    text = text.lower()
    text = re.sub(r"['\u2019]s\b", "", text) if re.search(r"[a-z]{2}['\u2019]s\b", text) else text
    text = _APOSTROPHES.sub("", text)
    text = text.replace("&", " and ").replace("%", " percent ").replace("+", " plus ")
    if join_initials:
        text = _DOTTED_INITIALS.sub(lambda m: re.sub(r"[^a-z]", "", m.group(0)) + " ", text)
    return _NON_ALNUM.sub(" ", text).strip()


def _fold_numbers(words: list[str]) -> list[str]:
    """Number words and ordinals as digits, "forty four" as 44."""
    out: list[str] = []
    for word in words:
        match = _ORDINAL_RE.match(word)
        if match:
            word = match.group(1)
        if word in _NUMBER_WORDS:
            word = str(_NUMBER_WORDS[word])
        elif word in _TENS_WORDS:
            word = str(_TENS_WORDS[word])
        if (
            out
            and word.isdigit()
            and len(word) == 1
            and out[-1].isdigit()
            and out[-1].endswith("0")
            and len(out[-1]) == 2
        ):
            out[-1] = str(int(out[-1]) + int(word))
            continue
        out.append(word)
    return out


def _fuzzy_legal_form(words: tuple[str, ...], at_end: bool) -> tuple[str, str] | None:
    """The legal form a phrase spells with one keying error, or cut off inside its last word at the name's end."""
    for spelling, canonical, family in _FUZZY_FORMS.get(len(words), ()):
        if words[0][:1] != spelling[0][:1]:
            continue
        edits = 0
        for i, (word, form_word) in enumerate(zip(words, spelling, strict=True)):
            if word == form_word:
                continue
            last = i == len(words) - 1
            if at_end and last and len(word) >= _TRUNCATED_FORM_PREFIX and form_word.startswith(word):
                if len(words) > 1 or len(word) >= _FUZZY_FORM_WORD + 1:
                    continue
            if len(form_word) >= _FUZZY_FORM_WORD and OSA.distance(word, form_word, score_cutoff=1) <= 1:
                edits += 1
                # One keying error per phrase, two in the long transliterated ones (obshchestvo s ...).
                if edits <= (2 if len(words) >= 3 else 1):
                    continue
            break
        else:
            return canonical, family
    return None


def _strip_legal_forms(words: list[str], type_: str) -> tuple[list[str], str | None, str | None, bool]:
    """Remove legal-form phrases at either end; return what is left, the detected form and whether one ended the name.

    Persons have no legal form: their trailing PAO or SA is a name.
    """
    form: str | None = None
    family: str | None = None
    at_end = False
    if type_ == PERSON:
        return words, form, family, at_end
    changed = True
    while changed and len(words) > 1:
        changed = False
        for size in range(min(_MAX_FORM_TOKENS, len(words) - 1), 0, -1):
            for start in (0, len(words) - size):
                phrase = " ".join(words[start : start + size])
                found = (
                    _LEGAL_FORMS.get(phrase)
                    or (_EXPANDED_FORMS.get(_expand_form_words(phrase)) if size > 1 else None)
                    or _fuzzy_legal_form(
                        tuple(words[start : start + size]), at_end=start > 0 or size == len(words)
                    )
                )
                if found is None:
                    continue
                canonical, fam = found
                if form is None or family == "neutral":
                    form, family = canonical, fam
                at_end = at_end or start > 0
                del words[start : start + size]
                changed = True
                break
            if changed:
                break
    return words, form, family, at_end


def _token_kind(word: str, type_: str) -> str:
    if word.isdigit():
        return NUMBER
    if type_ in (ORGANIZATION, VESSEL, AIRCRAFT) and _ROMAN_RE.match(word):
        # Series markers (Fund IV, Trust II) on organisations and ships; on people a V. is an initial.
        return NUMBER
    if len(word) == 1:
        return INITIAL
    if word in _PARTICLES:
        return STOP
    if type_ != PERSON and word in _GENERIC_ORG_WORDS:
        return GENERIC
    return WORD


# Stands between the given names and the surname of a "SURNAME, Given" name through normalization.
_SURNAME_MARK = "qqsurnameqq"


def _split_comma_form(text: str, type_: str) -> tuple[str, bool]:
    """ "SURNAME, Given" (list style) becomes "Given <mark> SURNAME" for persons."""
    if type_ == ORGANIZATION or text.count(",") != 1:
        return text, False
    head, tail = (part.strip() for part in text.split(","))
    if not head or not tail or len(head.split()) > 3:
        return text, False
    if _NON_ALNUM.sub(" ", transliterate(tail).lower()).strip() in _LEGAL_FORMS:
        return text, False  # "ACME, INC.": an organisation and its legal form
    return f"{tail} {_SURNAME_MARK} {head}", True


@lru_cache(maxsize=200_000)
def analyze_name(raw: str, type_: str = UNKNOWN) -> NameForm:
    """Normalize one name for comparison; `type_` is person, organization, vessel, aircraft or unknown."""
    text, had_comma = _split_comma_form(raw, type_)
    script = _script_of(text)
    cleaned = _basic_clean(transliterate(text), join_initials=type_ not in (PERSON, UNKNOWN))
    for pattern, replacement in _PHRASE_REWRITES:
        cleaned = pattern.sub(replacement, cleaned)
    words = [_unleet(w) for w in cleaned.split()]
    words = _fold_numbers(words)
    surname_from = len(words)
    if had_comma:
        surname_from = words.index(_SURNAME_MARK)
        del words[surname_from]
        if surname_from == 0 or surname_from == len(words):
            surname_from = len(words)
    honorifics: list[str] = []
    while len(words) > 1 and words[0] in _HONORIFICS and type_ in (PERSON, UNKNOWN):
        honorifics.append(words.pop(0))
        surname_from -= 1
    if type_ == VESSEL:
        while len(words) > 1 and words[0] in _VESSEL_PREFIXES:
            words.pop(0)
    before = len(words)
    words, legal_form, legal_family, form_at_end = _strip_legal_forms(words, type_)
    if surname_from < len(words) and len(words) == before:
        surname = [False] * surname_from + [True] * (len(words) - surname_from)
    else:
        # "ACME, INC." is an organisation with a legal form, not a surname and a given name.
        surname = [False] * len(words)
    if type_ == UNKNOWN and legal_form is not None:
        type_ = ORGANIZATION
    tokens: list[Token] = []
    org_words = type_ in (ORGANIZATION, VESSEL, AIRCRAFT) or legal_form is not None
    for position, (word, is_surname) in enumerate(zip(words, surname, strict=True)):
        after_particle = position > 0 and words[position - 1] in ("al", "el", "ul")
        canonical = _VARIANTS.get(word, word)
        if org_words:
            canonical = _ORG_VARIANTS.get(canonical, canonical)
        kind = _token_kind(canonical, type_)
        if kind == WORD and word in _HONORIFICS and type_ in (PERSON, UNKNOWN):
            # A title inside a name says nothing; as a family name (AL-HAJJ, Yahya; Y. Al-Hajj) it is the name.
            if not (is_surname or after_particle):
                kind = STOP
        tokens.append(Token(canonical, kind, script, word if canonical != word else "", is_surname))
    return NameForm(raw, tuple(tokens), legal_form, legal_family, tuple(honorifics), had_comma, form_at_end)


def split_alternates(raw: str) -> list[str]:
    """Names published as "A/B" (UN style) are two alternate spellings; legal forms like A/S are kept."""
    parts = [p.strip() for p in re.split(r"(?<=\w{2})\s*/\s*(?=\w{2})", raw)]
    return [p for p in parts if p] or [raw]
