"""Code-to-label tables for the French registers, embedded so the runtime depends on no data file.

Origin: INPI "Dictionnaire de données" of the RNE, April 2023 (sheets roleEntreprise,
modalitesDeControle, formeJuridique); the legal-category codes are INSEE's "catégories juridiques"
which INPI reuses verbatim. Only the legal categories a KYC analyst meets in practice are kept;
an unknown code keeps its code and gets no label rather than a guessed one.
"""

from __future__ import annotations

#: RNE `roleEntreprise` (officer role) codes, complete table of the April 2023 dictionary.
ROLE_LABELS: dict[str, str] = {
    "11": "Membre",
    "13": "Contrôleur de gestion",
    "14": "Contrôleur des comptes",
    "23": "Autre associé majoritaire",
    "28": "Gérant et associé indéfiniment et solidairement responsable",
    "29": "Gérant et associé indéfiniment responsable",
    "30": "Gérant",
    "40": "Liquidateur",
    "41": "Associé unique (qui participe à l’activité EURL)",
    "51": "Président du conseil d’administration",
    "52": "Président du directoire",
    "53": "Directeur Général",
    "55": "Dirigeant à l’étranger d’une personne morale étrangère",
    "56": "Dirigeant en France d’une personne morale étrangère",
    "60": "Président du conseil d’administration et directeur général",
    "61": "Président du conseil de surveillance",
    "63": "Membre du directoire",
    "64": "Membre du conseil de surveillance",
    "65": "Administrateur",
    "66": "Personne ayant le pouvoir d’engager à titre habituel la société",
    "67": "Personne ayant le pouvoir d’engager l'établissement",
    "69": "Directeur général unique de SA à directoire",
    "70": "Directeur général délégué",
    "71": "Commissaire aux comptes titulaire",
    "72": "Commissaire aux comptes suppléant",
    "73": "Président de SAS",
    "74": "Associé indéfiniment et solidairement responsable",
    "75": "Associé indéfiniment responsable",
    "76": "Représentant social en France d’une entreprise étrangère",
    "77": "Représentant fiscal en France d’une entreprise étrangère",
    "82": "Indivisaire",
    "86": "Exploitant pour le compte de l’indivision",
    "90": "Personne physique, exploitant en commun",
    "94": "Membre non salarié participant aux travaux",
    "95": "Associé qui participe à la gestion",
    "96": "Associé non salarié",
    "97": "Mandataire ad hoc",
    "98": "Administrateur provisoire",
    "99": "Autre",
    "100": "Repreneur",
    "101": "Entrepreneur",
    "103": "Suppléant",
    "104": "Personne chargée du contrôle",
    "105": "Personne décisionnaire désignée",
    "106": "Comptable",
    "107": "Héritier indivisaire",
    "108": "Loueur",
}

#: Statutory auditors are listed among `pouvoirs` but do not run the company.
AUDITOR_ROLE_CODES: frozenset[str] = frozenset({"71", "72"})

#: RBE `modalitesDeControle` codes (nature of the beneficial owner's control), complete table.
CONTROL_MODE_LABELS: dict[str, str] = {
    "0": "A défaut de choix de l'une des options figurant ci-dessus, le bénéficiaire effectif est le représentant légal de la société",
    "1": "Détention de plus de 25% du capital ou du droit de vote",
    "2": "Exercice par tout autre moyen d'un pouvoir de contrôle",
    "3": "Titulaire de plus de 25% du capital",
    "4": "Vocation par l’effet d’un acte juridique à devenir titulaire de plus de 25% du capital",
    "5": "Détention du pouvoir de nommer ou de révoquer la majorité des membres des organes d’administration de direction ou de surveillance de la PM",
    "6": "Exercice par d’autres moyens d’un pouvoir de contrôle sur les organes d’administration de direction ou de surveillance de la PM",
}

#: INSEE/INPI legal categories (`categorieJuridiqueUniteLegale`, `formeJuridique`), common subset.
LEGAL_CATEGORY_LABELS: dict[str, str] = {
    "1000": "Entrepreneur individuel",
    "2110": "Indivision entre personnes physiques",
    "2120": "Indivision avec personne morale",
    "3120": "Société commerciale étrangère immatriculée au RCS",
    "3220": "Société étrangère non immatriculée au RCS",
    "4110": "Établissement public national à caractère industriel ou commercial doté d'un comptable public",
    "5202": "Société en nom collectif",
    "5306": "Société en commandite simple",
    "5308": "Société en commandite par actions",
    "5310": "Société en libre partenariat (SLP)",
    "5385": "Société d'exercice libéral en commandite par actions",
    "5410": "SARL nationale",
    "5415": "SARL d'économie mixte",
    "5458": "SARL coopérative ouvrière de production (SCOP)",
    "5470": "Société de Participations Financières de Profession Libérale Société à responsabilité limitée (SPFPL SARL)",
    "5485": "Société d'exercice libéral à responsabilité limitée",
    "5499": "Société à responsabilité limitée (sans autre indication)",
    "5505": "SA à participation ouvrière à conseil d'administration",
    "5510": "SA nationale à conseil d'administration",
    "5515": "SA d'économie mixte à conseil d'administration",
    "5585": "Société d'exercice libéral à forme anonyme à conseil d'administration",
    "5599": "SA à conseil d'administration (s.a.i.)",
    "5610": "SA nationale à directoire",
    "5699": "SA à directoire (s.a.i.)",
    "5710": "SAS, société par actions simplifiée",
    "5785": "Société d'exercice libéral par action simplifiée",
    "5800": "Société européenne",
    "6210": "Groupement européen d'intérêt économique (GEIE)",
    "6220": "Groupement d'intérêt économique (GIE)",
    "6533": "Groupement agricole d'exploitation en commun (GAEC)",
    "6540": "Société civile immobilière",
    "6599": "Autre société civile",
    "7120": "Service central d'un ministère",
    "7210": "Commune et commune nouvelle",
    "7344": "Métropole",
    "7389": "Établissement public national à caractère administratif",
    "8510": "Institution de prévoyance",
    "9210": "Association non déclarée",
    "9220": "Association déclarée",
    "9300": "Fondation",
}


def role_label(code: str | None) -> str | None:
    """Label of an RNE officer role code, None when the code is unknown."""
    return ROLE_LABELS.get(code) if code else None


def control_mode_label(code: str | None) -> str | None:
    """Label of an RBE control-mode code, None when the code is unknown."""
    return CONTROL_MODE_LABELS.get(code) if code is not None else None


def legal_category_label(code: str | None) -> str | None:
    """Label of a legal-category code, None when the code is outside the embedded subset."""
    return LEGAL_CATEGORY_LABELS.get(code) if code else None
