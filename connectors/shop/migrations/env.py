"""Alembic environment: always called by :mod:`connectors.shop.migrate` with a connection.

The connection is already inside the one transaction of the whole upgrade (``BEGIN
IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so two workers starting at once
migrate one after the other and the second finds nothing to do.
"""

from __future__ import annotations

from alembic import context

from connectors.shop.schema import metadata

VERSION_TABLE = "bot_alembic_version"

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run the bot's migrations with: python -m connectors.shop.migrate (or bot db upgrade)"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
