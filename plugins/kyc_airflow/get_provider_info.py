"""Provider metadata: registers the KYC connection types so they show in the Airflow UI's connection form."""

from __future__ import annotations


def _source_conn(conn_type: str, name: str, hook: str, login: str, password: str, host_hint: str) -> dict:
    return {
        "hook-class-name": f"kyc_airflow.hooks.sources.{hook}",
        "hook-name": name,
        "connection-type": conn_type,
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port"],
            "relabeling": {"host": "Base URL", "login": login, "password": password},
            "placeholders": {"host": host_hint},
        },
    }


def get_provider_info() -> dict:
    """The dictionary Airflow's ProvidersManager reads through the `apache_airflow_provider` entry point."""
    return {
        "package-name": "kyc-edd-airflow",
        "name": "KYC / EDD",
        "description": "Hooks and operators for the KYC database and the French registers behind circuit breakers.",
        "versions": ["0.1.0"],
        "hooks": [{"integration-name": "KYC / EDD", "python-modules": ["kyc_airflow.hooks.kyc_db", "kyc_airflow.hooks.sources"]}],
        "connection-types": [
            {
                "hook-class-name": "kyc_airflow.hooks.kyc_db.KycDatabaseHook",
                "hook-name": "KYC database",
                "connection-type": "kyc_database",
                "ui-field-behaviour": {
                    "hidden-fields": [],
                    "relabeling": {"schema": "Database"},
                    "placeholders": {"host": "postgres host (leave empty when a URL is given)"},
                },
                "conn-fields": {
                    "url": {
                        "label": "SQLAlchemy URL",
                        "description": "Full URL of the KYC database; overrides host/login/schema (e.g. sqlite:////data/kyc.db).",
                        "schema": {"type": ["string", "null"]},
                    }
                },
            },
            _source_conn("insee_sirene", "INSEE Sirene 3.11", "SireneHook", "(unused)", "API key", "https://api.insee.fr/api-sirene/3.11"),
            _source_conn("inpi_rne", "INPI RNE", "RneHook", "INPI account", "INPI password", "https://registre-national-entreprises.inpi.fr"),
            _source_conn("bodacc", "BODACC (Opendatasoft)", "BodaccHook", "(unused)", "API key (optional)", "https://bodacc-datadila.opendatasoft.com"),
            _source_conn("sanctions_list", "Sanctions list download", "SanctionsListHook", "(unused)", "(unused)", "https://sanctionslistservice.ofac.treas.gov"),
        ],
    }
