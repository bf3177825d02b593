"""Alembic environment for the KYC database; the URL comes from the caller's Config, never a file."""

from __future__ import annotations

from alembic import context

from kyc_core.store.models import Base

config = context.config


def run_migrations_online() -> None:
    """Run in the connection the caller put in the Config attributes."""
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run `kyc db upgrade` against a database")
run_migrations_online()
