"""Durable storage: the database, the ORM rows, migrations, settings, idempotency keys."""
