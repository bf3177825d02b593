"""Render generated companies in the exact wire shapes of Sirene 3.11, RNE, BODACC and recherche-entreprises."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, timedelta

from kyc_dev.emulator import tables
from kyc_dev.emulator.dataset import Address, BeneficialOwner, Company, Establishment, Officer, Person

# -- INSEE Sirene 3.11 -------------------------------------------------------------------------------


def _processed_at(company: Company) -> str:
    """dateDernierTraitement: a fixed time derived from the data, never the wall clock."""
    last = max(d for d in (company.created, company.ceased, company.renamed_on) if d)
    return f"{(last + timedelta(days=3)).isoformat()}T04:20:08"


def _employees_year(band: str) -> str | None:
    return None if band == "NN" else "2023"


def _period(company: Company, start: date, end: date | None, state: str, name: str, changes: set[str]) -> dict:
    return {
        "dateFin": end.isoformat() if end else None,
        "dateDebut": start.isoformat(),
        "etatAdministratifUniteLegale": state,
        "changementEtatAdministratifUniteLegale": "etat" in changes,
        "nomUniteLegale": None,
        "changementNomUniteLegale": False,
        "nomUsageUniteLegale": None,
        "changementNomUsageUniteLegale": False,
        "denominationUniteLegale": name,
        "changementDenominationUniteLegale": "nom" in changes,
        "denominationUsuelle1UniteLegale": None,
        "denominationUsuelle2UniteLegale": None,
        "denominationUsuelle3UniteLegale": None,
        "changementDenominationUsuelleUniteLegale": False,
        "categorieJuridiqueUniteLegale": company.legal_category,
        "changementCategorieJuridiqueUniteLegale": False,
        "activitePrincipaleUniteLegale": company.naf,
        "nomenclatureActivitePrincipaleUniteLegale": "NAFRev2",
        "changementActivitePrincipaleUniteLegale": False,
        "nicSiegeUniteLegale": company.head_office.nic,
        "changementNicSiegeUniteLegale": False,
        "economieSocialeSolidaireUniteLegale": "N",
        "changementEconomieSocialeSolidaireUniteLegale": False,
        "societeMissionUniteLegale": None,
        "changementSocieteMissionUniteLegale": False,
        "caractereEmployeurUniteLegale": "N" if company.employees_band in ("NN", "00") else "O",
        "changementCaractereEmployeurUniteLegale": False,
    }


def unit_periods(company: Company) -> list[dict]:
    """periodesUniteLegale, newest first; the current one has dateFin null."""
    if company.ceased:
        return [
            _period(company, company.ceased, None, "C", company.name, {"etat"}),
            _period(company, company.created, company.ceased - timedelta(days=1), "A", company.name, set()),
        ]
    if company.renamed_on:
        return [
            _period(company, company.renamed_on, None, "A", company.name, {"nom"}),
            _period(company, company.created, company.renamed_on - timedelta(days=1), "A",
                    company.previous_name or company.name, set()),
        ]
    return [_period(company, company.created, None, "A", company.name, set())]


def sirene_unit(company: Company) -> dict:
    """Body of `GET /siren/{siren}`."""
    periods = unit_periods(company)
    return {
        "header": {"statut": 200, "message": "OK"},
        "uniteLegale": {
            "siren": company.siren,
            "statutDiffusionUniteLegale": "O",
            "dateCreationUniteLegale": company.created.isoformat(),
            "sigleUniteLegale": None,
            "sexeUniteLegale": None,
            "prenom1UniteLegale": None,
            "prenom2UniteLegale": None,
            "prenom3UniteLegale": None,
            "prenom4UniteLegale": None,
            "prenomUsuelUniteLegale": None,
            "pseudonymeUniteLegale": None,
            "identifiantAssociationUniteLegale": None,
            "trancheEffectifsUniteLegale": company.employees_band,
            "anneeEffectifsUniteLegale": _employees_year(company.employees_band),
            "dateDernierTraitementUniteLegale": _processed_at(company),
            "nombrePeriodesUniteLegale": len(periods),
            "categorieEntreprise": company.category,
            "anneeCategorieEntreprise": "2023",
            "periodesUniteLegale": periods,
        },
    }


def _flat_unit(company: Company) -> dict:
    """The current values of the unit as nested in an establishment."""
    current = unit_periods(company)[0]
    return {
        "etatAdministratifUniteLegale": current["etatAdministratifUniteLegale"],
        "statutDiffusionUniteLegale": "O",
        "dateCreationUniteLegale": company.created.isoformat(),
        "categorieJuridiqueUniteLegale": company.legal_category,
        "denominationUniteLegale": company.name,
        "sigleUniteLegale": None,
        "denominationUsuelle1UniteLegale": None,
        "denominationUsuelle2UniteLegale": None,
        "denominationUsuelle3UniteLegale": None,
        "sexeUniteLegale": None,
        "nomUniteLegale": None,
        "nomUsageUniteLegale": None,
        "prenom1UniteLegale": None,
        "prenom2UniteLegale": None,
        "prenom3UniteLegale": None,
        "prenom4UniteLegale": None,
        "prenomUsuelUniteLegale": None,
        "pseudonymeUniteLegale": None,
        "activitePrincipaleUniteLegale": company.naf,
        "nomenclatureActivitePrincipaleUniteLegale": "NAFRev2",
        "identifiantAssociationUniteLegale": None,
        "economieSocialeSolidaireUniteLegale": "N",
        "societeMissionUniteLegale": None,
        "caractereEmployeurUniteLegale": current["caractereEmployeurUniteLegale"],
        "trancheEffectifsUniteLegale": company.employees_band,
        "anneeEffectifsUniteLegale": _employees_year(company.employees_band),
        "nicSiegeUniteLegale": company.head_office.nic,
        "dateDernierTraitementUniteLegale": _processed_at(company),
        "categorieEntreprise": company.category,
        "anneeCategorieEntreprise": "2023",
    }


def _establishment_period(company: Company, start: date, end: date | None, state: str) -> dict:
    return {
        "dateFin": end.isoformat() if end else None,
        "dateDebut": start.isoformat(),
        "etatAdministratifEtablissement": state,
        "changementEtatAdministratifEtablissement": state == "F",
        "enseigne1Etablissement": None,
        "enseigne2Etablissement": None,
        "enseigne3Etablissement": None,
        "changementEnseigneEtablissement": False,
        "denominationUsuelleEtablissement": None,
        "changementDenominationUsuelleEtablissement": False,
        "activitePrincipaleEtablissement": company.naf,
        "nomenclatureActivitePrincipaleEtablissement": "NAFRev2",
        "changementActivitePrincipaleEtablissement": False,
        "caractereEmployeurEtablissement": "N",
        "changementCaractereEmployeurEtablissement": False,
    }


def _sirene_address(address: Address) -> dict:
    if address.country in tables.FOREIGN_COUNTRIES:
        # INSEE files a foreign address under the country's COG code and label, the city as free text.
        code, label, _alpha3 = tables.FOREIGN_COUNTRIES[address.country]
        return {
            "complementAdresseEtablissement": None, "numeroVoieEtablissement": address.number,
            "indiceRepetitionEtablissement": None, "typeVoieEtablissement": None,
            "libelleVoieEtablissement": f"{address.street_type} {address.street_name}",
            "codePostalEtablissement": None, "libelleCommuneEtablissement": None,
            "libelleCommuneEtrangerEtablissement": f"{address.postal_code} {address.commune_upper}",
            "distributionSpecialeEtablissement": None, "codeCommuneEtablissement": None,
            "codeCedexEtablissement": None, "libelleCedexEtablissement": None,
            "codePaysEtrangerEtablissement": code, "libellePaysEtrangerEtablissement": label,
        }
    return {
        "complementAdresseEtablissement": None,
        "numeroVoieEtablissement": address.number,
        "indiceRepetitionEtablissement": None,
        "typeVoieEtablissement": address.street_type,
        "libelleVoieEtablissement": address.street_name,
        "codePostalEtablissement": address.postal_code,
        "libelleCommuneEtablissement": address.commune_upper,
        "libelleCommuneEtrangerEtablissement": None,
        "distributionSpecialeEtablissement": None,
        "codeCommuneEtablissement": address.commune_code,
        "codeCedexEtablissement": None,
        "libelleCedexEtablissement": None,
        "codePaysEtrangerEtablissement": None,
        "libellePaysEtrangerEtablissement": None,
    }


_EMPTY_SECOND_ADDRESS = {
    key: None for key in (
        "complementAdresse2Etablissement", "numeroVoie2Etablissement", "indiceRepetition2Etablissement",
        "typeVoie2Etablissement", "libelleVoie2Etablissement", "codePostal2Etablissement",
        "libelleCommune2Etablissement", "libelleCommuneEtranger2Etablissement",
        "distributionSpeciale2Etablissement", "codeCommune2Etablissement", "codeCedex2Etablissement",
        "libelleCedex2Etablissement", "codePaysEtranger2Etablissement", "libellePaysEtranger2Etablissement",
    )
}


def sirene_establishment(company: Company, establishment: Establishment) -> dict:
    """One `etablissement` object (as in `/siret/{siret}` and in `/siret?q=` lists)."""
    if establishment.closed:
        periods = [
            _establishment_period(company, establishment.closed, None, "F"),
            _establishment_period(company, establishment.created, establishment.closed - timedelta(days=1), "A"),
        ]
    else:
        periods = [_establishment_period(company, establishment.created, None, "A")]
    return {
        "siren": company.siren,
        "nic": establishment.nic,
        "siret": establishment.siret,
        "statutDiffusionEtablissement": "O",
        "dateCreationEtablissement": establishment.created.isoformat(),
        "trancheEffectifsEtablissement": establishment.employees_band,
        "anneeEffectifsEtablissement": _employees_year(establishment.employees_band),
        "activitePrincipaleRegistreMetiersEtablissement": None,
        "dateDernierTraitementEtablissement": _processed_at(company),
        "etablissementSiege": establishment.head_office,
        "nombrePeriodesEtablissement": len(periods),
        "uniteLegale": _flat_unit(company),
        "adresseEtablissement": _sirene_address(establishment.address),
        "adresse2Etablissement": dict(_EMPTY_SECOND_ADDRESS),
        "periodesEtablissement": periods,
    }


def sirene_siret(company: Company, establishment: Establishment) -> dict:
    """Body of `GET /siret/{siret}`."""
    return {"header": {"statut": 200, "message": "ok"}, "etablissement": sirene_establishment(company, establishment)}


def sirene_siret_page(company: Company, debut: int, nombre: int) -> dict:
    """Body of `GET /siret?q=siren:...&debut=&nombre=`."""
    page = company.establishments[debut:debut + nombre]
    return {
        "header": {"statut": 200, "message": "OK", "total": len(company.establishments), "debut": debut,
                   "nombre": len(page)},
        "etablissements": [sirene_establishment(company, e) for e in page],
    }


def sirene_error(status: int, message: str) -> dict:
    """INSEE error body: the same `header` envelope with the status and a French message."""
    return {"header": {"statut": status, "message": message}}


# -- INPI RNE ----------------------------------------------------------------------------------------

_PRESENT_FLAGS = {
    "roleAdressePresent": False, "codePostalPresent": True, "communePresent": True, "codeInseeCommunePresent": True,
    "typeVoiePresent": True, "voiePresent": True, "voieCodifieePresent": False, "numVoiePresent": True,
    "indiceRepetitionPresent": False, "distributionSpecialePresent": False, "communeAnciennePresent": False,
    "rgpdPresent": False, "datePriseEffetAdressePresent": False, "complementLocalisationPresent": False,
    "communeDeRattachementPresent": False, "caracteristiquesPresent": False, "indicateurValidationBANPresent": True,
}
_PERSON_FLAGS = {
    "sirenPresent": False, "dateEffetRoleDeclarantPresent": True, "genrePresent": True, "titrePresent": False,
    "dateDeNaissancePresent": True, "paysNaissancePresent": True, "codePaysNaissancePresent": False,
    "lieuDeNaissancePresent": False, "codePostalNaissancePresent": False, "codeInseeGeographiquePresent": False,
    "situationMatrimonialePresent": False, "qualiteDeNonSedentaritePresent": False,
    "indicateurDeNonSedentaritePresent": False,
}


def _rne_address(address: Address, with_street: bool = True) -> dict:
    body = dict(_PRESENT_FLAGS)
    body.update({"pays": "FRANCE", "codePays": "FRA", "codePostal": address.postal_code,
                 "commune": address.commune, "codeInseeCommune": address.commune_code})
    if address.country in tables.FOREIGN_COUNTRIES:
        _code, label, alpha3 = tables.FOREIGN_COUNTRIES[address.country]
        body.update({"pays": label, "codePays": alpha3})
        body.pop("codeInseeCommune")
    if with_street:
        body.update({"typeVoie": address.street_type, "voie": address.street_name.title(), "numVoie": address.number})
    return body


def _rne_person(person: Person, since: date | None) -> dict:
    body = dict(_PERSON_FLAGS)
    if since:
        body["dateEffetRoleDeclarant"] = since.isoformat()
    body.update({"dateDeNaissance": person.birth_ym, "nom": person.last_name, "prenoms": list(person.first_names),
                 "genre": person.gender, "nationalite": person.nationality_label,
                 "codeNationalite": person.nationality_code})
    return body


def _stable_uuid(*parts: str) -> str:
    """A UUID fixed by the data, so repeated calls return byte-identical records."""
    return str(uuid.UUID(hashlib.md5(":".join(parts).encode()).hexdigest()))


def _pouvoir(company: Company, officer: Officer) -> dict:
    role_id = _stable_uuid(company.siren, "pouvoir", officer.person.person_id if officer.person else officer.company.siren)
    if officer.company is not None:
        return {
            "roleEntreprise": officer.role_code,
            "typeDePersonne": "ENTREPRISE",
            "indicateurActifAgricole": False,
            "representantId": role_id,
            "entreprise": {
                "roleEntreprise": officer.role_code,
                "siren": officer.company.siren,
                "denomination": officer.company.name,
                "formeJuridique": officer.company.legal_category,
                "entrepriseValidated": False,
                "entrepriseRdd": True,
            },
            "actif": True,
        }
    return {
        "roleEntreprise": officer.role_code,
        "typeDePersonne": "INDIVIDU",
        "indicateurActifAgricole": False,
        "representantId": role_id,
        "individu": {
            "descriptionPersonne": _rne_person(officer.person, officer.since),
            "adresseDomicile": _rne_address(officer.person.address, with_street=False),
            "indicateurActifAgricole": False,
        },
        "actif": True,
    }


def _modalite(owner: BeneficialOwner) -> dict:
    direct_capital = owner.share_capital if owner.direct else 0.0
    indirect_capital = 0.0 if owner.direct else owner.share_capital
    direct_votes = owner.share_votes if owner.direct else 0.0
    indirect_votes = 0.0 if owner.direct else owner.share_votes
    return {
        "detentionPartDirecte": owner.direct and owner.share_capital > 0,
        "detentionPartDirecteRdd": 0.0,
        "partsDirectesPleinePropriete": direct_capital,
        "partsDirectesNuePropriete": 0.0,
        "detentionPartIndirecte": not owner.direct,
        "detentionPartIndirecteRdd": 0.0,
        "partsIndirectesIndivision": 0.0,
        "partsIndirectesIndivisionPleinePropriete": 0.0,
        "partsIndirectesIndivisionNuePropriete": 0.0,
        "partsIndirectesPersonnesMorales": indirect_capital,
        "partsIndirectesPmoralesPleinePropriete": indirect_capital,
        "partsIndirectesPmoralesNuePropriete": 0.0,
        "detentionPartTotale": owner.share_capital,
        "detentionVoteDirecte": owner.direct and owner.share_votes > 0,
        "detentionVoteDirecteRdd": 0.0,
        "voteDirectePleinePropriete": direct_votes,
        "voteDirecteNuePropriete": 0.0,
        "voteDirecteUsufruit": 0.0,
        "detentionVoteIndirecte": not owner.direct,
        "detentionVoteIndirecteRdd": 0.0,
        "voteIndirecteIndivision": 0.0,
        "voteIndirecteIndivisionPleinePropriete": 0.0,
        "voteIndirecteIndivisionNuePropriete": 0.0,
        "voteIndirecteIndivisionUsufruit": 0.0,
        "voteIndirectePersonnesMorales": indirect_votes,
        "voteIndirectePmoralesPleinePropriete": indirect_votes,
        "voteIndirectePmoralesNuePropriete": 0.0,
        "voteIndirectePmoralesUsufruit": 0.0,
        "vocationTitulaireDirectePleineProprieteRdd": False,
        "vocationTitulaireDirectePleinePropriete": 0.0,
        "vocationTitulaireDirecteNuePropriete": 0.0,
        "vocationTitulaireIndirecteIndivision": 0.0,
        "vocationTitulaireIndirectePleineProprieteRdd": False,
        "vocationTitulaireIndirectePleinePropriete": 0.0,
        "vocationTitulaireIndirecteNuePropriete": 0.0,
        "vocationTitulaireIndirectePersonnesMorales": 0.0,
        "vocationTitulaireIndirectePmoralesPleinePropriete": 0.0,
        "vocationTitulaireIndirectePmoralesNuePropriete": 0.0,
        "detentionVoteTotal": owner.share_votes,
        "modalitesDeControle": list(owner.control_modes),
        "detention25pCapital": owner.share_capital > 25,
        "detention25pDroitVote": owner.share_votes > 25,
    }


def _beneficiaire(company: Company, owner: BeneficialOwner) -> dict:
    person = owner.person
    description = _rne_person(person, None)
    description.pop("genre")
    description.pop("nationalite")
    return {
        "actif": True,
        "beneficiaireId": _stable_uuid(company.siren, owner.beneficiary_id),
        "indexPouvoir": 0,
        "beneficiaire": {
            "descriptionPersonne": description,
            "adresseDomicile": {**dict(_PRESENT_FLAGS), "pays": "FRANCE", "codePays": "FRA"},
            "indicateurActifAgricole": False,
        },
        "modalite": _modalite(owner),
    }


def _rne_establishment(company: Company, establishment: Establishment) -> dict:
    description = {
        "rolePourEntreprise": "2" if establishment.head_office else "1",
        "siret": establishment.siret,
        "indicateurEtablissementPrincipal": establishment.head_office,
        "statutPourFormalite": "2" if establishment.closed else "4",
        "etablissementValidated": False,
        "etablissementRdd": True,
    }
    activity = {
        "categoryCode": "07040106",
        "activiteId": _stable_uuid(establishment.siret, "activite"),
        "indicateurPrincipal": True,
        "dateDebut": establishment.created.isoformat(),
        "formeExercice": "COMMERCIALE",
        "descriptionDetaillee": company.object_text,
        "rolePrincipalPourEntreprise": establishment.head_office,
        "codeApe": company.naf.replace(".", ""),
    }
    address = _rne_address(establishment.address)
    if establishment.head_office:
        description["sansActiviteAutreActiviteSiege"] = False
        address["caracteristiques"] = {"domiciliataire": False}
        activity.update({
            "indicateurProlongement": False, "exerciceActivite": "P", "indicateurNonSedentaire": False,
            "categorisationActivite1": "07", "categorisationActivite2": "04", "categorisationActivite3": "01",
            "categorisationActivite4": "06", "indicateurActiviteeApe": False, "precisionActivite": "99",
            "precisionAutre": "Activité de services", "activiteRattacheeEirl": False, "origine": {"typeOrigine": "1"},
        })
    elif establishment.closed:
        description["dateFinActivite"] = establishment.closed.isoformat()
    return {"descriptionEtablissement": description, "adresse": address, "activites": [activity]}


def rne_company(company: Company, with_beneficial_owners: bool = True) -> dict:
    """Body of `GET /api/companies/{siren}`.

    Beneficial owners are absent when this account may not see them or the company's declaration is not
    available, and an empty list when none are declared: the two answers must stay different.
    """
    history = [{
        "dateIntegration": f"{company.created.isoformat()}T12:11:01+01:00",
        "codeEvenement": "01M",
        "libelleEvenement": "Création d’une entreprise personne morale",
        "numeroLiasse": f"J{company.siren}01",
        "patchId": f"{company.siren}_0",
        "dateEffet": f"{company.created.isoformat()}T00:00:00+01:00",
        "cheminDateEffet": "content.natureCreation.dateCreation",
    }]
    if company.struck_off and company.ceased:
        history.append({
            "dateIntegration": f"{company.ceased.isoformat()}T09:30:00+01:00",
            "codeEvenement": "42M",
            "libelleEvenement": "Disparition de la personne morale",
            "numeroLiasse": f"J{company.siren}42",
            "patchId": f"{company.siren}_1",
            "dateEffet": f"{company.ceased.isoformat()}T00:00:00+01:00",
            "cheminDateEffet": "content.detailCessationEntreprise.dateEffet",
        })
    others = [e for e in company.establishments if not e.head_office]
    person = {
        "adresseEntreprise": {"caracteristiques": {"domiciliataire": False},
                              "adresse": {**_rne_address(company.head_office.address),
                                          "caracteristiques": {"domiciliataire": False}}},
        "etablissementPrincipal": _rne_establishment(company, company.head_office),
        "composition": {"pouvoirs": [_pouvoir(company, o) for o in company.officers]},
        "identite": {
            "entreprise": {
                "siren": company.siren,
                "denomination": company.name,
                "formeJuridique": company.legal_category,
                "nicSiege": company.head_office.nic,
                "codeApe": company.naf.replace(".", ""),
                "dateImmat": company.created.isoformat(),
                "entrepriseValidated": False,
                "entrepriseRdd": True,
            },
            "description": {
                "objet": company.object_text,
                "duree": 99,
                "datePremiereCloture": f"{company.created.year}-12-31",
                "ess": False,
                "societeMission": False,
                "capitalVariable": False,
                "montantCapital": company.capital,
                "deviseCapital": "EUR",
                "indicateurOrigineFusionScission": False,
                "indicateurAssocieUnique": company.legal_category in ("5720", "5498"),
                "depotDemandeAcre": False,
                "prorogationDuree": False,
                "continuationAvecActifNetInferieurMoitieCapital": False,
                "reconstitutionCapitauxPropres": False,
            },
            "publicationLegale": {"typePublication": "Publication légale",
                                  "datePublication": (company.created - timedelta(days=14)).isoformat(),
                                  "journalPublication": "annonces-legales.emulator.test"},
        },
        "structureEntreprise": {"indicateurPrincipalIdemSiege": True, "aucuneActivite": False},
    }
    if others:
        person["autresEtablissements"] = [_rne_establishment(company, e) for e in others]
    if company.ceased:
        person["detailCessationEntreprise"] = {"dateEffet": company.ceased.isoformat()}
    record: dict = {
        "updatedAt": f"{_processed_at(company)[:10]}T06:35:07+02:00",
        "nombreRepresentantsActifs": len(company.officers),
        "nombreEtablissementsOuverts": sum(1 for e in company.establishments if e.closed is None),
    }
    visible = with_beneficial_owners and company.bo_status != "not_available"
    if visible:
        person = {"beneficiairesEffectifs": [_beneficiaire(company, b) for b in company.beneficial_owners], **person}
        record["nombreBeneficiairesEffectifsActifs"] = len(company.beneficial_owners)
    record["id"] = hashlib.md5(company.siren.encode()).hexdigest()[:24]
    record["formality"] = {
        "siren": company.siren,
        "content": {
            "succursaleOuFiliale": "AVEC_ETABLISSEMENT",
            "formeExerciceActivitePrincipale": "COMMERCIALE",
            "natureCreation": {"dateCreation": company.created.isoformat(), "societeEtrangere": False,
                               "formeJuridique": company.legal_category,
                               "formeJuridiqueInsee": company.legal_category, "etablieEnFrance": True,
                               "salarieEnFrance": company.employees_band not in ("NN", "00"),
                               "relieeEntrepriseAgricole": False, "entrepriseAgricole": False},
            "personneMorale": person,
        },
        "diffusionINSEE": "O",
        "typePersonne": "M",
        "diffusionCommerciale": True,
        "historique": history,
        "formeJuridique": company.legal_category,
        "created": f"{company.created.isoformat()}T12:53:17+02:00",
        "updated": f"{company.created.isoformat()}T12:05:29+01:00",
    }
    record["siren"] = company.siren
    return record


# -- BODACC (Opendatasoft explore v2.1) --------------------------------------------------------------

_V21_FIELDS = (
    "id", "publicationavis", "publicationavis_facette", "parution", "dateparution", "numeroannonce", "typeavis",
    "typeavis_lib", "familleavis", "familleavis_lib", "numerodepartement", "departement_nom_officiel",
    "region_code", "region_nom_officiel", "tribunal", "commercant", "ville", "registre", "cp",
    "pdf_parution_subfolder", "ispdf_unitaire", "url_complete", "listepersonnes", "listeetablissements",
    "jugement", "acte", "modificationsgenerales", "radiationaurcs", "depot", "listeprecedentexploitant",
    "listeprecedentproprietaire", "divers", "parutionavisprecedent",
)
_FAMILIES = {
    "creation": ("A", "Créations"), "immatriculation": ("A", "Immatriculations"),
    "collective": ("A", "Procédures collectives"), "vente": ("A", "Ventes et cessions"),
    "modification": ("B", "Modifications diverses"), "radiation": ("B", "Radiations"),
    "dpc": ("C", "Dépôts des comptes"),
}
_TYPES = {"annonce": "Avis initial", "rectificatif": "Avis rectificatif", "annulation": "Avis d'annulation"}
_PROCEEDING_NATURE = {
    "sauvegarde": "Jugement d'ouverture d'une procédure de sauvegarde",
    "redressement": "Jugement d'ouverture d'une procédure de redressement judiciaire",
    "liquidation": "Jugement d'ouverture de liquidation judiciaire",
}


def _dumps(value: dict) -> str:
    """BODACC nests JSON inside string fields; keep it compact and non-ASCII as published."""
    return json.dumps(value, ensure_ascii=False)


def _parution(day: date) -> str:
    return f"{day.year}{min(day.timetuple().tm_yday, 250):04d}"


def _spaced(siren: str) -> str:
    return f"{siren[:3]} {siren[3:6]} {siren[6:]}"


def _personne(company: Company) -> str:
    address = company.head_office.address
    street = dict(tables.STREET_TYPES).get(address.street_type, "rue")
    return _dumps({"personne": {
        "typePersonne": "pm",
        "numeroImmatriculation": {"numeroIdentification": _spaced(company.siren), "codeRCS": "RCS",
                                  "nomGreffeImmat": tables.GREFFES.get(address.departement, "Paris")},
        "denomination": company.name,
        "formeJuridique": company.legal_category_label,
        "adresseSiegeSocial": {"numeroVoie": address.number, "typeVoie": street,
                               "nomVoie": address.street_name.title(), "codePostal": address.postal_code,
                               "ville": address.commune},
    }})


def _notice(company: Company, number: int, day: date, family: str, kind: str = "annonce", **extra: str) -> dict:
    letter, family_label = _FAMILIES[family]
    address = company.head_office.address
    dept = address.departement
    region_code, region = tables.REGIONS.get(dept, ("11", "Île-de-France"))
    numero = company.index * 10 + number + 1
    notice_id = f"{letter}{_parution(day)}{numero}"
    record = dict.fromkeys(_V21_FIELDS)
    record.update({
        "id": notice_id,
        "publicationavis": letter,
        "publicationavis_facette": f"Bodacc {letter}",
        "parution": _parution(day),
        "dateparution": day.isoformat(),
        "numeroannonce": numero,
        "typeavis": kind,
        "typeavis_lib": _TYPES[kind],
        "familleavis": family,
        "familleavis_lib": family_label,
        "numerodepartement": dept,
        "departement_nom_officiel": tables.DEPARTEMENTS.get(dept, "Paris"),
        "region_code": int(region_code),
        "region_nom_officiel": region,
        "tribunal": f"Greffe du Tribunal de Commerce de {tables.GREFFES.get(dept, 'Paris')}",
        "commercant": company.name,
        "ville": address.commune,
        "registre": [company.siren, _spaced(company.siren)],
        "cp": address.postal_code,
        "pdf_parution_subfolder": number % 3,
        "ispdf_unitaire": "oui",
        "url_complete": f"https://www.bodacc.fr/pages/annonces-commerciales-detail/?q.id=id:{notice_id}",
        "listepersonnes": _personne(company),
    })
    record.update(extra)
    return record


def bodacc_notices(company: Company, as_of: date) -> list[dict]:
    """Every BODACC notice about a company (v2.1 record shape), oldest first."""
    notices = [_notice(company, 0, company.created + timedelta(days=12), "creation",
                       acte=_dumps({"dateImmatriculation": company.created.isoformat(),
                                    "dateCommencementActivite": company.created.isoformat(),
                                    "descriptif": "Immatriculation d'une personne morale"}))]
    last_year = (company.ceased or as_of).year
    for n, year in enumerate(range(max(company.created.year + 1, last_year - 2), last_year)):
        notices.append(_notice(company, 1 + n, date(year + 1, 5, 8 + n), "dpc",
                               depot=_dumps({"dateCloture": f"{year}-12-31", "typeDepot": "Comptes annuels et rapports",
                                             "descriptif": "Les comptes annuels sont accompagnés d'une déclaration de "
                                                           "confidentialité en application du premier ou deuxième "
                                                           "alinéa de l'article L. 232-25."})))
    if company.renamed_on:
        first = _notice(company, 4, company.renamed_on + timedelta(days=9), "modification",
                        modificationsgenerales=_dumps({"descriptif": f"Modification de la dénomination. Ancienne "
                                                                      f"dénomination : {company.previous_name}"}))
        notices.append(first)
        notices.append(_notice(
            company, 5, company.renamed_on + timedelta(days=23), "modification", kind="rectificatif",
            modificationsgenerales=_dumps({"descriptif": f"Modification de la dénomination. Nouvelle dénomination : "
                                                          f"{company.name}"}),
            parutionavisprecedent=_dumps({"nomPublication": "BODACC", "numeroParution": first["parution"],
                                          "dateParution": first["dateparution"],
                                          "numeroAnnonce": first["numeroannonce"]}),
        ))
    if company.proceeding:
        opened = company.proceeding.opened
        notices.append(_notice(company, 6, opened + timedelta(days=14), "collective", jugement=_dumps({
            "type": "initial", "famille": "Jugement d'ouverture", "nature": _PROCEEDING_NATURE[company.proceeding.kind],
            "date": opened.isoformat(),
            "complementJugement": "Date de cessation des paiements : "
                                  f"{(opened - timedelta(days=45)).isoformat()}. Mandataire judiciaire désigné.",
        })))
    if company.struck_off and company.ceased:
        notices.append(_notice(company, 8, company.ceased + timedelta(days=20), "radiation",
                               radiationaurcs=_dumps({"radiationPM": "O",
                                                      "dateCessationActivitePM": company.ceased.isoformat(),
                                                      "commentaire": "Radiation du registre du commerce et des "
                                                                     "sociétés"})))
    published = [n for n in notices if n["dateparution"] <= as_of.isoformat()]
    return sorted(published, key=lambda n: (n["dateparution"], n["id"]))


def bodacc_v1_record(notice: dict) -> dict:
    """The legacy explore v1 envelope of a notice (nulls dropped, `registre` as one comma-joined string)."""
    fields = {k: v for k, v in notice.items() if v is not None}
    fields["registre"] = ",".join(notice["registre"])
    return {
        "datasetid": "annonces-commerciales",
        "recordid": hashlib.sha1(notice["id"].encode()).hexdigest(),
        "fields": fields,
        "record_timestamp": f"{notice['dateparution']}T05:05:00Z",
    }


# -- recherche-entreprises ---------------------------------------------------------------------------


def _dirigeant(officer: Officer) -> dict:
    label = tables.ROLE_LABELS.get(officer.role_code, "Autre")
    if officer.company is not None:
        return {"siren": officer.company.siren, "denomination": officer.company.name, "qualite": label,
                "type_dirigeant": "personne morale"}
    person = officer.person
    return {"nom": person.last_name, "prenoms": " ".join(person.first_names).upper(),
            "annee_de_naissance": str(person.birth_year), "date_de_naissance": person.birth_ym, "qualite": label,
            "nationalite": person.nationality_label, "type_dirigeant": "personne physique"}


def _siege(company: Company) -> dict:
    head = company.head_office
    address = head.address
    label = f"{address.number} {address.street_type} {address.street_name} {address.postal_code} {address.commune_upper}"
    return {
        "activite_principale": company.naf, "activite_principale_naf25": company.naf25,
        "activite_principale_registre_metier": None, "annee_tranche_effectif_salarie": _employees_year(head.employees_band),
        "adresse": label, "caractere_employeur": "N", "cedex": None, "code_pays_etranger": None,
        "code_postal": address.postal_code, "commune": address.commune_code, "complement_adresse": None,
        "coordonnees": None, "date_creation": head.created.isoformat(), "date_debut_activite": head.created.isoformat(),
        "date_fermeture": head.closed.isoformat() if head.closed else None, "date_mise_a_jour": None,
        "date_mise_a_jour_insee": _processed_at(company), "departement": address.departement,
        "distribution_speciale": None, "epci": None, "est_siege": True,
        "etat_administratif": "F" if head.closed else "A", "geo_adresse": None, "geo_id": None,
        "indice_repetition": None, "latitude": None, "libelle_cedex": None, "libelle_commune": address.commune_upper,
        "libelle_commune_etranger": None, "libelle_pays_etranger": None, "libelle_voie": address.street_name,
        "liste_enseignes": None, "liste_finess": None, "liste_id_bio": None, "liste_idcc": None,
        "liste_id_organisme_formation": None, "liste_rge": None, "liste_uai": None, "longitude": None,
        "nom_commercial": None, "numero_voie": address.number, "dernier_numero_voie": None,
        "region": tables.REGIONS.get(address.departement, ("11", ""))[0], "siret": head.siret,
        "statut_diffusion_etablissement": "O", "tranche_effectif_salarie": head.employees_band,
        "type_voie": address.street_type,
    }


def recherche_result(company: Company) -> dict:
    """One item of `results[]` from `/search` (2026 vintage fields)."""
    ceased = company.ceased.isoformat() if company.ceased else None
    return {
        "siren": company.siren, "nom_complet": company.name, "nom_raison_sociale": company.name, "sigle": None,
        "nombre_etablissements": len(company.establishments),
        "nombre_etablissements_ouverts": sum(1 for e in company.establishments if e.closed is None),
        "siege": _siege(company), "activite_principale": company.naf, "activite_principale_naf25": company.naf25,
        "categorie_entreprise": company.category, "caractere_employeur": None, "annee_categorie_entreprise": "2023",
        "date_creation": company.created.isoformat(), "date_fermeture": ceased,
        "date_mise_a_jour": _processed_at(company), "date_mise_a_jour_insee": _processed_at(company),
        "date_mise_a_jour_rne": _processed_at(company), "dirigeants": [_dirigeant(o) for o in company.officers],
        "etat_administratif": "C" if company.ceased else "A", "nature_juridique": company.legal_category,
        "section_activite_principale": tables.naf_section(company.naf),
        "tranche_effectif_salarie": company.employees_band,
        "annee_tranche_effectif_salarie": _employees_year(company.employees_band), "statut_diffusion": "O",
        "matching_etablissements": [],
        "immatriculation": {
            "date_debut_activite": company.created.isoformat(), "date_immatriculation": company.created.isoformat(),
            "date_radiation": ceased if company.struck_off else None, "duree_personne_morale": 99,
            "date_fin_existence": None, "nature_entreprise": ["Commerciale"], "date_cloture_exercice": "3112",
            "capital_social": company.capital, "capital_variable": False, "devise_capital": "EUR",
            "indicateur_associe_unique": company.legal_category in ("5720", "5498"),
        },
        "finances": _finances(company),
        "complements": {
            "collectivite_territoriale": None, "convention_collective_renseignee": False, "liste_idcc": None,
            "egapro_renseignee": False, "est_achats_responsables": False, "est_alim_confiance": False,
            "est_association": False, "est_avocat": False, "est_bio": False, "est_entrepreneur_individuel": False,
            "est_entrepreneur_spectacle": False, "est_ess": False, "est_finess": False,
            "est_organisme_formation": False, "est_qualiopi": False, "liste_id_organisme_formation": None,
            "est_rge": False, "est_siae": False, "est_societe_mission": False, "est_uai": False,
            "est_patrimoine_vivant": False, "bilan_ges_renseigne": False, "identifiant_association": None,
            "statut_entrepreneur_spectacle": None, "type_siae": None, "a_aide_minimis": False,
            "a_aide_ademe": False, "est_administration": False, "est_service_public": False, "est_l100_3": False,
        },
        "admin": {"slug": f"{_slug(company.name)}-{company.siren}", "a_acces_espace_agent": False},
    }


def _slug(name: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in name.lower()).split())


def _finances(company: Company) -> dict | None:
    """Published accounts of the last closed year, for companies that file them publicly."""
    if company.employees_band in ("NN", "00") or company.ceased:
        return None
    turnover = int(company.capital * 7 + company.index * 1000 % 900_000)
    return {"2024": {"ca": turnover, "resultat_net": turnover // 12}}
