-- soar-ext migration 0001 (0001_sx_base): downgrade 0001 -> base
-- Rendered by soar_ext.db.migrate.write_oracle_scripts(); do not edit by hand.
-- Run with SQL*Plus or SQLcl as the SOAR schema owner, NLS_LANG=...AL32UTF8 (see README.md).
-- WARNING: this undo script DELETES what soar-ext recorded; it cannot be rolled back.
-- It drops, with every value they hold:
--   table sx_deposit_decision (all rows)
--   table sx_plugin_decision (all rows)
--   table sx_audit_log (all rows)
-- These may hold the personal-information access audit and business decisions. Before running
-- it, count what would be lost and export what must be kept:
--   SELECT COUNT(*) FROM sx_deposit_decision;
--   SELECT COUNT(*) FROM sx_plugin_decision;
--   SELECT COUNT(*) FROM sx_audit_log;
-- `soar-ext db downgrade` shows the same counts and refuses to drop data without --force.
WHENEVER SQLERROR EXIT SQL.SQLCODE
SET DEFINE OFF

-- Guard: stop before any change unless the database is at revision 0001.
DECLARE
  expected VARCHAR2(32) := '0001';
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

-- Running downgrade 0001 ->

DROP INDEX ix_sx_hfpd_pdcgsj

/

DROP INDEX ix_sx_zlht_hfpdid

/

DROP INDEX ix_sx_hfyf_yfzt

/

DROP INDEX ix_sx_deposit_decision_recheck

/

DROP TABLE sx_deposit_decision

/

DROP INDEX ix_sx_plugin_decision_subject

/

DROP TABLE sx_plugin_decision

/

DROP INDEX ix_sx_audit_log_subject_hash

/

DROP INDEX ix_sx_audit_log_created_at

/

DROP TABLE sx_audit_log

/

DELETE FROM sx_schema_version WHERE sx_schema_version.version_num = '0001'

/

COMMIT

/

DROP TABLE sx_schema_version

/
