"""Alembic environment: online against a connection, offline (``as_sql``) for Oracle scripts.

Configured by :mod:`soar_ext.db.migrate` through ``config.attributes``:

- ``connection``: an open SQLAlchemy connection (online mode);
- ``dialect_name``: dialect for offline rendering (default ``oracle``);
- ``applied``: a list that receives the revision id of every step run;
- ``drop_version_table``: drop ``sx_schema_version`` once no revision is applied any more, so a
  full downgrade leaves the database exactly as it was before the first upgrade.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from soar_ext.db.extension import PREFIX, VERSION_TABLE, ext_metadata

config = context.config


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Limit autogenerate to soar-ext objects so it never proposes changes to legacy tables."""
    if name is None:
        return False
    if type_ == "table":
        return name.startswith(PREFIX)
    if type_ == "index":
        return name.startswith("ix_" + PREFIX)
    table = getattr(obj, "table", None)
    return table is None or table.name.startswith(PREFIX)


def _record_step(ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
    applied = config.attributes.get("applied")
    if applied is not None:
        applied.append(step.up_revision_id)


def _options() -> dict[str, Any]:
    return {
        "target_metadata": ext_metadata,
        "version_table": VERSION_TABLE,
        # No primary key on the version table: Oracle offline SQL would otherwise need
        # RETURNING … INTO for the version insert, and the constraint would be unnamed.
        "version_table_pk": False,
        "transaction_per_migration": True,
        "include_object": _ours,
        "on_version_apply": _record_step,
        "compare_type": True,
    }


def run_migrations_offline() -> None:
    """Render SQL for a DBA instead of executing it."""
    dialect_name = config.attributes.get("dialect_name", "oracle")
    context.configure(
        dialect_name=dialect_name,
        dialect_opts={"supports_native_boolean": False},
        literal_binds=True,
        **_options(),
    )
    with context.begin_transaction():
        context.run_migrations()
    if dialect_name == "oracle":
        # Oracle DDL commits by itself, but the version-table row needs an explicit COMMIT.
        context.execute("COMMIT")
    if config.attributes.get("drop_version_table"):
        context.execute(f"DROP TABLE {VERSION_TABLE}")


def run_migrations_online() -> None:
    """Run against the connection handed over by soar_ext.db.migrate."""
    connection = config.attributes["connection"]
    context.configure(connection=connection, **_options())
    with context.begin_transaction():
        context.run_migrations()
        if config.attributes.get("drop_version_table") and not context.get_context().get_current_heads():
            context.execute(f"DROP TABLE {VERSION_TABLE}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
