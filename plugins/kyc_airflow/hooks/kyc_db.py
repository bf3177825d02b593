"""Hook for the KYC database (connection `kyc_db`): hands the domain core a SQLAlchemy URL."""

from __future__ import annotations

from airflow.sdk.bases.hook import BaseHook
from airflow.sdk.log import mask_secret
from sqlalchemy.engine import make_url


class KycDatabaseHook(BaseHook):
    """
    The KYC database behind an Airflow Connection.

    A `kyc_database` connection with extra `url` (any SQLAlchemy URL, e.g. the embedded SQLite of the demo),
    or the host/login/password/schema of a PostgreSQL server, turned into a URL by the postgres provider's hook.

    :param kyc_conn_id: connection id.
    """

    conn_name_attr = "kyc_conn_id"
    default_conn_name = "kyc_db"
    conn_type = "kyc_database"
    hook_name = "KYC database"

    def __init__(self, kyc_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.kyc_conn_id = kyc_conn_id

    def get_uri(self) -> str:
        """The SQLAlchemy URL the domain core connects with."""
        conn = self.get_connection(self.kyc_conn_id)
        extra = conn.extra_dejson
        url = extra.get("url") or extra.get(f"extra__{self.conn_type}__url")
        if url:
            password = make_url(url).password
            if password:
                # A password inside the URL extra is not a field Airflow knows to hide.
                mask_secret(password)
            return url
        # A PostgreSQL server given by fields: the postgres provider builds the URL (IAM tokens, query options).
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        pg = PostgresHook(postgres_conn_id=self.kyc_conn_id, sqlalchemy_scheme="postgresql+psycopg")
        url = pg.sqlalchemy_url
        url = url.set(host=url.host or "127.0.0.1", database=url.database or "kyc")
        return url.render_as_string(hide_password=False)

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's Test button: reach the database and report its schema revision."""
        from kyc_core.store.migrate import current_revision, head_revision

        try:
            revision = current_revision(self.get_uri())
        except Exception as exc:  # noqa: BLE001 - the UI shows the message
            return False, str(exc)
        return True, f"reached; schema revision {revision or 'empty'} (code head {head_revision()})"
