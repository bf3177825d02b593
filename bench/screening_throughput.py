"""Screening speed: batch rescreen rate, recall against brute force, warm latency, list-delta screening.

Inputs, all declared and printed:
- list entries: the real OFAC SDN (2024-05-02), UN SC and EU files from ../shared/data/real when the
  list parsers are importable, plus generated entries (Arabic, Russian, Korean, Chinese, company and
  vessel names) up to --list-names names in total;
- customers: --customers generated subjects (French-style people and companies, a share of
  immigrant-origin names, and a few planted near-copies of listed names so hits exist).

Measured:
- kernel: customers screened per second on --workers processes (index built once, forked);
- end to end: read the customer CSV, screen, write hits as JSON lines (wall time);
- recall of the index against brute force (the same scorer on every entry) on a sample, and the
  brute-force rate as a ratio;
- warm single-screen latency (p50/p95/p99) in one process;
- a delta of 50 list entries against all customers through the customer index (build time apart).

    .venv/bin/python bench/screening_throughput.py                       # 100,000 customers
    .venv/bin/python bench/screening_throughput.py --customers 1000000   # the 1M target
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from kyc_core.screening.compare import DEFAULT_THRESHOLDS, MATCHER_VERSION
from kyc_core.screening.index import CustomerIndex, Screener, brute_force_screen
from kyc_core.screening.model import ListedParty, Subject

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
REAL_LISTS = ("ofac/history/2024-05-02/sdn.csv", "un/UN_consolidated.xml", "eu/eu_sample.xml")

ARABIC_GIVEN = """muhammad ahmad ali hassan husayn omar khalid abdullah ibrahim yusuf mahmoud mustafa saleh tariq
faisal hamza bilal jamal karim nasser walid ziad adel samir anwar rashid said salim sami yasin zaid fahd majid
nabil hadi jafar kamal munir qasim rami sultan talal usama yahya zakariya abdulaziz abdulrahman abdulkarim
abdulhamid abdulmajid sayf badr fadl ghazi habib idris ismail jalal khalil luqman marwan mansur nur rida""".split()
ARABIC_FAMILY = """al-tikriti al-masri al-baghdadi al-zawahiri al-rawi al-dulaimi al-shami al-libi al-yemeni al-harbi
al-ghamdi al-otaibi al-qahtani al-shehri al-zahrani al-mosuli al-kubaysi al-ani al-juburi al-obeidi haqqani
noorzai stanekzai akhund mansour barakat hamdan qureshi siddiqui rahimi karimi hosseini mousavi rezaei jafari
ahmadi mohammadi hashemi sadeghi tehrani shirazi nouri farah aweys abdikadir warsame""".split()
RUSSIAN_GIVEN = """sergey vladimir alexander dmitry andrei alexei mikhail nikolai ivan pavel yuri viktor oleg igor boris
roman yevgeny konstantin maxim anton denis artem kirill stanislav vadim vasily gennady leonid arkady timur
ruslan magomed ramzan anna olga elena natalia irina svetlana tatiana yulia maria ekaterina""".split()
RUSSIAN_FAMILY = """ivanov petrov sidorov smirnov kuznetsov popov vasiliev sokolov mikhailov novikov fedorov morozov
volkov alekseev lebedev semenov egorov pavlov kozlov stepanov nikolaev orlov andreev makarov zakharov zaitsev
solovyov borisov yakovlev grigoriev romanov vorobyov sergeev kovalev ilyin gusev titov kuzmin kudryavtsev baranov
kulikov alexeev rotenberg timchenko deripaska vekselberg usmanov abramovich prigozhin kadyrov patrushev shoigu""".split()
KOREAN_FAMILY = "kim ri pak choe jong kang han o so yun jang ryu hwang chon mun".split()
SYLLABLES = """yong chol song il nam hyok su myong chun ho jin sik guk jae hun min kwang chang ryong bong hui sun
tae gil un ok hak""".split()
CHINESE_FAMILY = "wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he lin gao luo".split()
CHINESE_GIVEN = (
    "wei fang na min jing li qiang lei jun yang yong jie tao ming chao xiu hua ping gang hong".split()
)
ORG_WORDS = """petroleum shipping trading energy industrial defense aviation logistics maritime metals mining
chemical systems technologies capital finance investment construction engineering supply marine ocean star
global united national eastern northern golden silver crescent falcon eagle pearl orient sahara caspian""".split()
LEGAL_FORMS = [
    "LLC",
    "JSC",
    "OOO",
    "Ltd",
    "Co Ltd",
    "FZE",
    "GmbH",
    "SA",
    "Company",
    "Corporation",
    "PJSC",
    "",
]
VESSEL_WORDS = "star sea ocean wave pearl glory spirit fortune crystal dragon phoenix horizon breeze".split()

FRENCH_GIVEN = """jean marie pierre michel philippe alain nicolas christophe patrick daniel david eric frederic
laurent stephane julien sebastien thomas olivier francois pascal christian bernard jacques andre louis
paul antoine maxime alexandre hugo lucas theo nathan enzo leo gabriel raphael arthur jules adam mathis clement
vincent guillaume romain benoit cedric damien fabrice gilles herve jerome ludovic mathieu quentin remi sylvain
anne isabelle nathalie sylvie catherine christine sandrine valerie sophie celine stephanie veronique laurence
martine monique francoise nicole helene camille emma lea manon chloe ines sarah julie laura pauline marion lucie
aurelie elodie emilie caroline claire juliette margaux louise alice charlotte mathilde agathe""".split()
FRENCH_FAMILY = """martin bernard dubois thomas robert richard petit durand leroy moreau simon laurent lefebvre
michel garcia david bertrand roux vincent fournier morel girard andre lefevre mercier dupont lambert bonnet
francois martinez legrand garnier faure rousseau blanc guerin muller henry roussel nicolas perrin morin mathieu
clement gauthier dumont lopez fontaine chevalier robin masson sanchez gerard nguyen boyer denis lemaire duval
joly gautier roger roche roy noel meyer lucas meunier jean perez marchand dufour blanchard marie barbier brun
dumas brunet schmitt leroux colin fernandez pierre renard arnaud rolland caron aubert giraud leclerc vidal bourgeois
renaud lemoine picard gaillard philippe leclercq lacroix fabre dupuis olivier rodriguez da silva hubert louis
charles guillot riviere le gall guillaume adam rey moulin gonzalez berger lecomte menard fleury deschamps carpentier
julien benard paris maillard marechal aubry vasseur le roux renault jacquet collet prevost poirier charpentier royer
huet baron dupuy pons paul laine carre breton remy schneider perrot guyot barre marty cousin""".split()
FR_SYLLABLES = """ber bou car cha che dan del dor fon gar gau ger gil gou lac lan lar leb lem lou mal mar mau
mer mon mor nor pel per pon rab ran rou sal san ser tal tar tes tou val ver vil""".split()
FR_ENDINGS = "et ot in ard aud ier eau on ac y eux ais ou at elle ain er ant".split()
FR_BUSINESS = """boulangerie garage conseil immobilier transports batiment pharmacie cabinet atelier societe
distribution services informatique restauration consulting patrimoine gestion investissements holding""".split()
FR_FORMS = ["SAS", "SARL", "SA", "EURL", "SCI", "SASU", "SNC"]

_SCREENER: Screener | None = None


def load_real_entries() -> tuple[list[ListedParty], list[str]]:
    """Real list entries when the parsers are available (reported, skipped otherwise)."""
    try:
        from kyc_core.lists.active import to_listed_party
        from kyc_core.lists.detect import parse_path
    except ImportError as exc:
        return [], [f"real lists skipped: parsers not importable ({exc})"]
    entries: list[ListedParty] = []
    notes = []
    for relative in REAL_LISTS:
        path = SHARED / relative
        if not path.exists():
            notes.append(f"real list skipped (absent): {path}")
            continue
        parsed = parse_path(path)
        batch = [to_listed_party(e) for e in parsed.entries]
        notes.append(f"real list {relative}: {len(batch)} entries, {sum(len(e.names) for e in batch)} names")
        entries.extend(batch)
    return entries, notes


def _mutate(rng: random.Random, word: str) -> str:
    """One typo: substitution, deletion, insertion or transposition."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if kind == 0:
        return word[:i] + letter + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + letter + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def _person_name(rng: random.Random) -> tuple[str, str]:
    style = rng.random()
    if style < 0.45:
        parts = [rng.choice(ARABIC_GIVEN), rng.choice(ARABIC_GIVEN)]
        if rng.random() < 0.5:
            parts.append(rng.choice(ARABIC_GIVEN))
        parts.append(rng.choice(ARABIC_FAMILY))
        return " ".join(parts).upper(), rng.choice(["IQ", "SY", "AF", "YE", "SA", "LY", "IR", "SO"])
    if style < 0.75:
        given = rng.choice(RUSSIAN_GIVEN)
        patronymic = rng.choice(RUSSIAN_GIVEN[:30]) + "ovich"
        family = rng.choice(RUSSIAN_FAMILY)
        if rng.random() < 0.3:
            family = _mutate(rng, family) + rng.choice(["in", "ov", "enko", ""])
        return f"{family.upper()}, {given.title()} {patronymic.title()}", rng.choice(["RU", "BY", "UA", "KZ"])
    if style < 0.88:
        return f"{rng.choice(KOREAN_FAMILY)} {rng.choice(SYLLABLES)} {rng.choice(SYLLABLES)}".upper(), "KP"
    return (
        f"{rng.choice(CHINESE_FAMILY)} {rng.choice(CHINESE_GIVEN)}{rng.choice(CHINESE_GIVEN)}".title(),
        "CN",
    )


def generate_entries(rng: random.Random, target_names: int, start_names: int) -> list[ListedParty]:
    """Generated list entries until the total name count reaches `target_names`."""
    entries: list[ListedParty] = []
    names_count = start_names
    number = 0
    while names_count < target_names:
        number += 1
        kind = rng.random()
        if kind < 0.7:
            primary, country = _person_name(rng)
            names = [primary] + [_mutate(rng, primary) for _ in range(rng.randrange(0, 3))]
            year = rng.randrange(1940, 2000)
            entries.append(
                ListedParty(
                    "generated",
                    f"G{number}",
                    "person",
                    tuple(dict.fromkeys(names)),
                    (str(year),) if rng.random() < 0.7 else (),
                    (country,),
                )
            )
        elif kind < 0.93:
            words = [rng.choice(ORG_WORDS) for _ in range(rng.randrange(1, 4))]
            if rng.random() < 0.5:
                words.insert(0, rng.choice(ARABIC_FAMILY + RUSSIAN_FAMILY).replace("al-", ""))
            names = [" ".join(words).upper() + " " + rng.choice(LEGAL_FORMS)]
            entries.append(
                ListedParty("generated", f"G{number}", "organization", tuple(n.strip() for n in names))
            )
        else:
            name = f"{rng.choice(VESSEL_WORDS)} {rng.choice(VESSEL_WORDS)} {rng.randrange(1, 30)}".upper()
            entries.append(
                ListedParty(
                    "generated", f"G{number}", "vessel", (name,), identifiers=(f"IMO {9000000 + number}",)
                )
            )
        names_count += len(entries[-1].names)
    return entries


def _french_surname(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return rng.choice(FRENCH_FAMILY)
    # A long tail of rarer surnames, as in any real customer base.
    return rng.choice(FR_SYLLABLES) + rng.choice(FR_SYLLABLES) + rng.choice(FR_ENDINGS)


def generate_customers(rng: random.Random, count: int, entries: list[ListedParty]) -> list[dict[str, str]]:
    """Customer rows (id,name,type,dob,country); about 0.2 % are typo copies of listed persons."""
    persons = [e for e in entries if e.entry_type == "person"]
    rows = []
    for number in range(count):
        roll = rng.random()
        dob = f"{rng.randrange(1940, 2005)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        if roll < 0.002 and persons:
            entry = rng.choice(persons)
            words = entry.names[0].replace(",", "").split()
            name = " ".join(_mutate(rng, w) if rng.random() < 0.3 else w for w in words)
            rows.append(
                {
                    "id": f"C{number}",
                    "name": name,
                    "type": "person",
                    "dob": entry.birth_dates[0] if entry.birth_dates and rng.random() < 0.5 else dob,
                    "country": "",
                }
            )
        elif roll < 0.12:
            business = (
                f"{rng.choice(FR_BUSINESS).title()} {_french_surname(rng).title()} {rng.choice(FR_FORMS)}"
            )
            rows.append({"id": f"C{number}", "name": business, "type": "company", "dob": "", "country": "FR"})
        elif roll < 0.22:
            if rng.random() < 0.6:
                name = (
                    f"{rng.choice(ARABIC_GIVEN).title()} {rng.choice(ARABIC_FAMILY + FRENCH_FAMILY).upper()}"
                )
            else:
                name = f"{rng.choice(RUSSIAN_GIVEN).title()} {rng.choice(RUSSIAN_FAMILY).upper()}"
            rows.append({"id": f"C{number}", "name": name, "type": "person", "dob": dob, "country": "FR"})
        else:
            given = rng.choice(FRENCH_GIVEN)
            if rng.random() < 0.15:
                given = f"{given}-{rng.choice(FRENCH_GIVEN)}"
            name = f"{given.title()} {_french_surname(rng).upper()}"
            rows.append({"id": f"C{number}", "name": name, "type": "person", "dob": dob, "country": "FR"})
    return rows


def subject_from_row(row: dict[str, str]) -> Subject:
    """A screening subject from one customer CSV row."""
    type_ = {"person": "person", "company": "organization"}.get(row.get("type", ""), "unknown")
    return Subject(
        row["id"],
        (row["name"],),
        type_,
        (row["dob"],) if row.get("dob") else (),
        (row["country"],) if row.get("country") else (),
    )


def _screen_chunk(subjects: list[Subject]) -> list[str]:
    assert _SCREENER is not None
    lines = []
    for subject in subjects:
        hits = _SCREENER.screen(subject)
        if hits:
            lines.append(
                json.dumps({"id": subject.key, "hits": [h.to_dict() for h in hits]}, ensure_ascii=False)
            )
    return lines


def _screen_count(subjects: list[Subject]) -> int:
    assert _SCREENER is not None
    return sum(len(_SCREENER.screen(s)) for s in subjects)


def _brute_chunk(subjects: list[Subject]) -> list[tuple[str, str, str, float]]:
    assert _SCREENER is not None
    out = []
    for subject in subjects:
        for hit in brute_force_screen(subject, _SCREENER.entries, _SCREENER.thresholds):
            out.append((subject.key, hit.list_key, hit.entry_id, round(hit.score, 9)))
    return out


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the figures."""
    global _SCREENER
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--list-names", type=int, default=60_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--recall-sample", type=int, default=40)
    parser.add_argument("--latency-sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20260401)
    parser.add_argument("--no-real-lists", action="store_true")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    print(
        f"matcher {MATCHER_VERSION}; thresholds review {DEFAULT_THRESHOLDS.review} match {DEFAULT_THRESHOLDS.match}; "
        f"workers {args.workers}; cpus visible {os.cpu_count()}"
    )

    started = time.perf_counter()
    real, notes = (
        ([], ["real lists skipped (--no-real-lists)"]) if args.no_real_lists else load_real_entries()
    )
    for note in notes:
        print(note)
    load_seconds = time.perf_counter() - started
    real_names = sum(len(e.names) for e in real)
    entries = real + generate_entries(rng, args.list_names, real_names)
    total_names = sum(len(e.names) for e in entries)
    print(
        f"list entries: {len(entries)} ({len(real)} real, parsed in {load_seconds:.1f} s), names: {total_names}"
    )

    started = time.perf_counter()
    _SCREENER = Screener(entries, DEFAULT_THRESHOLDS)
    print(f"list index build: {time.perf_counter() - started:.1f} s")

    rows = generate_customers(rng, args.customers, entries)
    workdir = Path(tempfile.mkdtemp(prefix="kyc-screen-bench-"))
    customers_csv = workdir / "customers.csv"
    with customers_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "name", "type", "dob", "country"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"customers: {len(rows)} generated into {customers_csv}")

    context = mp.get_context("fork")
    # End to end: read the CSV, screen on the workers, write the hits.
    started = time.perf_counter()
    with customers_csv.open(newline="", encoding="utf-8") as handle:
        subjects = [subject_from_row(r) for r in csv.DictReader(handle)]
    read_seconds = time.perf_counter() - started
    hits_path = workdir / "hits.jsonl"
    kernel_started = time.perf_counter()
    with context.Pool(args.workers) as pool, hits_path.open("w", encoding="utf-8") as out:
        hit_rows = 0
        for lines in pool.imap_unordered(_screen_chunk, _chunks(subjects, 2000)):
            for line in lines:
                out.write(line + "\n")
            hit_rows += len(lines)
    kernel_seconds = time.perf_counter() - kernel_started
    total_seconds = time.perf_counter() - started
    rate = len(subjects) / kernel_seconds
    print(
        f"\nkernel: {len(subjects)} customers in {kernel_seconds:.1f} s on {args.workers} workers = "
        f"{rate:,.0f} customers/s (target >= 10,000)"
    )
    print(
        f"end to end (read CSV {read_seconds:.1f} s + screen + write {hit_rows} hit rows): {total_seconds:.1f} s "
        f"for {len(subjects)} customers; 1,000,000 at this rate: {total_seconds * 1_000_000 / len(subjects):.0f} s "
        f"(target <= 180 s)"
    )

    # Recall against brute force on a sample that includes planted near-copies.
    planted = [s for s, r in zip(subjects, rows, strict=True) if r["type"] == "person" and r["country"] == ""]
    sample = planted[: args.recall_sample // 2]
    sample += rng.sample(subjects, min(len(subjects), args.recall_sample - len(sample)))
    started = time.perf_counter()
    with context.Pool(args.workers) as pool:
        brute = {
            item
            for part in pool.map(_brute_chunk, _chunks(sample, max(1, len(sample) // args.workers)))
            for item in part
        }
    brute_seconds = time.perf_counter() - started
    indexed = {
        (s.key, h.list_key, h.entry_id, round(h.score, 9)) for s in sample for h in _SCREENER.screen(s)
    }
    recall = len(brute & indexed) / len(brute) if brute else 1.0
    brute_rate = len(sample) / brute_seconds
    print(
        f"\nrecall vs brute force on {len(sample)} customers ({len(brute)} brute-force hits): {recall * 100:.2f} % "
        f"(target >= 99.5 %); extra indexed hits: {len(indexed - brute)}"
    )
    print(
        f"brute force: {brute_rate:.2f} customers/s on {args.workers} workers; index/brute-force speed ratio "
        f"{rate / brute_rate:,.0f}x"
    )

    # Warm single-screen latency in this process.
    warm = rng.sample(subjects, min(len(subjects), args.latency_sample))
    for subject in warm:
        _SCREENER.screen(subject)
    timed = rng.sample(subjects, min(len(subjects), args.latency_sample))
    durations = []
    for subject in timed:
        begin = time.perf_counter()
        _SCREENER.screen(subject)
        durations.append((time.perf_counter() - begin) * 1000)
    durations.sort()
    p = lambda q: durations[min(len(durations) - 1, int(q * len(durations)))]  # noqa: E731
    print(
        f"\nwarm single screen over {len(durations)} customers (after {len(warm)} warm-up screens): "
        f"p50 {p(0.5):.2f} ms, p95 {p(0.95):.2f} ms, p99 {p(0.99):.2f} ms (target p95 <= 2 ms); "
        f"mean {statistics.mean(durations):.2f} ms"
    )

    # A list delta of 50 entries against every customer.
    started = time.perf_counter()
    customer_index = CustomerIndex(subjects, DEFAULT_THRESHOLDS)
    build_seconds = time.perf_counter() - started
    delta = rng.sample(entries, 50)
    started = time.perf_counter()
    delta_hits = customer_index.screen_delta(delta)
    delta_seconds = time.perf_counter() - started
    print(
        f"\ncustomer index over {len(subjects)} customers built in {build_seconds:.1f} s; "
        f"delta of {len(delta)} entries screened in {delta_seconds:.2f} s ({len(delta_hits)} hits) (target <= 2 s)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"peak memory of the main process: {peak:.0f} MB; of the largest worker process: {worker_peak:.0f} MB"
    )
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
