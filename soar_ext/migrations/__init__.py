"""Alembic migrations for soar-ext's own tables (``sx_`` prefix) and its indexes on legacy tables.

Run them through :mod:`soar_ext.db.migrate` (no ``alembic.ini`` needed); DBAs apply the
rendered Oracle scripts in ``sql/oracle/``. Rules for every revision:

- additive only: never drop, rename or alter a legacy (non-``sx_``) object;
- new columns nullable; every index and constraint named explicitly (``ix_sx_`` / ``pk_sx_`` ...);
- ``downgrade()`` drops exactly what ``upgrade()`` created, nothing else;
- no BOOLEAN (``NUMBER(1)`` + named check); identifiers at most 30 bytes.

Re-running is safe because Alembic records applied revisions in ``sx_schema_version``: an
upgrade to a revision already applied does nothing. The revisions themselves do not test for
existing objects, so an object created by hand must be removed before its revision runs.
"""
