-- soar-ext migration 0009 (0009_sx_gateway_secret): cleanup after a failed upgrade 0008 -> 0009
-- Rendered by soar_ext.db.migrate.write_oracle_scripts(); do not edit by hand.
-- Run with SQL*Plus or SQLcl as the SOAR schema owner, NLS_LANG=...AL32UTF8 (see README.md).
WHENEVER SQLERROR EXIT SQL.SQLCODE
SET DEFINE OFF

-- Guard: stop before any change unless the database is at revision 0008.
DECLARE
  expected VARCHAR2(32) := '0008';
  found    VARCHAR2(32);
  n        NUMBER;
BEGIN
  SELECT COUNT(*) INTO n FROM all_tables
   WHERE owner = SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') AND table_name = 'SX_SCHEMA_VERSION';
  IF n > 0 THEN
    EXECUTE IMMEDIATE 'SELECT MAX(version_num) FROM sx_schema_version' INTO found;
  END IF;
  IF NVL(found, '-') <> NVL(expected, '-') THEN
    RAISE_APPLICATION_ERROR(-20001, 'soar-ext: database is at revision ' || NVL(found, 'base')
      || ', this script needs ' || NVL(expected, 'base'));
  END IF;
END;
/

-- Use ONLY after 0009_sx_gateway_secret.upgrade.sql stopped with an error part-way. Oracle commits every
-- CREATE at once, so the objects made before the error remain while sx_schema_version still
-- says 0008; re-running the upgrade would then stop at ORA-00955 (name already used).
-- This script drops those of the revision's objects that exist: indexes first, then added
-- columns, then tables.
-- Objects that do not exist are skipped; nothing else is touched (no SOAR table, no object
-- of another revision). The guard above refuses to run once the upgrade has been recorded
-- (use the downgrade script then). Afterwards run 0009_sx_gateway_secret.upgrade.sql again.

BEGIN
  EXECUTE IMMEDIATE 'DROP TABLE sx_gateway_secret';
EXCEPTION WHEN OTHERS THEN
  IF SQLCODE NOT IN (-942, -1418) THEN RAISE; END IF;
END;
/
