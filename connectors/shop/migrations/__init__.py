"""Alembic migrations of the bot's own tables (run them with ``connectors.shop.migrate``)."""
