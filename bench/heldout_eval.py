"""Held-out screening quality: recall on perturbed real listed names, false alerts on French customers.

Inputs, all read in place and printed:
- listed entries: the real OFAC SDN (2024-05-02), UN SC, EU and UK files in ../shared/data/real, all screened
  together through the production screener (index + scorer), exactly as `kyc screen` does;
- positives: names of those entries perturbed by a seeded generator, one perturbation class at a time
  (a typo in one token, given names as initials, Arabic/European particle spellings, a missing part,
  another word order, transliteration spellings, company words abbreviated or expanded, a truncated
  company name); the generator rewrites spellings by general rules and never reads the matcher's tables;
- negatives: --customers French customers, persons (with birth date and nationality, as onboarding knows
  them) and companies, generated from the seed.

Reported: for each class, the share of perturbed names whose source entry is hit at or above the review
threshold (and at or above match); for negatives, the share of customers with any hit at or above review
(a false alert) and at or above match, persons and companies apart.

    .venv/bin/python bench/heldout_eval.py [--per-variant 300] [--customers 3000] [--seed 1307] [--misses]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from kyc_core.screening.compare import DEFAULT_THRESHOLDS, MATCHER_VERSION
from kyc_core.screening.index import Screener
from kyc_core.screening.model import ListedParty, Subject

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
LISTS = ("ofac/history/2024-05-02/sdn.csv", "un/UN_consolidated.xml", "eu/eu_sample.xml", "uk/uk_sample.xml")

# Physical neighbours on an AZERTY/QWERTY keyboard (a French operator keys names on either).
_KEYS = ["azertyuiop", "qsdfghjklm", "wxcvbn", "qwertyuiop", "asdfghjkl", "zxcvbnm"]
_NEIGHBOURS: dict[str, set[str]] = defaultdict(set)
for _row in _KEYS:
    for _i, _c in enumerate(_row):
        if _i > 0:
            _NEIGHBOURS[_c].add(_row[_i - 1])
        if _i + 1 < len(_row):
            _NEIGHBOURS[_c].add(_row[_i + 1])

_LATIN = re.compile(r"^[A-Za-z][A-Za-z .,'\-()]*$")

# --------------------------------------------------------------------------------------------
# Perturbations of one listed name. Each returns None when it does not apply to the name.


def _case_like(template: str, word: str) -> str:
    if template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:].lower()
    return word.lower()


def _typo(rng: random.Random, word: str) -> str | None:
    """One keying error inside a word of 4+ letters: transposition, dropped, doubled or neighbour letter."""
    letters = word
    if len(letters) < 4 or not letters.isalpha():
        return None
    kind = rng.randrange(4)
    i = rng.randrange(1, len(letters) - 1)
    if kind == 0:
        return letters[:i] + letters[i + 1] + letters[i] + letters[i + 2 :]
    if kind == 1:
        return letters[:i] + letters[i + 1 :]
    if kind == 2:
        return letters[:i] + letters[i] + letters[i:]
    lower = letters[i].lower()
    if lower not in _NEIGHBOURS:
        return None
    other = rng.choice(sorted(_NEIGHBOURS[lower]))
    return letters[:i] + _case_like(letters[i], other) + letters[i + 1 :]


def _given_last(name) -> tuple[list[str], list[str]] | None:
    """Given-name words and surname words of a listed person, when the list says which is which."""
    if name.first and name.last:
        return name.first.split(), name.last.split()
    if name.full.count(",") == 1:
        last, first = (p.strip() for p in name.full.split(","))
        if first and last:
            return first.split(), last.split()
    return None


def v_typo(rng: random.Random, name, kind: str) -> str | None:
    words = name.full.replace(",", " ,").split()
    eligible = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not eligible:
        return None
    i = rng.choice(eligible)
    changed = _typo(rng, words[i])
    if changed is None:
        return None
    words[i] = changed
    return " ".join(words).replace(" ,", ",")


def v_initials(rng: random.Random, name, kind: str) -> str | None:
    parts = _given_last(name) if kind == "person" else None
    if not parts:
        return None
    given, last = parts
    given = [g for g in given if g.isalpha()]
    if not given:
        return None
    style = rng.randrange(3)
    if style == 0:  # every given name as an initial: "S. T. Sekeramayi"
        front = " ".join(f"{g[0].upper()}." for g in given)
    elif style == 1:  # first given name kept, the others as initials: "Sidney T. Sekeramayi"
        front = " ".join([given[0].title()] + [f"{g[0].upper()}." for g in given[1:]])
        if len(given) == 1:
            front = f"{given[0][0].upper()}."
    else:  # first initial only: "S. Sekeramayi"
        front = f"{given[0][0].upper()}."
    return f"{front} {' '.join(w.title() for w in last)}"


_PARTICLE_RULES: list[tuple[re.Pattern, list[str]]] = [
    (re.compile(r"\b(AL|Al|al|EL|El|el)[- ]"), ["Al ", "El-", "al-", "El ", ""]),
    (
        re.compile(r"\b(ABD|Abd|abd)[- ](AL|Al|al|EL|El|el)[- ]?", re.I),
        ["Abdul ", "Abdel", "Abd-al-", "Abdal "],
    ),
    (re.compile(r"\b(ABDUL|Abdul|ABDEL|Abdel)[- ]?", re.I), ["Abd al-", "Abdel ", "Abd el ", "Abdoul "]),
    (re.compile(r"\b(BIN|Bin|bin|IBN|Ibn|ibn|BEN|Ben)\b"), ["ibn", "bin", "ben", "b."]),
    (re.compile(r"\b(ABU|Abu|abu|ABOU|Abou)\b"), ["Abou", "Abu", "Abo"]),
    (re.compile(r"\b(DE|De|de|DA|Da|da|DOS|dos|DEL|Del|del|VAN|Van|van|VON|Von|von)\s"), ["", "d'"]),
]


def v_particle(rng: random.Random, name, kind: str) -> str | None:
    if kind != "person":
        return None
    rules = [(p, r) for p, r in _PARTICLE_RULES if p.search(name.full)]
    if not rules:
        return None
    pattern, replacements = rng.choice(rules)
    replacement = rng.choice(replacements)
    changed = pattern.sub(lambda m: replacement, name.full, count=1)
    changed = re.sub(r"\s+", " ", changed).strip()
    return changed if changed != name.full else None


def v_missing(rng: random.Random, name, kind: str) -> str | None:
    if kind == "person":
        parts = _given_last(name)
        if not parts:
            return None
        given, last = parts
        if len(given) < 2:
            return None
        del given[rng.randrange(len(given))]
        return f"{' '.join(given)} {' '.join(last)}"
    words = name.full.split()
    if len(words) < 3:
        return None
    del words[rng.randrange(1, len(words))]
    return " ".join(words)


def v_reorder(rng: random.Random, name, kind: str) -> str | None:
    if kind != "person":
        return None
    parts = _given_last(name)
    if not parts:
        return None
    given, last = parts
    if rng.random() < 0.5:
        return f"{' '.join(w.title() for w in given)} {' '.join(w.upper() for w in last)}"
    return f"{' '.join(last)} {' '.join(given)}"


_TRANSLIT_RULES = [
    ("ou", "u"),
    ("u", "ou"),
    ("y", "i"),
    ("i", "y"),
    ("kh", "h"),
    ("kh", "k"),
    ("sh", "ch"),
    ("ch", "sh"),
    ("j", "dj"),
    ("j", "zh"),
    ("zh", "j"),
    ("q", "k"),
    ("k", "q"),
    ("ee", "i"),
    ("oo", "u"),
    ("w", "ou"),
    ("w", "v"),
    ("v", "w"),
    ("ph", "f"),
    ("e", "a"),
    ("a", "e"),
    ("o", "u"),
    ("ei", "ey"),
    ("ai", "ay"),
    ("ss", "s"),
    ("s", "ss"),
    ("tt", "t"),
    ("ll", "l"),
    ("mm", "m"),
    ("dh", "d"),
    ("th", "t"),
    ("gh", "g"),
    ("iy", "i"),
    ("yev", "ev"),
    ("ey", "ei"),
]


def v_transliteration(rng: random.Random, name, kind: str) -> str | None:
    if kind != "person":
        return None
    words = name.full.replace(",", " ,").split()
    options = []
    for i, word in enumerate(words):
        lower = word.lower()
        if len(lower) < 4 or not lower.isalpha():
            continue
        for old, new in _TRANSLIT_RULES:
            # Inside the word only: the first letter is how everyone files the name.
            at = lower.find(old, 1)
            if at > 0:
                options.append((i, at, old, new))
    if not options:
        return None
    i, at, old, new = rng.choice(options)
    word = words[i]
    replaced = word[:at] + _case_like(word[at : at + len(old)] or word, new) + word[at + len(old) :]
    if word.isupper():
        replaced = replaced.upper()
    words[i] = replaced
    return " ".join(words).replace(" ,", ",")


_COMPANY_WORDS = [
    ("CORPORATION", "CORP"),
    ("CORP", "CORPORATION"),
    ("COMPANY", "CO"),
    ("CO", "COMPANY"),
    ("LIMITED", "LTD"),
    ("LTD", "LIMITED"),
    ("INTERNATIONAL", "INTL"),
    ("INCORPORATED", "INC"),
    ("INC", "INCORPORATED"),
    ("INDUSTRIES", "IND"),
    ("ORGANIZATION", "ORGANISATION"),
    ("AND", "&"),
    ("&", "AND"),
    ("JOINT STOCK COMPANY", "JSC"),
    ("JSC", "JOINT STOCK COMPANY"),
    ("LLC", "L.L.C."),
    ("CO., LTD.", "CO LTD"),
]


def v_company_words(rng: random.Random, name, kind: str) -> str | None:
    if kind != "organization":
        return None
    upper = name.full.upper()
    options = [(o, n) for o, n in _COMPANY_WORDS if re.search(rf"(?<![A-Z]){re.escape(o)}(?![A-Z])", upper)]
    if not options:
        return None
    old, new = rng.choice(options)
    return re.sub(rf"(?<![A-Z]){re.escape(old)}(?![A-Z])", new, upper, count=1)


def v_truncated(rng: random.Random, name, kind: str) -> str | None:
    """A name cut off by a fixed-width field, inside its last word."""
    if kind != "organization":
        return None
    full = name.full.rstrip(" .")
    words = full.split()
    if len(words) < 3 or len(words[-1]) < 4:
        return None
    cut = rng.randrange(1, min(4, len(words[-1]) - 1))
    return full[:-cut]


def v_org_typo(rng: random.Random, name, kind: str) -> str | None:
    if kind != "organization":
        return None
    return v_typo(rng, name, kind)


VARIANTS: dict[str, Callable] = {
    "typo": v_typo,
    "initials": v_initials,
    "particle": v_particle,
    "missing_part": v_missing,
    "reorder": v_reorder,
    "transliteration": v_transliteration,
    "company_words": v_company_words,
    "company_truncated": v_truncated,
    "company_typo": v_org_typo,
}

# --------------------------------------------------------------------------------------------
# French customers (negatives)

FR_GIVEN = """jean marie pierre michel philippe alain nicolas christophe patrick daniel david eric frederic laurent
stephane julien sebastien thomas olivier francois pascal christian bernard jacques andre louis paul antoine
maxime alexandre hugo lucas theo nathan enzo leo gabriel raphael arthur jules adam mathis clement vincent
guillaume romain benoit cedric damien fabrice gilles herve jerome ludovic mathieu quentin remi sylvain anne
isabelle nathalie sylvie catherine christine sandrine valerie sophie celine stephanie veronique laurence martine
monique francoise nicole helene camille emma lea manon chloe ines sarah julie laura pauline marion lucie aurelie
elodie emilie caroline claire juliette margaux louise alice charlotte mathilde agathe yves gerard henri roger
marcel rene georges claude dominique joel thierry bruno didier serge franck xavier yann gael loic erwan ronan
solene oceane gwenaelle morgane maelle""".split()
FR_FAMILY = """martin bernard dubois thomas robert richard petit durand leroy moreau simon laurent lefebvre michel
garcia david bertrand roux vincent fournier morel girard andre lefevre mercier dupont lambert bonnet francois
martinez legrand garnier faure rousseau blanc guerin muller henry roussel nicolas perrin morin mathieu clement
gauthier dumont lopez fontaine chevalier robin masson sanchez gerard nguyen boyer denis lemaire duval joly gautier
roger roche roy noel meyer lucas meunier jean perez marchand dufour blanchard marie barbier brun dumas brunet
schmitt leroux colin fernandez pierre renard arnaud rolland caron aubert giraud leclerc vidal bourgeois renaud
lemoine picard gaillard philippe leclercq lacroix fabre dupuis olivier rodriguez hubert louis charles guillot
riviere guillaume adam rey moulin gonzalez berger lecomte menard fleury deschamps carpentier julien benard paris
maillard marechal aubry vasseur renault jacquet collet prevost poirier charpentier royer huet baron dupuy pons
paul laine carre breton remy schneider perrot guyot barre marty cousin gillet le-gall le-roux da-silva
de-la-fontaine kerbrat le-goff tanguy quere morvan jaouen""".split()
# Names of French customers of North-African, West-African, Turkish, Portuguese, Vietnamese and other origins.
FR_WORLD_GIVEN = """mohamed ahmed ali karim said youssef mehdi sofiane nabil rachid farid samir hamid mustapha
abdelkader abdallah omar bilal hakim walid yacine amine reda khaled nadia fatima samira leila yasmina amina
malika soraya houria rachida djamel mourad kamel salim ibrahima mamadou moussa oumar seydou aminata fatoumata
mariama mehmet emre murat ayse fatma joao antonio manuel ana thi minh thanh hoang van duc ngoc""".split()
FR_WORLD_FAMILY = """benali haddad bouzid mansouri belkacem cherif khelifi hamidi saidi brahimi amrani benaissa
boudjema ziani meziane aouadi hadj kaci larbi mebarki rahmani slimani toumi traore diallo keita konate camara
diop ndiaye sow ba cisse fofana sylla coulibaly yilmaz kaya demir sahin celik dos-santos ferreira pereira
oliveira rodrigues tran le pham huynh phan vu dang bui do ho ngo duong ly kone""".split()

FR_ACTIVITIES = """boulangerie garage conseil immobilier transports batiment pharmacie cabinet atelier societe
distribution services informatique restauration consulting patrimoine gestion investissements holding
entreprise finance courtage assurances plomberie electricite menuiserie couverture peinture nettoyage securite
logistique import export negoce auto agence voyages optique coiffure fleurs traiteur boucherie epicerie vins
developpement energie solaire renovation architecture expertise comptable avocats notaires medical dentaire
formation communication digital media edition imprimerie textile mode bijouterie sport loisirs camping hotel
""".split()
FR_PLACES = """bretagne normandie provence alsace lorraine bourgogne aquitaine occitanie savoie auvergne picardie
champagne anjou touraine vendee gironde loire rhone seine atlantique mediterranee azur alpes pyrenees paris lyon
marseille toulouse nantes bordeaux lille rennes brest quimper angers tours dijon grenoble nice montpellier""".split()
FR_BRANDS = """horizon avenir oxygene eden azur alliance etoile soleil emeraude opale cristal zenith atlas
orion helios nova vega lumiere harmonie equinoxe iris lotus""".split()
FR_FORMS = ["SAS", "SARL", "SA", "EURL", "SCI", "SASU", "SNC", "SCP", "SELARL", ""]


def french_person(rng: random.Random) -> tuple[str, str, str]:
    """(name, birth date, nationality) of one French customer."""
    if rng.random() < 0.22:
        given = rng.choice(FR_WORLD_GIVEN)
        family = rng.choice(FR_WORLD_FAMILY + FR_FAMILY)
    else:
        given = rng.choice(FR_GIVEN)
        if rng.random() < 0.12:
            given = f"{given}-{rng.choice(FR_GIVEN)}"
        family = rng.choice(FR_FAMILY)
    family = family.replace("-", " ")
    style = rng.random()
    if style < 0.5:
        name = f"{given.title()} {family.upper()}"
    elif style < 0.8:
        name = f"{given.title()} {family.title()}"
    else:
        name = f"{family.upper()} {given.title()}"
    dob = f"{rng.randrange(1935, 2006)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    return name, dob, "FR"


def french_company(rng: random.Random) -> str:
    """One French company name: activity, a surname, place or brand, and a legal form."""
    activity = rng.choice(FR_ACTIVITIES).title()
    other = rng.choice(
        [
            rng.choice(FR_FAMILY).replace("-", " ").title(),
            rng.choice(FR_PLACES).title(),
            rng.choice(FR_BRANDS).title(),
        ]
    )
    form = rng.choice(FR_FORMS)
    style = rng.random()
    if style < 0.4:
        words = [activity, other]
    elif style < 0.6:
        words = [other, activity]
    elif style < 0.8:
        words = [activity, rng.choice(FR_ACTIVITIES).title(), other]
    else:
        words = [other, rng.choice(FR_FAMILY).replace("-", " ").title()]
    if form:
        words.insert(0 if rng.random() < 0.3 else len(words), form)
    return " ".join(words)


# --------------------------------------------------------------------------------------------


def load_lists() -> tuple[list, list[ListedParty], list[str]]:
    from kyc_core.lists.active import to_listed_party
    from kyc_core.lists.detect import parse_path

    entries, parties, notes = [], [], []
    for relative in LISTS:
        path = SHARED / relative
        if not path.exists():
            notes.append(f"list absent, skipped: {path}")
            continue
        parsed = parse_path(path)
        notes.append(f"list {relative}: {len(parsed.entries)} entries")
        entries.extend(parsed.entries)
        parties.extend(to_listed_party(e) for e in parsed.entries)
    return entries, parties, notes


def main(argv: list[str] | None = None) -> int:
    """Build the evaluation sets, screen them, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-variant", type=int, default=300)
    parser.add_argument("--customers", type=int, default=3000, help="persons; half as many companies")
    parser.add_argument("--seed", type=int, default=1307)
    parser.add_argument("--misses", action="store_true", help="print every miss and false alert")
    args = parser.parse_args(argv)
    review, match = DEFAULT_THRESHOLDS.review, DEFAULT_THRESHOLDS.match
    entries, parties, notes = load_lists()
    if not entries:
        sys.exit(f"heldout_eval: no list file found under {SHARED}")
    for note in notes:
        print(note)
    started = time.perf_counter()
    screener = Screener(parties, DEFAULT_THRESHOLDS)
    print(
        f"matcher {MATCHER_VERSION}; review {review}, match {match}; index built in {time.perf_counter() - started:.1f} s"
    )

    rng = random.Random(args.seed)
    pool = [
        e
        for e in entries
        if e.entry_type in ("person", "organization") and e.names and _LATIN.match(e.names[0].full)
    ]
    rng.shuffle(pool)
    print(
        f"\npositives: perturbed primary names of Latin-script persons and organisations ({len(pool)} eligible)"
    )
    print(f"{'variant':<20} {'names':>6} {'recall@review':>14} {'recall@match':>13}")
    total = [0, 0, 0]
    misses: list[str] = []
    for variant, perturb in VARIANTS.items():
        vrng = random.Random(f"{args.seed}:{variant}")
        made = hit_review = hit_match = 0
        by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for entry in pool:
            if made >= args.per_variant:
                break
            name = entry.names[0]
            changed = perturb(vrng, name, entry.entry_type)
            if not changed or changed.strip() == name.full.strip():
                continue
            made += 1
            subject = Subject(f"{variant}:{made}", (changed,), entry.entry_type)
            best = max(
                (
                    h.score
                    for h in screener.screen(subject)
                    if (h.list_key, h.entry_id) == (entry.list_key, entry.native_id)
                ),
                default=0.0,
            )
            hit_review += best >= review
            hit_match += best >= match
            counts = by_type[entry.entry_type]
            counts[0] += 1
            counts[1] += best >= review
            counts[2] += best >= match
            if best < review:
                misses.append(f"MISS {variant:<18} {best:.3f} {changed!r} ~ {name.full!r}")
        total[0] += made
        total[1] += hit_review
        total[2] += hit_match
        if made:
            print(f"{variant:<20} {made:>6} {hit_review / made:>13.1%} {hit_match / made:>12.1%}")
            if len(by_type) > 1:
                for kind, (n, r, m) in sorted(by_type.items()):
                    print(f"  {kind:<18} {n:>6} {r / n:>13.1%} {m / n:>12.1%}")
    print(f"{'all':<20} {total[0]:>6} {total[1] / total[0]:>13.1%} {total[2] / total[0]:>12.1%}")

    crng = random.Random(f"{args.seed}:customers")
    persons = [french_person(crng) for _ in range(args.customers)]
    companies = [french_company(crng) for _ in range(max(1, args.customers // 2))]
    print(f"\nnegatives: {len(persons)} French persons (birth date, FR), {len(companies)} French companies")
    print(f"{'kind':<20} {'customers':>9} {'alerts@review':>14} {'alerts@match':>13}")
    for kind, subjects in (
        ("persons", [Subject(f"p{i}", (n,), "person", (d,), (c,)) for i, (n, d, c) in enumerate(persons)]),
        ("companies", [Subject(f"c{i}", (n,), "organization", (), ("FR",)) for i, n in enumerate(companies)]),
    ):
        at_review = at_match = 0
        for subject in subjects:
            hits = screener.screen(subject)
            if hits:
                at_review += 1
                at_match += hits[0].score >= match
                misses.append(
                    f"ALERT {kind:<17} {hits[0].score:.3f} {subject.names[0]!r} ~ {hits[0].matched_name!r}"
                )
        print(
            f"{kind:<20} {len(subjects):>9} {at_review / len(subjects):>13.2%} {at_match / len(subjects):>12.2%}"
        )
    if args.misses:
        print("\n" + "\n".join(misses))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
