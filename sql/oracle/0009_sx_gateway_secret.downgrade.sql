-- soar-ext migration 0009 (0009_sx_gateway_secret): downgrade 0009 -> 0008
-- Rendered by soar_ext.db.migrate.write_oracle_scripts(); do not edit by hand.
-- Run with SQL*Plus or SQLcl as the SOAR schema owner, NLS_LANG=...AL32UTF8 (see README.md).
-- WARNING: this undo script DELETES what soar-ext recorded; it cannot be rolled back.
-- It drops, with every value they hold:
--   table sx_gateway_secret (all rows)
-- These may hold the personal-information access audit and business decisions. Before running
-- it, count what would be lost and export what must be kept:
--   SELECT COUNT(*) FROM sx_gateway_secret;
-- `soar-ext db downgrade` shows the same counts and refuses to drop data without --force.
WHENEVER SQLERROR EXIT SQL.SQLCODE
SET DEFINE OFF

-- Guard: stop before any change unless the database is at revision 0009.
DECLARE
  expected VARCHAR2(32) := '0009';
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

-- Running downgrade 0009 -> 0008

DROP TABLE sx_gateway_secret

/

UPDATE sx_schema_version SET version_num='0008' WHERE sx_schema_version.version_num = '0009'

/

COMMIT

/
