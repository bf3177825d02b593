"""Reference tables the generated dataset draws from (names, places, codes as the registers spell them)."""

from __future__ import annotations

FRENCH_LAST_NAMES = (
    "MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS", "MOREAU", "LAURENT",
    "SIMON", "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID", "BERTRAND", "MOREL", "FOURNIER", "GIRARD",
    "BONNET", "DUPONT", "LAMBERT", "FONTAINE", "ROUSSEAU", "VINCENT", "MULLER", "LEFEVRE", "FAURE", "ANDRE",
    "MERCIER", "BLANC", "GUERIN", "BOYER", "GARNIER", "CHEVALIER", "FRANCOIS", "LEGRAND", "GAUTHIER", "GARCIA",
    "PERRIN", "ROBIN", "CLEMENT", "MORIN", "NICOLAS", "HENRY", "ROUSSEL", "MATHIEU", "GAUTIER", "MASSON",
    "MARCHAND", "DUVAL", "DENIS", "DUMONT", "MARIE", "LEMAIRE", "NOEL", "MEYER", "DUFOUR", "MEUNIER",
    "BRUN", "BLANCHARD", "GIRAUD", "JOLY", "RIVIERE", "LUCAS", "BRUNET", "GAILLARD", "BARBIER", "ARNAUD",
    "MARTINEZ", "GERARD", "ROCHE", "RENARD", "SCHMITT", "ROY", "LEROUX", "COLIN", "VIDAL", "CARON",
    "PICARD", "ROGER", "FABRE", "AUBERT", "LEMOINE", "RENAUD", "DUMAS", "LACROIX", "OLIVIER", "PHILIPPE",
    "BOURGEOIS", "PIERRE", "BENOIT", "REY", "LECLERC", "PAYET", "ROLLAND", "LECLERCQ", "GUILLAUME", "LECOMTE",
    "DE SAINT-EXUPERY", "LE GALL", "LE BIHAN", "D'ALMEIDA", "N'DIAYE", "BEN SAID", "DA SILVA", "DOS SANTOS",
)

FRENCH_FIRST_NAMES_M = (
    "Jean", "Pierre", "Michel", "André", "Philippe", "Alain", "Jacques", "Bernard", "Christophe", "Nicolas",
    "Stéphane", "Laurent", "Julien", "Sébastien", "François", "Olivier", "Thierry", "Éric", "Frédéric", "David",
    "Thomas", "Antoine", "Hugo", "Lucas", "Mathieu", "Guillaume", "Yannick", "Benoît", "Rémi", "Karim",
)

FRENCH_FIRST_NAMES_F = (
    "Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Françoise", "Valérie", "Christine", "Sandrine",
    "Sophie", "Céline", "Camille", "Julie", "Aurélie", "Émilie", "Hélène", "Claire", "Anne", "Chloé", "Léa",
    "Manon", "Inès", "Agnès", "Béatrice", "Corinne", "Fatima", "Élodie", "Mathilde", "Pauline", "Zoé",
)

# Nationalities as the RNE codes and spells them (codeNationalite.csv); FRA dominates as in a French register.
NATIONALITIES = (
    ("FRA", "Française", 80), ("BEL", "Belge", 3), ("ITA", "Italienne", 3), ("ESP", "Espagnole", 2),
    ("DEU", "Allemande", 2), ("PRT", "Portugaise", 2), ("GBR", "Britannique", 2), ("CHE", "Suisse", 1),
    ("MAR", "Marocaine", 2), ("DZA", "Algérienne", 1), ("TUN", "Tunisienne", 1), ("LBN", "Libanaise", 1),
    ("RUS", "Russe", 1), ("TUR", "Turque", 1), ("CHN", "Chinoise", 1), ("USA", "Américaine", 1),
)

# ISO3 -> (ISO2, English country name) for the sanctions lists.
COUNTRIES = {
    "FRA": ("FR", "France"), "BEL": ("BE", "Belgium"), "ITA": ("IT", "Italy"), "ESP": ("ES", "Spain"),
    "DEU": ("DE", "Germany"), "PRT": ("PT", "Portugal"), "GBR": ("GB", "United Kingdom"),
    "CHE": ("CH", "Switzerland"), "MAR": ("MA", "Morocco"), "DZA": ("DZ", "Algeria"), "TUN": ("TN", "Tunisia"),
    "LBN": ("LB", "Lebanon"), "RUS": ("RU", "Russia"), "TUR": ("TR", "Turkey"), "CHN": ("CN", "China"),
    "USA": ("US", "United States"), "IRN": ("IR", "Iran"), "SYR": ("SY", "Syria"), "PRK": ("KP", "North Korea"),
    "IRQ": ("IQ", "Iraq"), "AFG": ("AF", "Afghanistan"), "YEM": ("YE", "Yemen"), "LBY": ("LY", "Libya"),
    "BLR": ("BY", "Belarus"), "ARE": ("AE", "United Arab Emirates"), "VEN": ("VE", "Venezuela"), "SDN": ("SD", "Sudan"), "MLI": ("ML", "Mali"),
}

# (code INSEE commune, postal code, commune as RNE spells it, commune label as Sirene spells it)
COMMUNES = (
    ("75108", "75008", "Paris 8e Arrondissement", "PARIS 8"),
    ("75116", "75016", "Paris 16e Arrondissement", "PARIS 16"),
    ("75109", "75009", "Paris 9e Arrondissement", "PARIS 9"),
    ("69383", "69003", "Lyon 3e Arrondissement", "LYON 3EME"),
    ("13208", "13008", "Marseille 8e Arrondissement", "MARSEILLE 8EME"),
    ("31555", "31000", "Toulouse", "TOULOUSE"),
    ("44109", "44000", "Nantes", "NANTES"),
    ("33063", "33000", "Bordeaux", "BORDEAUX"),
    ("59350", "59000", "Lille", "LILLE"),
    ("06088", "06000", "Nice", "NICE"),
    ("67482", "67000", "Strasbourg", "STRASBOURG"),
    ("35238", "35000", "Rennes", "RENNES"),
    ("34172", "34000", "Montpellier", "MONTPELLIER"),
    ("94017", "94500", "Champigny-sur-Marne", "CHAMPIGNY-SUR-MARNE"),
    ("92012", "92100", "Boulogne-Billancourt", "BOULOGNE-BILLANCOURT"),
    ("92051", "92200", "Neuilly-sur-Seine", "NEUILLY-SUR-SEINE"),
    ("38185", "38000", "Grenoble", "GRENOBLE"),
    ("21231", "21000", "Dijon", "DIJON"),
    ("14327", "14200", "Hérouville-Saint-Clair", "HEROUVILLE-SAINT-CLAIR"),
    ("97411", "97400", "Saint-Denis", "SAINT-DENIS"),
)

# Greffe (commercial court registry) by département, as BODACC names it.
GREFFES = {
    "75": "Paris", "69": "Lyon", "13": "Marseille", "31": "Toulouse", "44": "Nantes", "33": "Bordeaux",
    "59": "Lille Métropole", "06": "Nice", "67": "Strasbourg", "35": "Rennes", "34": "Montpellier",
    "94": "Créteil", "92": "Nanterre", "38": "Grenoble", "21": "Dijon", "14": "Caen", "97": "Saint-Denis",
}

REGIONS = {
    "75": ("11", "Île-de-France"), "94": ("11", "Île-de-France"), "92": ("11", "Île-de-France"),
    "69": ("84", "Auvergne-Rhône-Alpes"), "38": ("84", "Auvergne-Rhône-Alpes"),
    "13": ("93", "Provence-Alpes-Côte d'Azur"), "06": ("93", "Provence-Alpes-Côte d'Azur"),
    "31": ("76", "Occitanie"), "34": ("76", "Occitanie"), "44": ("52", "Pays de la Loire"),
    "33": ("75", "Nouvelle-Aquitaine"), "59": ("32", "Hauts-de-France"), "67": ("44", "Grand Est"),
    "35": ("53", "Bretagne"), "21": ("27", "Bourgogne-Franche-Comté"), "14": ("28", "Normandie"),
    "97": ("04", "La Réunion"),
}

DEPARTEMENTS = {
    "75": "Paris", "94": "Val-de-Marne", "92": "Hauts-de-Seine", "69": "Rhône", "38": "Isère",
    "13": "Bouches-du-Rhône", "06": "Alpes-Maritimes", "31": "Haute-Garonne", "34": "Hérault",
    "44": "Loire-Atlantique", "33": "Gironde", "59": "Nord", "67": "Bas-Rhin", "35": "Ille-et-Vilaine",
    "21": "Côte-d'Or", "14": "Calvados", "97": "La Réunion",
}

# (Sirene typeVoie code, BODACC spelling)
STREET_TYPES = (("RUE", "rue"), ("AV", "avenue"), ("BD", "boulevard"), ("PL", "place"), ("ALL", "allée"),
                ("CHE", "chemin"), ("IMP", "impasse"), ("QUAI", "quai"))
STREET_NAMES = (
    "DE LA REPUBLIQUE", "VICTOR HUGO", "JEAN JAURES", "DU GENERAL DE GAULLE", "PASTEUR", "DE LA GARE",
    "DES LILAS", "LA BOETIE", "DE LA PAIX", "GAMBETTA", "DU MARECHAL FOCH", "DES ECOLES", "VOLTAIRE",
    "DU COMMERCE", "DE VERDUN", "SAINT-HONORE", "DES TANNEURS", "ALBERT", "DU PORT", "DES VIGNES",
)

# (INSEE legal category, label as BODACC spells it, share of companies)
LEGAL_CATEGORIES = (
    ("5710", "Société par actions simplifiée", 40),
    ("5720", "Société par actions simplifiée à associé unique", 15),
    ("5499", "Société à responsabilité limitée", 25),
    ("5498", "Société à responsabilité limitée unipersonnelle", 8),
    ("5599", "Société anonyme à conseil d'administration", 5),
    ("6540", "Société civile immobilière", 7),
)

# (NAF rev2 code, NAF 2025 code, activity wording used in generated names)
NAF_CODES = (
    ("62.02A", "62.20Y", "CONSEIL"), ("62.01Z", "62.10Y", "DIGITAL"), ("70.22Z", "70.20Y", "CONSULTING"),
    ("41.20A", "41.00Y", "CONSTRUCTION"), ("43.21A", "43.21Y", "ELECTRICITE"), ("56.10A", "56.11Y", "RESTAURATION"),
    ("47.11B", "47.11Y", "DISTRIBUTION"), ("45.11Z", "46.71Y", "AUTOMOBILES"), ("68.20B", "68.20Y", "IMMOBILIER"),
    ("68.10Z", "68.11Y", "PATRIMOINE"), ("49.41A", "49.41Y", "TRANSPORTS"), ("46.72Z", "46.82Y", "METAUX"),
    ("66.12Z", "66.12Y", "BOURSE"), ("66.19B", "66.19Y", "FINANCE"), ("92.00Z", "92.00Y", "JEUX"),
    ("10.71C", "10.71Y", "BOULANGERIE"), ("86.21Z", "86.21Y", "MEDICAL"), ("55.10Z", "55.10Y", "HOTELLERIE"),
    ("46.90Z", "46.90Y", "NEGOCE"), ("64.20Z", "64.21Y", "HOLDING"),
)
HOLDING_NAF = ("64.20Z", "64.21Y", "HOLDING")

NAME_PATTERNS = ("{activity} {last}", "{last} {activity}", "{last} ET FILS", "GROUPE {last}",
                 "{last} {activity} {region}", "SOCIETE NOUVELLE {last}", "{activity} DU {place}",
                 "ATELIERS {last}", "{last}-{last2}", "{activity} {initials}")
NAME_PLACES = ("SUD", "NORD", "LITTORAL", "VAL DE LOIRE", "GRAND OUEST", "CENTRE", "MIDI", "RHONE")

# RNE role codes (roleEntreprise.csv) with the label recherche-entreprises shows as `qualite`.
ROLE_LABELS = {
    "30": "Gérant", "53": "Directeur Général", "65": "Administrateur", "70": "Directeur général délégué",
    "71": "Commissaire aux comptes titulaire", "72": "Commissaire aux comptes suppléant",
    "73": "Président de SAS", "40": "Liquidateur",
}

# Names used only for generated sanctions entries, kept apart from the register pools so that the only
# overlaps between registers and lists are the ones the dataset declares as known positives.
LIST_FIRST_NAMES = (
    "Abdul", "Ahmad", "Ali", "Hassan", "Hussein", "Ibrahim", "Khalid", "Mahmoud", "Mohammed", "Mustafa",
    "Omar", "Saeed", "Yousef", "Aleksandr", "Dmitriy", "Igor", "Sergey", "Vladimir", "Yevgeniy", "Viktor",
    "Kim Chol", "Ri Song", "Pak Yong", "Jose Luis", "Nicolas Ernesto", "Tarek", "Walid", "Bashir", "Faisal",
)
LIST_LAST_NAMES = (
    "AL-RASHIDI", "HAQQANI", "AL-ZUBAIDI", "NASRALLAHI", "QADIRI", "KHORASANI", "MUSAWI", "JABERI",
    "VOLKOV", "SMIRNOVSKIY", "KOZLOVICH", "ORLOVETS", "BELOUSOV", "PETRENKO", "GROMOVICH", "DANILOVSKY",
    "KIM", "RI", "PAK", "CABELLO RONDON", "MORENO ESCOBAR", "AL-BAGHDADI", "AL-SUDANI", "TOURE-KONATE",
)
LIST_ENTITY_WORDS = (
    ("TRADING", "GENERAL TRADING LLC"), ("SHIPPING", "SHIPPING CO. LTD"), ("PETRO", "PETROCHEMICAL FZE"),
    ("GLOBAL", "LOGISTICS SARL"), ("NOVA", "INVESTMENT GROUP"), ("STAR", "EXCHANGE HOUSE"),
    ("ORIENT", "MINING CORPORATION"), ("UNITED", "HOLDINGS LIMITED"), ("DELTA", "AVIATION JSC"),
)
LIST_CITIES = (("Tehran", "IRN"), ("Damascus", "SYR"), ("Pyongyang", "PRK"), ("Moscow", "RUS"),
               ("Minsk", "BLR"), ("Caracas", "VEN"), ("Khartoum", "SDN"), ("Baghdad", "IRQ"),
               ("Beirut", "LBN"), ("Bamako", "MLI"), ("Dubai", "ARE"))
# Surnames of the register persons the lists name on purpose (known positives), unused anywhere else.
POSITIVE_LAST_NAMES = (
    "AL-MANSOURI", "KARIMZADEH", "SHAKHNAZAROV", "HADDADINE", "QURESHIAN", "ZOLOTAREV", "NAJJARIYEH",
    "OBEIDALLAH", "TERZIOGLU", "VARGAS LUGONES", "MIRZAKHANOV", "SABBAGHIAN", "DOKHTOROVA", "BAKHRAMOV",
)
OFAC_PROGRAMS = ("SDGT", "IRAN", "RUSSIA-EO14024", "DPRK3", "SYRIA", "VENEZUELA-EO13850", "IFSR", "CYBER2")
UN_PROGRAMS = (("QDi", "Al-Qaida"), ("KPi", "DPRK"), ("IQi", "Iraq"), ("SDi", "Sudan"), ("LYi", "Libya"))
EU_PROGRAMS = ("RUS", "SYR", "IRN", "PRK", "TERR", "BLR", "VEN", "LBY")

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def naf_section(naf: str) -> str:
    """NAF section letter of a NAF code, as recherche-entreprises reports it."""
    division = int(naf[:2])
    bounds = ((3, "A"), (9, "B"), (33, "C"), (35, "D"), (39, "E"), (43, "F"), (47, "G"), (53, "H"), (56, "I"),
              (63, "J"), (66, "K"), (68, "L"), (75, "M"), (82, "N"), (84, "O"), (85, "P"), (88, "Q"),
              (93, "R"), (96, "S"), (98, "T"), (99, "U"))
    for upper, letter in bounds:
        if division <= upper:
            return letter
    return "U"


#: Foreign countries a registered office can move to: ISO alpha-2 -> (INSEE COG code, INSEE label, ISO alpha-3).
FOREIGN_COUNTRIES = {
    "BE": ("99131", "BELGIQUE", "BEL"),
    "LU": ("99137", "LUXEMBOURG", "LUX"),
    "CH": ("99140", "SUISSE", "CHE"),
    "GB": ("99132", "ROYAUME-UNI", "GBR"),
    "AE": ("99247", "EMIRATS ARABES UNIS", "ARE"),
}
