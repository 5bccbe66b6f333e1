"""Alembic's environment for the households database: the migrations run the way
citizenwatt.api.db sets them up (batch mode for SQLite, one transaction, a lock on
PostgreSQL). Loaded by `init_db`, `citizenwatt admin migrate`, and by Alembic's own command
for developers (`alembic -c api/migrations/alembic.ini revision --autogenerate -m "..."`)."""

from alembic import context

from citizenwatt.api.db import run_migrations

run_migrations(context)
