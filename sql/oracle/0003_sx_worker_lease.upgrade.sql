-- soar-ext migration 0003 (0003_sx_worker_lease): upgrade 0002 -> 0003
-- Rendered by soar_ext.db.migrate.write_oracle_scripts(); do not edit by hand.
-- Run with SQL*Plus or SQLcl as the SOAR schema owner, NLS_LANG=...AL32UTF8 (see README.md).
WHENEVER SQLERROR EXIT SQL.SQLCODE
SET DEFINE OFF

-- Guard: stop before any change unless the database is at revision 0002.
DECLARE
  expected VARCHAR2(32) := '0002';
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

-- Running upgrade 0002 -> 0003

CREATE TABLE sx_worker_lease (
    worker_id VARCHAR2(32 CHAR) NOT NULL,
    pool VARCHAR2(60 CHAR) NOT NULL,
    node VARCHAR2(100 CHAR),
    pid INTEGER,
    label VARCHAR2(200 CHAR),
    rate_share NUMERIC(12, 3) NOT NULL,
    conc_share INTEGER NOT NULL,
    live_workers INTEGER NOT NULL,
    started_at DATE NOT NULL,
    heartbeat_at DATE NOT NULL,
    expires_at DATE NOT NULL,
    CONSTRAINT pk_sx_worker_lease PRIMARY KEY (worker_id)
)

/

COMMENT ON TABLE sx_worker_lease IS '共享配额工作进程租约表'

/

COMMENT ON COLUMN sx_worker_lease.worker_id IS '工作进程ID'

/

COMMENT ON COLUMN sx_worker_lease.pool IS '共享配额名称（同一上游配额的进程共用，如 bigdata.hukou）'

/

COMMENT ON COLUMN sx_worker_lease.node IS '所在节点（主机名）'

/

COMMENT ON COLUMN sx_worker_lease.pid IS '进程号'

/

COMMENT ON COLUMN sx_worker_lease.label IS '用途说明'

/

COMMENT ON COLUMN sx_worker_lease.rate_share IS '本进程占用的调用速率份额（次/秒）'

/

COMMENT ON COLUMN sx_worker_lease.conc_share IS '本进程占用的并发调用份额'

/

COMMENT ON COLUMN sx_worker_lease.live_workers IS '最近一次心跳时同一配额的存活进程数'

/

COMMENT ON COLUMN sx_worker_lease.started_at IS '加入时间'

/

COMMENT ON COLUMN sx_worker_lease.heartbeat_at IS '最近心跳时间'

/

COMMENT ON COLUMN sx_worker_lease.expires_at IS '租约到期时间（过期未续视为进程已退出）'

/

CREATE INDEX ix_sx_worker_lease_pool ON sx_worker_lease (pool, expires_at)

/

UPDATE sx_schema_version SET version_num='0003' WHERE sx_schema_version.version_num = '0002'

/

COMMIT

/
