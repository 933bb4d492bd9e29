"""Database fixtures helpers: apply migrations once, empty every table between tests."""

from __future__ import annotations

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.conf.apps import Finder

from trustdesk.db import get_engine, is_postgres

_migrated = False


async def migrate_once() -> None:
    global _migrated
    if _migrated:
        return
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        response = await run_forwards(app_name="all", fake=False)
    assert response.success, response.message
    _migrated = True


def all_tables() -> list[type]:
    return [t for t in Finder().get_table_classes() if t._meta.tablename != "migration"]


async def truncate_all() -> None:
    tables = all_tables()
    names = [t._meta.tablename for t in tables]
    if is_postgres():
        await get_engine().run_ddl(
            "TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE")
    else:
        async with get_engine().transaction():
            for table in tables:
                await table.delete(force=True)
