"""Deterministic synthetic French company register, consistent across Sirene, RNE, BODACC and the lists.

Company ``i`` is generated on demand from ``(seed, i)`` alone, so a dataset of 1,000,000 companies costs
no memory until a company is asked for. The SIREN of company ``i`` comes from an affine bijection on the
8-digit base plus a Luhn check digit, so a SIREN maps back to its index without any lookup table.

Structure is fixed by ``i % 50`` (the "slot"), so every block of 50 companies holds each feature:

- slots 0-3: a four-level ownership chain (0 owned by 1, owned by 2, owned by 3, owned by natural persons);
  slots 10-11: a two-level chain. A parent is the child's legal-entity president in the RNE record and
  the ultimate owners appear as indirect beneficial owners of every company of the chain.
- slots 5, 15, 33: beneficial owners *not available to this account* (no RNE block at all);
  slots 7, 27: beneficial owners *none declared* (empty RNE block).
- slots 13, 44: ceased and struck off (Sirene ``C`` + BODACC radiation); slot 38: ceased only.
- slots 17, 23, 43, 44: collective proceedings (receivership, liquidation, safeguard, liquidation).
- slot 30: 45 establishments (paging); slot 19: renamed (two Sirene periods with different names).
- known positives: a few companies whose officer or beneficial owner is on the emulated sanctions lists;
  known homonyms: officers elsewhere with the same name as an exactly-listed positive but born nine years
  later and French, so a matcher that ignores birth date and nationality over-reports.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache

from stdnum import luhn

from kyc_dev.emulator import tables

BLOCK = 50
CHAIN_PARENT_SLOTS = {0: 1, 1: 2, 2: 3, 10: 11}
HOLDING_SLOTS = {1, 2, 3, 11}
BO_NOT_AVAILABLE_SLOTS = {5, 15, 33}
BO_NONE_DECLARED_SLOTS = {7, 27}
STRUCK_OFF_SLOTS = {13, 44}
CEASED_ONLY_SLOTS = {38}
PROCEEDING_SLOTS = {17: "redressement", 23: "liquidation", 43: "sauvegarde", 44: "liquidation"}
MANY_ESTABLISHMENTS_SLOT = 30
RENAMED_SLOT = 19
SA_AUDITOR_OFFSET = 25
DEFAULT_AS_OF = date(2026, 11, 1)
_SIREN_SPACE = 90_000_000
_SIREN_FLOOR = 10_000_000


@dataclass(frozen=True)
class Address:
    """A French postal address in the parts the registers publish."""

    number: str
    street_type: str
    street_name: str
    postal_code: str
    commune_code: str
    commune: str
    commune_upper: str
    #: ISO alpha-2 of a foreign address (a registered office moved abroad); None in France.
    country: str | None = None

    @property
    def departement(self) -> str:
        """Two-character département code (97 for overseas)."""
        return self.postal_code[:2]


@dataclass(frozen=True)
class Person:
    """A natural person as the RNE describes an officer or beneficial owner (month precision birth date)."""

    person_id: str
    last_name: str
    first_names: tuple[str, ...]
    gender: str
    birth_year: int
    birth_month: int
    nationality_code: str
    nationality_label: str
    address: Address

    @property
    def birth_ym(self) -> str:
        """Birth date the way the RNE publishes it (YYYY-MM)."""
        return f"{self.birth_year:04d}-{self.birth_month:02d}"


@dataclass(frozen=True)
class CompanyRef:
    """Enough of a company to name it as an officer or owner of another one."""

    index: int
    siren: str
    name: str
    legal_category: str
    legal_category_label: str


@dataclass(frozen=True)
class Officer:
    """One RNE `pouvoir`: a natural person or a company (legal-entity officer) in a role."""

    role_code: str
    since: date
    person: Person | None = None
    company: CompanyRef | None = None


@dataclass(frozen=True)
class BeneficialOwner:
    """One RBE declaration line; shares are percentages, direct or through the ownership chain."""

    beneficiary_id: str
    person: Person
    share_capital: float
    share_votes: float
    direct: bool
    control_modes: tuple[str, ...]


@dataclass(frozen=True)
class Establishment:
    """A Sirene establishment (SIRET); the head office has ``head_office`` set."""

    nic: str
    siret: str
    head_office: bool
    created: date
    closed: date | None
    address: Address
    employees_band: str


@dataclass(frozen=True)
class Proceeding:
    """A collective proceeding opened by a commercial court (BODACC `collective`)."""

    kind: str
    opened: date
    court: str


@dataclass(frozen=True)
class KnownPositive:
    """A register person whose name the emulated sanctions lists carry (ground truth for screening tests)."""

    positive_id: str
    siren: str
    person_id: str
    role: str
    lists: tuple[str, ...]
    variant: str
    version: int


@dataclass(frozen=True)
class KnownHomonym:
    """A register person sharing a listed person's name but not their birth date or nationality (a trap)."""

    homonym_id: str
    siren: str
    person_id: str
    positive_id: str


@dataclass(frozen=True)
class Company:
    """One generated company with everything the three registers publish about it."""

    index: int
    siren: str
    name: str
    previous_name: str | None
    legal_category: str
    legal_category_label: str
    naf: str
    naf25: str
    created: date
    renamed_on: date | None
    ceased: date | None
    struck_off: bool
    capital: float
    employees_band: str
    category: str
    establishments: tuple[Establishment, ...]
    officers: tuple[Officer, ...]
    beneficial_owners: tuple[BeneficialOwner, ...]
    bo_status: str
    owner: CompanyRef | None
    proceeding: Proceeding | None
    object_text: str
    positives: tuple[KnownPositive, ...] = field(default=())
    homonyms: tuple[KnownHomonym, ...] = field(default=())

    @property
    def active(self) -> bool:
        """Whether Sirene reports the unit as active (``A``)."""
        return self.ceased is None

    @property
    def head_office(self) -> Establishment:
        """The head-office establishment."""
        return next(e for e in self.establishments if e.head_office)


def _rng(seed: int, stream: str, index: int) -> random.Random:
    """An independent random stream per (seed, purpose, company) so features never shift each other."""
    # String seeds are hashed with SHA-512 by `random`, stable across runs and PYTHONHASHSEED.
    return random.Random(f"{seed}:{stream}:{index}")


def _weighted(rng: random.Random, options: tuple) -> tuple:
    """Pick one tuple from options whose last element is its weight."""
    return rng.choices(options, weights=[o[-1] for o in options])[0]


def _date_between(rng: random.Random, start: date, end: date) -> date:
    """A uniform date in [start, end]."""
    span = max((end - start).days, 0)
    return start + timedelta(days=rng.randint(0, span))


def _address(rng: random.Random) -> Address:
    """A plausible French street address."""
    code, postal, commune, upper = rng.choice(tables.COMMUNES)
    street_type = rng.choice(tables.STREET_TYPES)[0]
    return Address(str(rng.randint(1, 240)), street_type, rng.choice(tables.STREET_NAMES), postal, code, commune, upper)


class Dataset:
    """Lazily generated companies: ``siren(i)``, ``company(siren)``, ``known_positives()``."""

    def __init__(self, companies: int = 1000, seed: int = 42, as_of: date = DEFAULT_AS_OF, cache_size: int = 4096):
        if companies < 1 or companies > _SIREN_SPACE:
            raise ValueError(f"companies must be between 1 and {_SIREN_SPACE}")
        self.size = companies
        self.seed = seed
        self.as_of = as_of
        params = random.Random(f"{seed}:siren-permutation")
        # Multiplier coprime with 2, 3 and 5 makes i -> (a*i + b) mod 9e7 a bijection, inverted below.
        self._mul = params.randrange(1, _SIREN_SPACE // 30) * 30 + params.choice((1, 7, 11, 13, 17, 19, 23, 29))
        self._add = params.randrange(_SIREN_SPACE)
        self._inv = pow(self._mul, -1, _SIREN_SPACE)
        self._positives = self._place_positives()
        self._homonyms = self._place_homonyms()
        self._build_cached = lru_cache(maxsize=cache_size)(self._build)

    def __len__(self) -> int:
        return self.size

    def siren(self, index: int) -> str:
        """SIREN of company ``index`` (Luhn-valid, 9 digits)."""
        if not 0 <= index < self.size:
            raise IndexError(index)
        base = str(_SIREN_FLOOR + (self._mul * index + self._add) % _SIREN_SPACE)
        return base + luhn.calc_check_digit(base)

    def index_of(self, siren: str) -> int | None:
        """Index of a SIREN in this dataset, or None when it is not one of ours."""
        if len(siren) != 9 or not siren.isdigit() or not luhn.is_valid(siren):
            return None
        base = int(siren[:8]) - _SIREN_FLOOR
        if base < 0:
            return None
        index = ((base - self._add) * self._inv) % _SIREN_SPACE
        return index if index < self.size else None

    def company(self, siren: str) -> Company | None:
        """The company with this SIREN, or None."""
        index = self.index_of(siren)
        return None if index is None else self._build_cached(index)

    def company_at(self, index: int) -> Company:
        """The company at ``index``."""
        if not 0 <= index < self.size:
            raise IndexError(index)
        return self._build_cached(index)

    def sirens(self, start: int = 0, stop: int | None = None):
        """Iterate SIRENs in index order."""
        for index in range(start, min(self.size, self.size if stop is None else stop)):
            yield self.siren(index)

    def known_positives(self, version: int = 1) -> list[KnownPositive]:
        """Register persons listed on the emulated sanctions lists of that list version."""
        found = []
        for index in sorted(self._positives):
            found.extend(p for p in self.company_at(index).positives if p.version <= version)
        return found

    def known_homonyms(self) -> list[KnownHomonym]:
        """Register persons named like a version-1 known positive but born elsewhen (must not be confirmed hits)."""
        return [h for index in sorted(self._homonyms) for h in self.company_at(index).homonyms]

    def ownership_chain(self, siren: str) -> list[str]:
        """SIRENs from this company up to its top holding (ground truth for UBO-depth tests)."""
        chain = [siren]
        company = self.company(siren)
        while company is not None and company.owner is not None:
            chain.append(company.owner.siren)
            company = self.company(company.owner.siren)
        return chain

    def person(self, siren: str, person_id: str) -> Person | None:
        """A person (officer or beneficial owner) of a company by its id."""
        company = self.company(siren)
        if company is None:
            return None
        people = [o.person for o in company.officers if o.person] + [b.person for b in company.beneficial_owners]
        return next((p for p in people if p.person_id == person_id), None)

    # -- generation ---------------------------------------------------------------------------------

    def _place_positives(self) -> dict[int, list[tuple[int, int]]]:
        """Company index -> [(positive number, list version)]: v1 positives plus two added in version 2."""
        count = min(max(6, self.size // 100), 60, self.size)
        placed: dict[int, list[tuple[int, int]]] = {}
        numbers = [(k, 1) for k in range(count)] + [(count + k, 2) for k in range(2)]
        for k, version in numbers:
            index = (k * self.size // (count + 2) + 9) % self.size
            while index in placed and len(placed) < self.size:
                index = (index + 1) % self.size
            if index in placed:
                continue
            placed[index] = [(k, version)]
        return placed

    def _place_homonyms(self) -> dict[int, int]:
        """Company index -> positive number, for every 'exact' v1 positive, in a company without positives."""
        placed: dict[int, int] = {}
        for index, numbers in sorted(self._positives.items()):
            for k, version in numbers:
                if version != 1 or k % 5 not in (0, 4):
                    continue
                target = (index + BLOCK // 2) % self.size
                while (target in self._positives or target in placed) and len(placed) + len(self._positives) < self.size:
                    target = (target + 1) % self.size
                if target not in self._positives and target not in placed:
                    placed[target] = k
        return placed

    def ref(self, index: int) -> CompanyRef:
        """Name and legal form of company ``index`` without building the whole company."""
        name, category, label, _naf = self._identity(index)
        return CompanyRef(index, self.siren(index), name, category, label)

    def _slot(self, index: int) -> int:
        return index % BLOCK

    def _parent(self, index: int) -> int | None:
        parent = CHAIN_PARENT_SLOTS.get(self._slot(index))
        target = index - self._slot(index) + parent if parent is not None else None
        return target if target is not None and target < self.size else None

    def _top_holding(self, index: int) -> int:
        while (parent := self._parent(index)) is not None:
            index = parent
        return index

    def _identity(self, index: int) -> tuple[str, str, str, tuple[str, str, str]]:
        """Name, legal category (code, label) and NAF of a company, from its own stream."""
        rng = _rng(self.seed, "identity", index)
        slot = self._slot(index)
        if slot in HOLDING_SLOTS:
            naf = tables.HOLDING_NAF
        else:
            naf = rng.choice(tables.NAF_CODES)
        category, label, _w = _weighted(rng, tables.LEGAL_CATEGORIES)
        if self._parent(index) is not None or slot in HOLDING_SLOTS:
            # A legal person may preside an SAS but never manage an SARL (art. L223-18 C. com.).
            category, label = ("5720", tables.LEGAL_CATEGORIES[1][1]) if self._parent(index) else (
                "5710", tables.LEGAL_CATEGORIES[0][1])
        last = rng.choice(tables.FRENCH_LAST_NAMES)
        if slot in HOLDING_SLOTS:
            name = rng.choice(("HOLDING {last}", "{last} PARTICIPATIONS", "FINANCIERE {last}")).format(last=last)
        else:
            pattern = rng.choice(tables.NAME_PATTERNS)
            name = pattern.format(
                activity=naf[2], last=last, last2=rng.choice(tables.FRENCH_LAST_NAMES),
                region=rng.choice(tables.NAME_PLACES), place=rng.choice(tables.NAME_PLACES),
                initials="".join(rng.choice("ABCDEFGHJKLMNPRSTV") for _ in range(3)),
            )
        if category == "6540":
            name = "SCI " + name
        # Different companies may share a name, as in the real register; the index keeps them apart in tests.
        return name, category, label, naf

    def _person(self, rng: random.Random, person_id: str, as_of: date) -> Person:
        gender = rng.choice(("1", "2"))
        pool = tables.FRENCH_FIRST_NAMES_M if gender == "1" else tables.FRENCH_FIRST_NAMES_F
        firsts = tuple(rng.sample(pool, rng.choice((1, 1, 2, 3))))
        code, label, _w = _weighted(rng, tables.NATIONALITIES)
        return Person(
            person_id, rng.choice(tables.FRENCH_LAST_NAMES), firsts, gender,
            rng.randint(as_of.year - 80, as_of.year - 22), rng.randint(1, 12), code, label, _address(rng),
        )

    def _listed_person(self, k: int, person_id: str) -> Person:
        """A register person whose identity is also put on the sanctions lists."""
        rng = _rng(self.seed, "positive", k)
        code = rng.choice(("RUS", "LBN", "TUR", "IRN", "SYR", "BLR", "VEN", "IRQ"))
        label = {"RUS": "Russe", "LBN": "Libanaise", "TUR": "Turque", "IRN": "Iranienne", "SYR": "Syrienne",
                 "BLR": "Biélorusse", "VEN": "Vénézuélienne", "IRQ": "Irakienne"}[code]
        return Person(
            person_id, tables.POSITIVE_LAST_NAMES[k % len(tables.POSITIVE_LAST_NAMES)], (rng.choice(tables.LIST_FIRST_NAMES),),
            "1", rng.randint(1950, 1990), rng.randint(1, 12), code, label, _address(rng),
        )

    def _owners(self, index: int) -> tuple[BeneficialOwner, ...]:
        """Natural-person owners of a top-level company (who are also its officers)."""
        rng = _rng(self.seed, "owners", index)
        splits = rng.choice(((100.0,), (60.0, 40.0), (51.0, 49.0), (50.0, 25.0, 25.0), (34.0, 33.0, 33.0)))
        siren = self.siren(index)
        return tuple(
            BeneficialOwner(f"{siren}-B{n}", self._person(rng, f"{siren}-P{n}", self.as_of), share, share, True, ("1",))
            for n, share in enumerate(splits)
        )

    def _created(self, index: int) -> date:
        rng = _rng(self.seed, "dates", index)
        return _date_between(rng, date(1985, 1, 1), self.as_of - timedelta(days=540))

    def _build(self, index: int) -> Company:
        rng = _rng(self.seed, "company", index)
        slot = self._slot(index)
        siren = self.siren(index)
        name, category, category_label, naf = self._identity(index)
        created = self._created(index)
        parent_index = self._parent(index)
        owner = self.ref(parent_index) if parent_index is not None else None

        head_address = _address(rng)
        proceeding = None
        if slot in PROCEEDING_SLOTS:
            opened = _date_between(rng, max(created + timedelta(days=365), self.as_of - timedelta(days=900)),
                                   self.as_of - timedelta(days=120))
            court = f"Tribunal de commerce de {tables.GREFFES.get(head_address.departement, 'Paris')}"
            proceeding = Proceeding(PROCEEDING_SLOTS[slot], opened, court)
        ceased = None
        struck_off = slot in STRUCK_OFF_SLOTS
        if struck_off or slot in CEASED_ONLY_SLOTS:
            low = proceeding.opened + timedelta(days=60) if proceeding else created + timedelta(days=400)
            ceased = _date_between(rng, low, self.as_of - timedelta(days=30))
        renamed_on = None
        previous_name = None
        if slot == RENAMED_SLOT:
            renamed_on = _date_between(rng, created + timedelta(days=200), self.as_of - timedelta(days=60))
            previous_name = rng.choice(tables.FRENCH_LAST_NAMES) + " " + naf[2]

        count = 45 if slot == MANY_ESTABLISHMENTS_SLOT else rng.choice((1, 1, 1, 2, 2, 3))
        establishments = []
        for n in range(count):
            nic = f"{(n + 1) * 10 + 5 - (n % 3):04d}"
            nic = nic + luhn.calc_check_digit(siren + nic)
            est_created = created if n == 0 else _date_between(rng, created, self.as_of - timedelta(days=60))
            closed = ceased if ceased else (
                _date_between(rng, est_created, self.as_of - timedelta(days=10)) if n > 0 and rng.random() < 0.2 else None)
            establishments.append(Establishment(
                nic, siren + nic, n == 0, est_created, closed, head_address if n == 0 else _address(rng),
                rng.choice(("NN", "00", "01", "02", "03", "11")),
            ))

        bo_status = ("not_available" if slot in BO_NOT_AVAILABLE_SLOTS
                     else "none_declared" if slot in BO_NONE_DECLARED_SLOTS else "declared")
        officers, owners = self._people(index, rng, category, owner, created)
        positives = []
        for k, version in self._positives.get(index, ()):
            officers, owners, positive = self._insert_positive(k, version, siren, officers, owners, bo_status, created)
            positives.append(positive)
        homonyms = []
        if index in self._homonyms:
            k = self._homonyms[index]
            listed = self._listed_person(k, f"{siren}-H{k}")
            twin = replace(listed, birth_year=listed.birth_year + 9, nationality_code="FRA",
                           nationality_label="Française", address=_address(rng))
            officers = officers + [Officer("53" if officers else "73", created, person=twin)]
            homonyms.append(KnownHomonym(f"KH{k:04d}", siren, twin.person_id, f"KP{k:04d}"))
        band = rng.choice(("NN", "00", "01", "02", "03", "11", "12", "21", "22", "31", "41"))
        return Company(
            index=index, siren=siren, name=name, previous_name=previous_name, legal_category=category,
            legal_category_label=category_label, naf=naf[0], naf25=naf[1], created=created, renamed_on=renamed_on,
            ceased=ceased, struck_off=struck_off,
            capital=rng.choice((1000.0, 5000.0, 10000.0, 37000.0, 100000.0, 1500000.0)),
            employees_band=band, category="ETI" if band in ("31", "41") else "PME",
            establishments=tuple(establishments), officers=tuple(officers),
            beneficial_owners=tuple(owners) if bo_status == "declared" else (),
            bo_status=bo_status, owner=owner, proceeding=proceeding,
            object_text=f"{naf[2].capitalize()} et toutes opérations s'y rattachant.", positives=tuple(positives),
            homonyms=tuple(homonyms),
        )

    def _people(self, index: int, rng: random.Random, category: str, owner: CompanyRef | None, created: date):
        """Officers and beneficial owners, consistent with the ownership chain."""
        siren = self.siren(index)
        slot = self._slot(index)
        officers: list[Officer] = []
        if owner is not None:
            officers.append(Officer("73", created, company=owner))
            top = self._top_holding(index)
            owners = [
                BeneficialOwner(f"{siren}-B{n}", o.person, o.share_capital, o.share_votes, False, ("1",))
                for n, o in enumerate(self._owners(top))
            ]
            if rng.random() < 0.5:
                officers.append(Officer("53", created, person=self._person(rng, f"{siren}-D0", self.as_of)))
            return officers, owners
        owners = list(self._owners(index))
        lead_role = {"5499": "30", "5498": "30", "6540": "30", "5599": "65"}.get(category, "73")
        for n, o in enumerate(owners):
            role = lead_role if n == 0 else ("30" if lead_role == "30" else "53" if n == 1 else "70")
            officers.append(Officer(role, created, person=o.person))
        if category == "5599":
            auditor = (index + SA_AUDITOR_OFFSET) % self.size
            if auditor != index:
                officers.append(Officer("71", created, company=self.ref(auditor)))
        if slot == 8:
            # Control by other means: a BO with no shares (code 2), as declared by holdings-free structures.
            controller = self._person(rng, f"{siren}-C0", self.as_of)
            owners.append(BeneficialOwner(f"{siren}-BC", controller, 0.0, 0.0, True, ("2",)))
        if slot == 9:
            # No one above 25%: the legal representative is declared by default (code 0).
            owners = [BeneficialOwner(f"{siren}-B0", owners[0].person, 0.0, 0.0, True, ("0",))]
        return officers, owners

    def _insert_positive(self, k: int, version: int, siren: str, officers: list, owners: list,
                         bo_status: str, created: date):
        """Put the k-th listed person into this company as an officer or a beneficial owner."""
        lists = (("ofac", "eu", "un"), ("ofac",), ("eu",), ("un",))[k % 4]
        variant = ("exact", "reordered", "transliterated", "alias", "exact")[k % 5]
        person = self._listed_person(k, f"{siren}-K{k}")
        if k % 3 == 2 and bo_status == "declared":
            owners = owners + [BeneficialOwner(f"{siren}-BK{k}", person, 30.0, 30.0, True, ("1",))]
            role = "beneficial_owner"
        else:
            officers = officers + [Officer("70" if officers else "73", created, person=person)]
            role = "officer"
        return officers, owners, KnownPositive(f"KP{k:04d}", siren, person.person_id, role, lists, variant, version)
