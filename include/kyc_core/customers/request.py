"""The onboarding request: what an integrator or analyst submits, validated before anything is written."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated, Any, Literal

import pycountry
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

from kyc_core.errors import UserError
from kyc_core.policy.model import PepCategory, Segment


def _country(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"not an ISO 3166-1 alpha-2 country code: {value!r}")
    return code


_YEAR_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
#: Characters no person or company name carries: markup, template and statement punctuation.
_NOT_IN_NAMES = frozenset("<>{}[]\\|;`$^~=*")


def _name(value: str, *, person: bool) -> str:
    """A plausible name: at least one letter, no markup or control characters (and no digits for a person)."""
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs") for ch in value):
        raise ValueError("contains control or invisible characters")
    if any(ch in _NOT_IN_NAMES for ch in value) or "--" in value or "/*" in value:
        raise ValueError("contains markup or punctuation that no name carries")
    if not any(ch.isalpha() for ch in value):
        raise ValueError("has no letter")
    if person and any(ch.isdigit() for ch in value):
        raise ValueError("a person's name has no digits")
    return value


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class DeclaredPerson(_Base):
    """An officer or beneficial owner as declared by the customer."""

    name: str = Field(min_length=2, max_length=200)
    birth_month: str | None = Field(default=None, description="YYYY-MM")
    nationality: str | None = None
    role: str | None = Field(default=None, max_length=100)
    ownership_pct: float | None = Field(default=None, ge=0, le=100)

    _nationality = field_validator("nationality")(classmethod(lambda cls, v: _country(v)))
    _person_name = field_validator("name")(classmethod(lambda cls, v: _name(v, person=True)))

    @field_validator("birth_month")
    @classmethod
    def _birth_month(cls, value: str | None) -> str | None:
        if value is not None and not _YEAR_MONTH.match(value):
            raise ValueError("must be YYYY-MM")
        return value


class PersonCustomer(_Base):
    """A natural person."""

    kind: Literal["person"] = "person"
    name: str = Field(min_length=2, max_length=200)
    birth_date: date
    nationality: str
    residence_country: str
    occupation: str | None = Field(default=None, max_length=200)
    pep_declared: bool = False
    pep_category: PepCategory | None = None
    expected_patrimony_eur: float | None = Field(default=None, ge=0)
    monthly_volume_eur: float | None = Field(default=None, ge=0)

    _countries = field_validator("nationality", "residence_country")(classmethod(lambda cls, v: _country(v)))
    _person_name = field_validator("name")(classmethod(lambda cls, v: _name(v, person=True)))

    @field_validator("birth_date")
    @classmethod
    def _plausible_birth(cls, value: date) -> date:
        today = date.today()
        if value > today:
            raise ValueError("is in the future")
        if value.year < today.year - 130:
            raise ValueError("is more than 130 years ago")
        return value


class EntityCustomer(_Base):
    """A legal entity registered in France, identified by its SIREN (or a SIRET of one of its establishments)."""

    kind: Literal["entity"] = "entity"
    siren: str
    declared_name: str = Field(min_length=1, max_length=300)
    siret: str | None = None
    declared_officers: list[DeclaredPerson] = Field(default_factory=list, max_length=100)
    declared_beneficial_owners: list[DeclaredPerson] = Field(default_factory=list, max_length=100)
    business_countries: list[str] = Field(default_factory=list, max_length=50)
    monthly_volume_eur: float | None = Field(default=None, ge=0)

    _company_name = field_validator("declared_name")(classmethod(lambda cls, v: _name(v, person=False)))

    @field_validator("siren")
    @classmethod
    def _siren(cls, value: str) -> str:
        compact = stdnum_siren.compact(value)
        if not stdnum_siren.is_valid(compact):
            raise ValueError("is not a valid SIREN (9 digits with a valid Luhn key)")
        return compact

    @field_validator("siret")
    @classmethod
    def _siret(cls, value: str | None) -> str | None:
        if value is None:
            return None
        compact = stdnum_siret.compact(value)
        if not stdnum_siret.is_valid(compact):
            raise ValueError("is not a valid SIRET (14 digits with a valid Luhn key)")
        return compact

    @field_validator("business_countries")
    @classmethod
    def _business_countries(cls, value: list[str]) -> list[str]:
        return [c for v in value if (c := _country(v)) is not None]


class OnboardingCustomer(_Base):
    """One customer to onboard: the subject plus how it came to us."""

    customer: Annotated[PersonCustomer | EntityCustomer, Field(discriminator="kind")]
    segment: Segment
    channel: str = Field(default="api", max_length=32)
    external_ref: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")


class OnboardingRequest(_Base):
    """The trigger's conf: one customer or a small batch."""

    customers: list[OnboardingCustomer] = Field(min_length=1, max_length=500)


_ADAPTER = TypeAdapter(OnboardingRequest)


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Field paths and messages only: the rejected values may be personal data and are never echoed."""
    return [
        {"field": ".".join(str(part) for part in err["loc"]), "message": err["msg"]} for err in exc.errors(include_input=False)
    ]


class InvalidRequest(UserError):
    """The request failed validation; `errors` names every offending field."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        first = errors[0]
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"invalid onboarding request: {first['field']}: {first['message']}{more}")


def parse_request(conf: Any) -> OnboardingRequest:
    """Validate a trigger conf; raise InvalidRequest naming the fields."""
    if not isinstance(conf, dict):
        raise InvalidRequest([{"field": "(root)", "message": "conf must be a JSON object"}])
    try:
        return _ADAPTER.validate_python(conf)
    except ValidationError as exc:
        raise InvalidRequest(field_errors(exc)) from None


def request_json_schema() -> dict[str, Any]:
    """Full JSON schema of one customer entry, references inlined (documentation, API clients)."""
    schema = OnboardingCustomer.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].split("/")[-1]])
            return {k: inline(v) for k, v in node.items() if k != "discriminator"}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)


def trigger_item_schema() -> dict[str, Any]:
    """The structural part of one entry, checked by Airflow at trigger time.

    Deeper rules (Luhn keys, dates, country codes, required subject fields) are checked by the
    validation task so that the run fails naming the exact field and the refusal is audited.
    """
    return {
        "type": "object",
        "required": ["customer", "segment"],
        "properties": {
            "customer": {"type": "object", "required": ["kind"], "properties": {"kind": {"enum": ["person", "entity"]}}},
            "segment": {"enum": [s.value for s in Segment]},
            "channel": {"type": "string"},
            "external_ref": {"type": ["string", "null"]},
        },
    }


#: The single-customer form of the trigger: field name -> where it goes in one request entry.
FORM_FIELDS = ("kind", "siren", "name", "birth_date", "nationality", "residence_country", "occupation", "pep_declared",
               "pep_category", "expected_patrimony_eur", "monthly_volume_eur", "segment", "external_ref")


def conf_from_params(params: dict[str, Any]) -> dict[str, Any]:
    """The request a trigger describes: the one customer of the form fields when `kind` is chosen, else `customers`.

    The analysts' form (Airflow's trigger form) fills in the fields; integrators send `customers` (a batch).
    """
    kind = params.get("kind")
    if not kind:
        return {"customers": params.get("customers")}
    given = {k: params.get(k) for k in FORM_FIELDS if params.get(k) not in (None, "")}
    if kind == "entity":
        customer = {"kind": "entity", "siren": given.get("siren"), "declared_name": given.get("name")}
        if "monthly_volume_eur" in given:
            customer["monthly_volume_eur"] = given["monthly_volume_eur"]
    else:
        customer = {"kind": kind, **{k: given[k] for k in ("name", "birth_date", "nationality", "residence_country", "occupation",
                                                            "expected_patrimony_eur", "monthly_volume_eur") if k in given}}
        customer["pep_declared"] = bool(params.get("pep_declared"))
        if "pep_category" in given:
            customer["pep_category"] = given["pep_category"]
    item: dict[str, Any] = {"customer": customer, "segment": given.get("segment"), "channel": "ui"}
    if "external_ref" in given:
        item["external_ref"] = given["external_ref"]
    return {"customers": [item]}


def form_params_schema() -> dict[str, dict[str, Any]]:
    """JSON schemas of the form fields, with enums and formats so the trigger form renders real controls."""
    countries = sorted(c.alpha_2 for c in pycountry.countries)
    nullable_country = {"type": ["null", "string"], "enum": [None, *countries]}
    return {
        "kind": {"type": ["null", "string"], "enum": [None, "entity", "person"], "title": "Kind",
                 "description": "Fill in this form for one customer (entity: SIREN and name; person: name, birth date, "
                                "countries). Leave empty to use the Customers list below instead."},
        "siren": {"type": ["null", "string"], "pattern": r"^\s*\d{3}\s?\d{3}\s?\d{3}\s*$", "title": "SIREN (entity)"},
        "name": {"type": ["null", "string"], "maxLength": 300, "title": "Name (declared company name, or the person's name)"},
        "birth_date": {"type": ["null", "string"], "format": "date", "title": "Birth date (person)"},
        "nationality": {**nullable_country, "title": "Nationality (person)"},
        "residence_country": {**nullable_country, "title": "Residence country (person)"},
        "occupation": {"type": ["null", "string"], "maxLength": 200, "title": "Occupation (person)"},
        "pep_declared": {"type": "boolean", "title": "Declared politically exposed person"},
        "pep_category": {"type": ["null", "string"], "enum": [None, *[c.value for c in PepCategory]], "title": "PEP category"},
        "expected_patrimony_eur": {"type": ["null", "number"], "minimum": 0, "title": "Expected patrimony (EUR)"},
        "monthly_volume_eur": {"type": ["null", "number"], "minimum": 0, "title": "Expected monthly volume (EUR)"},
        "segment": {"type": "string", "enum": [s.value for s in Segment], "title": "Segment"},
        "external_ref": {"type": ["null", "string"], "pattern": r"^[A-Za-z0-9._:\-]+$", "maxLength": 128,
                         "title": "External reference"},
    }
