-- soar-ext migration 0004 (0004_sx_verification): upgrade 0003 -> 0004
-- Rendered by soar_ext.db.migrate.write_oracle_scripts(); do not edit by hand.
-- Run with SQL*Plus or SQLcl as the SOAR schema owner, NLS_LANG=...AL32UTF8 (see README.md).
WHENEVER SQLERROR EXIT SQL.SQLCODE
SET DEFINE OFF

-- Guard: stop before any change unless the database is at revision 0003.
DECLARE
  expected VARCHAR2(32) := '0003';
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

-- Running upgrade 0003 -> 0004

CREATE TABLE sx_verification (
    id VARCHAR2(32 CHAR) NOT NULL,
    ryid VARCHAR2(32 CHAR) NOT NULL,
    sqid VARCHAR2(32 CHAR),
    subject_masked VARCHAR2(18 CHAR),
    subject_hash VARCHAR2(64 CHAR),
    purpose VARCHAR2(600 CHAR) NOT NULL,
    operator_id VARCHAR2(32 CHAR),
    operator_name VARCHAR2(60 CHAR),
    run_mode VARCHAR2(10 CHAR) NOT NULL,
    generation INTEGER NOT NULL,
    budget_seconds NUMERIC(6, 2) NOT NULL,
    started_at DATE NOT NULL,
    finished_at DATE NOT NULL,
    pending_count INTEGER NOT NULL,
    CONSTRAINT pk_sx_verification PRIMARY KEY (id)
)

/

COMMENT ON TABLE sx_verification IS '大数据核查记录表'

/

COMMENT ON COLUMN sx_verification.id IS '核查ID'

/

COMMENT ON COLUMN sx_verification.ryid IS '人员ID（人员信息表）'

/

COMMENT ON COLUMN sx_verification.sqid IS '业务办结的申请ID'

/

COMMENT ON COLUMN sx_verification.subject_masked IS '核查对象身份证号（脱敏）'

/

COMMENT ON COLUMN sx_verification.subject_hash IS '核查对象身份证号摘要（HMAC-SHA256，同审计表）'

/

COMMENT ON COLUMN sx_verification.purpose IS '查询事由'

/

COMMENT ON COLUMN sx_verification.operator_id IS '发起核查的操作员ID'

/

COMMENT ON COLUMN sx_verification.operator_name IS '发起核查的操作员姓名'

/

COMMENT ON COLUMN sx_verification.run_mode IS '插件模式（on 启用 / shadow 试运行）'

/

COMMENT ON COLUMN sx_verification.generation IS '大数据局网关代次（1 一代 / 2 二代）'

/

COMMENT ON COLUMN sx_verification.budget_seconds IS '核查时限（秒）'

/

COMMENT ON COLUMN sx_verification.started_at IS '开始时间'

/

COMMENT ON COLUMN sx_verification.finished_at IS '最近一次查询结束时间'

/

COMMENT ON COLUMN sx_verification.pending_count IS '查询失败或超时、可重新查询的类别数'

/

CREATE INDEX ix_sx_verification_ryid ON sx_verification (ryid, started_at)

/

CREATE TABLE sx_verification_snapshot (
    id VARCHAR2(32 CHAR) NOT NULL,
    verification_id VARCHAR2(32 CHAR) NOT NULL,
    category VARCHAR2(40 CHAR) NOT NULL,
    attempt INTEGER NOT NULL,
    state VARCHAR2(12 CHAR) NOT NULL,
    record_count INTEGER,
    records_json CLOB,
    raw_digest VARCHAR2(64 CHAR),
    interface_id VARCHAR2(60 CHAR),
    reason VARCHAR2(600 CHAR),
    duration_ms INTEGER,
    operator_id VARCHAR2(32 CHAR),
    fetched_at DATE NOT NULL,
    CONSTRAINT pk_sx_verification_snapshot PRIMARY KEY (id),
    CONSTRAINT fk_sx_verif_snap_verif FOREIGN KEY(verification_id) REFERENCES sx_verification (id),
    CONSTRAINT uq_sx_verif_snap_attempt UNIQUE (verification_id, category, attempt),
    CONSTRAINT ck_sx_verif_snap_state CHECK (state in ('found', 'no_record', 'error', 'timeout'))
)

/

COMMENT ON TABLE sx_verification_snapshot IS '大数据核查类别快照表（每类别每次查询一行）'

/

COMMENT ON COLUMN sx_verification_snapshot.id IS '快照ID'

/

COMMENT ON COLUMN sx_verification_snapshot.verification_id IS '核查ID'

/

COMMENT ON COLUMN sx_verification_snapshot.category IS '核查类别代码（如 vehicles 车辆）'

/

COMMENT ON COLUMN sx_verification_snapshot.attempt IS '查询序号（1 首次查询，2 起为重新查询）'

/

COMMENT ON COLUMN sx_verification_snapshot.state IS '结果状态（found 正常返回 / no_record 无记录 / error 查询失败 / timeout 超时）'

/

COMMENT ON COLUMN sx_verification_snapshot.record_count IS '返回记录条数'

/

COMMENT ON COLUMN sx_verification_snapshot.records_json IS '规范化数据（JSON，中文字段名；查询失败或超时为空）'

/

COMMENT ON COLUMN sx_verification_snapshot.raw_digest IS '原始返回数据摘要（SHA-256）'

/

COMMENT ON COLUMN sx_verification_snapshot.interface_id IS '大数据局接口ID'

/

COMMENT ON COLUMN sx_verification_snapshot.reason IS '查询失败或超时的原因（中文，已脱敏）'

/

COMMENT ON COLUMN sx_verification_snapshot.duration_ms IS '查询耗时（毫秒）'

/

COMMENT ON COLUMN sx_verification_snapshot.operator_id IS '本次查询的操作员ID'

/

COMMENT ON COLUMN sx_verification_snapshot.fetched_at IS '获取时间'

/

UPDATE sx_schema_version SET version_num='0004' WHERE sx_schema_version.version_num = '0003'

/

COMMIT

/
