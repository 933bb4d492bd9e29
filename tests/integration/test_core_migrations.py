"""Every table change has a migration: the schema the migrations build equals the tables."""

from piccolo.apps.migrations.auto.diffable_table import DiffableTable
from piccolo.apps.migrations.auto.schema_differ import SchemaDiffer
from piccolo.apps.migrations.auto.schema_snapshot import SchemaSnapshot
from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.conf.apps import Finder


async def pending_changes() -> list[tuple[str, list[str]]]:
    manager = BaseMigrationManager()
    problems = []
    for app_config in Finder().get_app_registry().app_configs.values():
        if app_config.app_name == "piccolo_admin":
            continue
        managers = await manager.get_migration_managers(app_config=app_config)
        snapshot = SchemaSnapshot(managers=managers).get_snapshot()
        current = [DiffableTable(class_name=t.__name__, tablename=t._meta.tablename,
                                 columns=t._meta.non_default_columns, previous_class_name=None,
                                 schema=t._meta.schema)
                   for t in app_config.table_classes]
        differ = SchemaDiffer(schema=current, schema_snapshot=snapshot, auto_input="y")
        statements = [st for group in differ.get_alter_statements() for st in group.statements]
        if statements:
            problems.append((app_config.app_name, statements))
    return problems


async def test_no_table_change_lacks_a_migration() -> None:
    problems = await pending_changes()
    assert not problems, (
        "tables changed without a migration; run "
        "`.venv/bin/piccolo migrations new <app> --auto`: " + repr(problems))
