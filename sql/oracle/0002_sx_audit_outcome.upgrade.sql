-- soar-ext migration 0002 (0002_sx_audit_outcome): upgrade 0001 -> 0002
-- Rendered by soar_ext.db.migrate.write_oracle_scripts(); do not edit by hand.
-- Run with SQL*Plus or SQLcl as the SOAR schema owner, NLS_LANG=...AL32UTF8 (see README.md).
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

-- Running upgrade 0001 -> 0002

ALTER TABLE sx_audit_log ADD state VARCHAR2(10 CHAR)

/

COMMENT ON COLUMN sx_audit_log.state IS '记录状态（intent 已发起未完成 / done 已完成）'

/

ALTER TABLE sx_audit_log ADD finished_at DATE

/

COMMENT ON COLUMN sx_audit_log.finished_at IS '完成时间'

/

CREATE INDEX ix_sx_audit_log_state ON sx_audit_log (state, created_at)

/

UPDATE sx_schema_version SET version_num='0002' WHERE sx_schema_version.version_num = '0001'

/

COMMIT

/
