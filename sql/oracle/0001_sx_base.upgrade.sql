-- soar-ext migration 0001 (0001_sx_base): upgrade base -> 0001
-- Rendered by soar_ext.db.migrate.write_oracle_scripts(); do not edit by hand.
-- Run with SQL*Plus or SQLcl as the SOAR schema owner, NLS_LANG=...AL32UTF8 (see README.md).
WHENEVER SQLERROR EXIT SQL.SQLCODE
SET DEFINE OFF

-- Guard: stop before any change unless the database is at revision base.
DECLARE
  expected VARCHAR2(32) := NULL;
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

CREATE TABLE sx_schema_version (
    version_num VARCHAR2(32 CHAR) NOT NULL
)

/

-- Running upgrade  -> 0001

CREATE TABLE sx_audit_log (
    id VARCHAR2(32 CHAR) NOT NULL,
    action VARCHAR2(60 CHAR) NOT NULL,
    operator_id VARCHAR2(32 CHAR),
    operator_name VARCHAR2(60 CHAR),
    purpose VARCHAR2(200 CHAR),
    subject_masked VARCHAR2(18 CHAR),
    subject_hash VARCHAR2(64 CHAR),
    interfaces VARCHAR2(1000 CHAR),
    result_status VARCHAR2(20 CHAR) NOT NULL,
    detail CLOB,
    created_at DATE NOT NULL,
    CONSTRAINT pk_sx_audit_log PRIMARY KEY (id)
)

/

COMMENT ON TABLE sx_audit_log IS 'soar-ext 个人信息访问审计表'

/

COMMENT ON COLUMN sx_audit_log.id IS '审计记录ID'

/

COMMENT ON COLUMN sx_audit_log.action IS '操作类型（如 bigdata.query、export.excel）'

/

COMMENT ON COLUMN sx_audit_log.operator_id IS '操作员ID'

/

COMMENT ON COLUMN sx_audit_log.operator_name IS '操作员姓名'

/

COMMENT ON COLUMN sx_audit_log.purpose IS '查询或操作事由'

/

COMMENT ON COLUMN sx_audit_log.subject_masked IS '查询对象身份证号（脱敏）'

/

COMMENT ON COLUMN sx_audit_log.subject_hash IS '查询对象身份证号摘要（HMAC-SHA256，密钥另行保管）'

/

COMMENT ON COLUMN sx_audit_log.interfaces IS '涉及的接口或数据类别'

/

COMMENT ON COLUMN sx_audit_log.result_status IS '结果状态'

/

COMMENT ON COLUMN sx_audit_log.detail IS '详细信息（JSON，不含完整身份证号）'

/

COMMENT ON COLUMN sx_audit_log.created_at IS '记录时间'

/

CREATE INDEX ix_sx_audit_log_created_at ON sx_audit_log (created_at)

/

CREATE INDEX ix_sx_audit_log_subject_hash ON sx_audit_log (subject_hash)

/

CREATE TABLE sx_plugin_decision (
    id VARCHAR2(32 CHAR) NOT NULL,
    plugin VARCHAR2(60 CHAR) NOT NULL,
    hook VARCHAR2(60 CHAR) NOT NULL,
    subject_key VARCHAR2(100 CHAR),
    run_mode VARCHAR2(10 CHAR) NOT NULL,
    verdict VARCHAR2(20 CHAR) NOT NULL,
    enforced NUMERIC(1, 0) NOT NULL,
    reason VARCHAR2(1000 CHAR),
    operator_id VARCHAR2(32 CHAR),
    created_at DATE NOT NULL,
    CONSTRAINT pk_sx_plugin_decision PRIMARY KEY (id),
    CONSTRAINT ck_sx_plugin_decision_enforced CHECK (enforced in (0, 1))
)

/

COMMENT ON TABLE sx_plugin_decision IS 'soar-ext 插件决定记录表（含试运行记录）'

/

COMMENT ON COLUMN sx_plugin_decision.id IS '决定记录ID'

/

COMMENT ON COLUMN sx_plugin_decision.plugin IS '插件名称'

/

COMMENT ON COLUMN sx_plugin_decision.hook IS '扩展点名称'

/

COMMENT ON COLUMN sx_plugin_decision.subject_key IS '业务主键（如合同ID）'

/

COMMENT ON COLUMN sx_plugin_decision.run_mode IS '插件模式（on 启用 / shadow 试运行）'

/

COMMENT ON COLUMN sx_plugin_decision.verdict IS '决定（allow 放行 / block 拦截 / error 出错）'

/

COMMENT ON COLUMN sx_plugin_decision.enforced IS '是否已执行（1是 0否，试运行模式为0）'

/

COMMENT ON COLUMN sx_plugin_decision.reason IS '原因说明'

/

COMMENT ON COLUMN sx_plugin_decision.operator_id IS '操作员ID'

/

COMMENT ON COLUMN sx_plugin_decision.created_at IS '记录时间'

/

CREATE INDEX ix_sx_plugin_decision_subject ON sx_plugin_decision (subject_key)

/

CREATE TABLE sx_deposit_decision (
    id VARCHAR2(32 CHAR) NOT NULL,
    htid VARCHAR2(32 CHAR) NOT NULL,
    jtid VARCHAR2(32 CHAR) NOT NULL,
    pzlx VARCHAR2(2 CHAR) NOT NULL,
    members CLOB NOT NULL,
    threshold INTEGER NOT NULL,
    max_score INTEGER,
    decision VARCHAR2(10 CHAR) NOT NULL,
    needs_recheck NUMERIC(1, 0) NOT NULL,
    run_mode VARCHAR2(10 CHAR) NOT NULL,
    enforced NUMERIC(1, 0) NOT NULL,
    original_deposit NUMERIC(10, 2),
    message VARCHAR2(600 CHAR),
    operator_id VARCHAR2(32 CHAR),
    decided_at DATE NOT NULL,
    updated_at DATE NOT NULL,
    CONSTRAINT pk_sx_deposit_decision PRIMARY KEY (id),
    CONSTRAINT uq_sx_deposit_decision_htid UNIQUE (htid),
    CONSTRAINT ck_sx_deposit_decision_recheck CHECK (needs_recheck in (0, 1)),
    CONSTRAINT ck_sx_deposit_decision_enf CHECK (enforced in (0, 1))
)

/

COMMENT ON TABLE sx_deposit_decision IS '钱江分押金减免决定表'

/

COMMENT ON COLUMN sx_deposit_decision.id IS '减免决定ID'

/

COMMENT ON COLUMN sx_deposit_decision.htid IS '合同ID'

/

COMMENT ON COLUMN sx_deposit_decision.jtid IS '家庭ID'

/

COMMENT ON COLUMN sx_deposit_decision.pzlx IS '配租类型代码'

/

COMMENT ON COLUMN sx_deposit_decision.members IS '查询成员及分数（JSON，身份证号脱敏）'

/

COMMENT ON COLUMN sx_deposit_decision.threshold IS '减免分数线（高于此分减免）'

/

COMMENT ON COLUMN sx_deposit_decision.max_score IS '成员最高钱江分'

/

COMMENT ON COLUMN sx_deposit_decision.decision IS '决定（waived 减免 / required 须缴）'

/

COMMENT ON COLUMN sx_deposit_decision.needs_recheck IS '是否待复核（1是 0否）'

/

COMMENT ON COLUMN sx_deposit_decision.run_mode IS '插件模式（on / shadow）'

/

COMMENT ON COLUMN sx_deposit_decision.enforced IS '是否已写入合同押金（1是 0否）'

/

COMMENT ON COLUMN sx_deposit_decision.original_deposit IS '原押金（元）'

/

COMMENT ON COLUMN sx_deposit_decision.message IS '提示信息'

/

COMMENT ON COLUMN sx_deposit_decision.operator_id IS '操作员ID'

/

COMMENT ON COLUMN sx_deposit_decision.decided_at IS '首次决定时间'

/

COMMENT ON COLUMN sx_deposit_decision.updated_at IS '最近更新时间'

/

CREATE INDEX ix_sx_deposit_decision_recheck ON sx_deposit_decision (needs_recheck)

/

CREATE INDEX ix_sx_hfyf_yfzt ON tpg_hfyf (yfzt, pdid)

/

CREATE INDEX ix_sx_zlht_hfpdid ON tpg_zlht (hfpdid, htzt)

/

CREATE INDEX ix_sx_hfpd_pdcgsj ON tpg_hfpd (pdcgsj, pdid)

/

INSERT INTO sx_schema_version (version_num) VALUES ('0001')

/

COMMIT

/
