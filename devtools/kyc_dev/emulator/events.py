"""Register events published on a running emulator: BODACC notices and changed Sirene/RNE records.

An event changes what the sources answer from then on, in their real wire formats: a BODACC notice joins the
company's notices (and the date-filtered feeds), a changed company replaces the generated one in Sirene, the
RNE and BODACC answers. `reset()` forgets them all.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kyc_dev.emulator import formats
from kyc_dev.emulator.dataset import Address, BeneficialOwner, Company, Dataset, Officer, Person
from kyc_dev.emulator.tables import FOREIGN_COUNTRIES

_FOREIGN_CITIES = {"BE": "Bruxelles", "LU": "Luxembourg", "CH": "Genève", "GB": "Londres", "AE": "Dubaï"}
_PROCEEDINGS = ("liquidation", "redressement", "sauvegarde")

_Date = date
EventName = Literal["bodacc", "officer_in", "officer_out", "owner_in", "owner_out", "cessation", "office_abroad",
                    "naf_change"]


class EventSpec(BaseModel):
    """One event to publish (POST /_admin/events)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    event: EventName
    siren: str = Field(pattern=r"^\d{9}$")
    #: Publication or effect date (`date` in the body); default: today.
    day: _Date | None = Field(None, alias="date")
    #: BODACC: `collective` (with `proceeding`), `radiation` or `vente`.
    family: Literal["collective", "radiation", "vente"] = "collective"
    proceeding: Literal["liquidation", "redressement", "sauvegarde"] = "liquidation"
    #: officer_in / owner_in: a person of the emulated sanctions lists instead of a new generated one.
    listed: bool = False
    #: office_abroad: ISO alpha-2 of the new country.
    country: str = "BE"
    #: naf_change: the new NAF rev. 2 code.
    naf: str = Field("66.19B", pattern=r"^\d{2}\.\d{2}[A-Z]$")


class EventBook:
    """Changed companies and published notices, on top of the generated dataset."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.companies: dict[str, Company] = {}
        self.notices: list[dict] = []
        self.log: list[dict] = []

    def company(self, siren: str) -> Company | None:
        """The company as the sources describe it now."""
        return self.companies.get(siren) or self.dataset.company(siren)

    def notices_of(self, siren: str) -> list[dict]:
        """Published notices naming this SIREN."""
        return [n for n in self.notices if siren in n["registre"]]

    def reset(self) -> None:
        """Forget every published event."""
        self.companies.clear()
        self.notices.clear()
        self.log.clear()

    def publish(self, spec: EventSpec) -> dict[str, Any]:
        """Apply one event; what was done (ids only). ValueError when the company cannot take it."""
        company = self.company(spec.siren)
        if company is None:
            raise ValueError(f"unknown SIREN {spec.siren}")
        day = spec.day or date.today()
        done: dict[str, Any] = {"event": spec.event, "siren": spec.siren, "date": day.isoformat()}
        if spec.event == "bodacc":
            done["notice_id"] = self._notice(company, spec, day)
        else:
            changed, extra = self._change(company, spec, day)
            self.companies[spec.siren] = changed
            done.update(extra)
        self.log.append(done)
        return done

    # -- BODACC -------------------------------------------------------------------------------------------

    def _notice(self, company: Company, spec: EventSpec, day: date) -> str:
        extra: dict[str, str] = {}
        if spec.family == "collective":
            extra["jugement"] = formats._dumps({
                "type": "initial", "famille": "Jugement d'ouverture",
                "nature": formats._PROCEEDING_NATURE[spec.proceeding], "date": day.isoformat(),
                "complementJugement": "Mandataire judiciaire désigné."})
        elif spec.family == "radiation":
            extra["radiationaurcs"] = formats._dumps({"radiationPM": "O", "dateCessationActivitePM": day.isoformat(),
                                                      "commentaire": "Radiation du registre du commerce et des sociétés"})
        else:
            extra["acte"] = formats._dumps({"descriptif": "Vente du fonds de commerce", "dateEffet": day.isoformat()})
            extra["listeprecedentproprietaire"] = formats._personne(company)
        notice = formats._notice(company, 9, day, spec.family, **extra)
        # Published notices get numbers of their own, so two on one day never share an id.
        number = 9_000_000 + len(self.notices) + 1
        notice["numeroannonce"] = number
        notice["id"] = f"{notice['publicationavis']}{notice['parution']}{number}"
        notice["url_complete"] = f"https://www.bodacc.fr/pages/annonces-commerciales-detail/?q.id=id:{notice['id']}"
        self.notices.append(notice)
        return notice["id"]

    # -- Sirene and RNE -----------------------------------------------------------------------------------

    def _person(self, company: Company, spec: EventSpec, tag: str) -> Person:
        if spec.listed:
            positive = next((p for p in self.dataset.known_positives(version=1) if p.variant == "exact"), None)
            person = self.dataset.person(positive.siren, positive.person_id) if positive else None
            if person is None:
                raise ValueError("this dataset has no listed person")
            return replace(person, person_id=f"{company.siren}-{tag}")
        rng = random.Random(f"{self.dataset.seed}:event:{company.siren}:{tag}")
        return self.dataset._person(rng, f"{company.siren}-{tag}", self.dataset.as_of)

    def _change(self, company: Company, spec: EventSpec, day: date) -> tuple[Company, dict[str, Any]]:
        tag = f"E{len(self.log) + 1}"
        if spec.event == "officer_in":
            person = self._person(company, spec, tag)
            return replace(company, officers=(*company.officers, Officer("53", day, person=person))), {
                "person_id": person.person_id, "listed": spec.listed}
        if spec.event == "officer_out":
            people = [o for o in company.officers if o.person is not None]
            if not people:
                raise ValueError(f"{company.siren} has no natural-person officer")
            gone = people[-1]
            return replace(company, officers=tuple(o for o in company.officers if o is not gone)), {
                "person_id": gone.person.person_id if gone.person else None}
        if spec.event in ("owner_in", "owner_out") and company.bo_status != "declared":
            raise ValueError(f"{company.siren} declares no beneficial owners ({company.bo_status})")
        if spec.event == "owner_in":
            person = self._person(company, spec, tag)
            owner = BeneficialOwner(f"{company.siren}-B{tag}", person, 25.0, 25.0, True, ("1",))
            return replace(company, beneficial_owners=(*company.beneficial_owners, owner)), {
                "person_id": person.person_id, "listed": spec.listed}
        if spec.event == "owner_out":
            if not company.beneficial_owners:
                raise ValueError(f"{company.siren} has no beneficial owner left")
            gone_owner = company.beneficial_owners[-1]
            return replace(company, beneficial_owners=company.beneficial_owners[:-1]), {
                "person_id": gone_owner.person.person_id}
        if spec.event == "cessation":
            return replace(company, ceased=company.ceased or day), {}
        if spec.event == "office_abroad":
            if spec.country not in FOREIGN_COUNTRIES:
                raise ValueError(f"country must be one of {', '.join(FOREIGN_COUNTRIES)}")
            city = _FOREIGN_CITIES[spec.country]
            abroad = Address("1", "AV", "DE LA GARE", "1000", "", city, city.upper(), country=spec.country)
            establishments = tuple(replace(e, address=abroad) if e.head_office else e for e in company.establishments)
            return replace(company, establishments=establishments), {"country": spec.country}
        return replace(company, naf=spec.naf), {"naf": spec.naf, "previous_naf": company.naf}


__all__ = ["FOREIGN_COUNTRIES", "EventBook", "EventSpec"]
