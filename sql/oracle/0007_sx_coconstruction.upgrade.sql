-- soar-ext migration 0007 (0007_sx_coconstruction): upgrade 0006 -> 0007
-- Rendered by soar_ext.db.migrate.write_oracle_scripts(); do not edit by hand.
-- Run with SQL*Plus or SQLcl as the SOAR schema owner, NLS_LANG=...AL32UTF8 (see README.md).
WHENEVER SQLERROR EXIT SQL.SQLCODE
SET DEFINE OFF

-- Guard: stop before any change unless the database is at revision 0006.
DECLARE
  expected VARCHAR2(32) := '0006';
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

-- Running upgrade 0006 -> 0007

CREATE TABLE sx_pjxm_survey (
    pjxmid VARCHAR2(32 CHAR) NOT NULL,
    link_state VARCHAR2(12 CHAR) NOT NULL,
    match_kind VARCHAR2(12 CHAR),
    xmbh VARCHAR2(30 CHAR),
    xmmc VARCHAR2(200 CHAR),
    chxmbh VARCHAR2(30 CHAR),
    chxmmc VARCHAR2(200 CHAR),
    candidates_json CLOB,
    ycjzmj NUMERIC(14, 2),
    scjzmj NUMERIC(14, 2),
    fyts INTEGER,
    measured_count INTEGER,
    deviation_pct NUMERIC(9, 2),
    flagged INTEGER,
    source VARCHAR2(10 CHAR),
    source_date DATE,
    synced_at DATE,
    last_error VARCHAR2(600 CHAR),
    tried_at DATE,
    confirmed_by VARCHAR2(32 CHAR),
    confirmed_name VARCHAR2(60 CHAR),
    confirmed_at DATE,
    CONSTRAINT pk_sx_pjxm_survey PRIMARY KEY (pjxmid),
    CONSTRAINT ck_sx_pjxm_survey_flagged CHECK (flagged in (0, 1)),
    CONSTRAINT ck_sx_pjxm_survey_state CHECK (link_state in ('linked', 'pending', 'not_found', 'unavailable'))
)

/

COMMENT ON TABLE sx_pjxm_survey IS '配建项目测绘关联及面积套数表'

/

COMMENT ON COLUMN sx_pjxm_survey.pjxmid IS '配建项目ID'

/

COMMENT ON COLUMN sx_pjxm_survey.link_state IS '测绘关联状态（linked 已关联 / pending 待确认 / not_found 未找到 / unavailable 测绘服务不可用）'

/

COMMENT ON COLUMN sx_pjxm_survey.match_kind IS '关联方式（exact 完全一致 / normalised 规范化后一致 / confirmed 人工确认）'

/

COMMENT ON COLUMN sx_pjxm_survey.xmbh IS '关联时的配建项目编号'

/

COMMENT ON COLUMN sx_pjxm_survey.xmmc IS '关联时的配建项目名称'

/

COMMENT ON COLUMN sx_pjxm_survey.chxmbh IS '测绘项目编号'

/

COMMENT ON COLUMN sx_pjxm_survey.chxmmc IS '测绘项目名称'

/

COMMENT ON COLUMN sx_pjxm_survey.candidates_json IS '待确认的候选测绘项目（JSON：编号、名称、原因）'

/

COMMENT ON COLUMN sx_pjxm_survey.ycjzmj IS '预测面积合计（平方米）'

/

COMMENT ON COLUMN sx_pjxm_survey.scjzmj IS '实测面积合计（平方米，仅已实测房屋）'

/

COMMENT ON COLUMN sx_pjxm_survey.fyts IS '房源数量（测绘房屋套数）'

/

COMMENT ON COLUMN sx_pjxm_survey.measured_count IS '已实测房屋套数'

/

COMMENT ON COLUMN sx_pjxm_survey.deviation_pct IS '实测与预测面积偏差（百分比，按已实测房屋计）'

/

COMMENT ON COLUMN sx_pjxm_survey.flagged IS '面积偏差超过设定比例（1 是 / 0 否）'

/

COMMENT ON COLUMN sx_pjxm_survey.source IS '数据来源（service 测绘服务 / local SOAR本地测绘数据）'

/

COMMENT ON COLUMN sx_pjxm_survey.source_date IS '本地测绘数据的更新时间（来源为 local 时）'

/

COMMENT ON COLUMN sx_pjxm_survey.synced_at IS '面积与套数的同步时间'

/

COMMENT ON COLUMN sx_pjxm_survey.last_error IS '最近一次同步失败的原因'

/

COMMENT ON COLUMN sx_pjxm_survey.tried_at IS '最近一次同步时间（无论成败）'

/

COMMENT ON COLUMN sx_pjxm_survey.confirmed_by IS '确认关联的操作员ID'

/

COMMENT ON COLUMN sx_pjxm_survey.confirmed_name IS '确认关联的操作员姓名'

/

COMMENT ON COLUMN sx_pjxm_survey.confirmed_at IS '确认关联时间'

/

CREATE TABLE sx_doc_outbox (
    id VARCHAR2(32 CHAR) NOT NULL,
    pjxmid VARCHAR2(32 CHAR) NOT NULL,
    xmbh VARCHAR2(30 CHAR) NOT NULL,
    doc_type VARCHAR2(2 CHAR) NOT NULL,
    file_name VARCHAR2(200 CHAR) NOT NULL,
    file_size INTEGER NOT NULL,
    sha256 VARCHAR2(64 CHAR) NOT NULL,
    operator_id VARCHAR2(32 CHAR),
    operator_name VARCHAR2(60 CHAR),
    received_at DATE NOT NULL,
    repo_doc_id VARCHAR2(64 CHAR),
    uploaded_at DATE,
    wq_status VARCHAR2(10 CHAR) NOT NULL,
    wq_attempts INTEGER NOT NULL,
    wq_due_at DATE NOT NULL,
    wq_owner VARCHAR2(64 CHAR),
    wq_lease_id VARCHAR2(32 CHAR),
    wq_error VARCHAR2(1000 CHAR),
    wq_created_at DATE NOT NULL,
    wq_updated_at DATE NOT NULL,
    wq_done_at DATE,
    CONSTRAINT pk_sx_doc_outbox PRIMARY KEY (id),
    CONSTRAINT ck_sx_doc_outbox_wq_status CHECK (wq_status in ('pending', 'leased', 'done', 'failed', 'cancelled'))
)

/

COMMENT ON TABLE sx_doc_outbox IS '配建项目资料待上传队列'

/

COMMENT ON COLUMN sx_doc_outbox.id IS '待上传记录ID'

/

COMMENT ON COLUMN sx_doc_outbox.pjxmid IS '配建项目ID'

/

COMMENT ON COLUMN sx_doc_outbox.xmbh IS '收件时的配建项目编号（资料库业务关键字）'

/

COMMENT ON COLUMN sx_doc_outbox.doc_type IS '资料类型代码（01 配建协议书 … 04 解除限制销售房源联系单）'

/

COMMENT ON COLUMN sx_doc_outbox.file_name IS '文件名'

/

COMMENT ON COLUMN sx_doc_outbox.file_size IS '文件大小（字节）'

/

COMMENT ON COLUMN sx_doc_outbox.sha256 IS '文件SHA-256'

/

COMMENT ON COLUMN sx_doc_outbox.operator_id IS '收件操作员ID'

/

COMMENT ON COLUMN sx_doc_outbox.operator_name IS '收件操作员姓名'

/

COMMENT ON COLUMN sx_doc_outbox.received_at IS '收件时间'

/

COMMENT ON COLUMN sx_doc_outbox.repo_doc_id IS '资料库记录ID（上传并校验一致后填写）'

/

COMMENT ON COLUMN sx_doc_outbox.uploaded_at IS '资料库确认时间'

/

COMMENT ON COLUMN sx_doc_outbox.wq_status IS '队列状态（pending 待处理 / leased 处理中 / done 已完成 / failed 失败 / cancelled 已取消）'

/

COMMENT ON COLUMN sx_doc_outbox.wq_attempts IS '已尝试次数（每次领取计一次）'

/

COMMENT ON COLUMN sx_doc_outbox.wq_due_at IS '待处理：最早处理时间；处理中：租约到期时间'

/

COMMENT ON COLUMN sx_doc_outbox.wq_owner IS '持有租约的工作进程ID'

/

COMMENT ON COLUMN sx_doc_outbox.wq_lease_id IS '租约令牌（每次领取更换，防止过期进程覆盖结果）'

/

COMMENT ON COLUMN sx_doc_outbox.wq_error IS '最近一次失败原因'

/

COMMENT ON COLUMN sx_doc_outbox.wq_created_at IS '入队时间'

/

COMMENT ON COLUMN sx_doc_outbox.wq_updated_at IS '队列状态更新时间'

/

COMMENT ON COLUMN sx_doc_outbox.wq_done_at IS '完成、终止失败或取消的时间'

/

CREATE INDEX ix_sx_doc_outbox_wq_due ON sx_doc_outbox (wq_status, wq_due_at)

/

CREATE INDEX ix_sx_doc_outbox_pjxmid ON sx_doc_outbox (pjxmid, doc_type)

/

CREATE TABLE sx_doc_content (
    outbox_id VARCHAR2(32 CHAR) NOT NULL,
    content BLOB NOT NULL,
    CONSTRAINT pk_sx_doc_content PRIMARY KEY (outbox_id),
    CONSTRAINT fk_sx_doc_content_outbox FOREIGN KEY(outbox_id) REFERENCES sx_doc_outbox (id)
)

/

COMMENT ON TABLE sx_doc_content IS '配建项目待上传资料内容表'

/

COMMENT ON COLUMN sx_doc_content.outbox_id IS '待上传记录ID'

/

COMMENT ON COLUMN sx_doc_content.content IS '文件内容'

/

CREATE TABLE sx_doc_reject (
    id VARCHAR2(32 CHAR) NOT NULL,
    pjxmid VARCHAR2(32 CHAR) NOT NULL,
    doc_type VARCHAR2(10 CHAR),
    file_name VARCHAR2(200 CHAR),
    file_size INTEGER,
    reason VARCHAR2(600 CHAR) NOT NULL,
    operator_id VARCHAR2(32 CHAR),
    received_at DATE NOT NULL,
    CONSTRAINT pk_sx_doc_reject PRIMARY KEY (id)
)

/

COMMENT ON TABLE sx_doc_reject IS '配建项目资料拒收记录表（类型、大小、格式不符，未上传）'

/

COMMENT ON COLUMN sx_doc_reject.id IS '拒收记录ID'

/

COMMENT ON COLUMN sx_doc_reject.pjxmid IS '配建项目ID'

/

COMMENT ON COLUMN sx_doc_reject.doc_type IS '收件时传入的资料类型代码'

/

COMMENT ON COLUMN sx_doc_reject.file_name IS '文件名'

/

COMMENT ON COLUMN sx_doc_reject.file_size IS '文件大小（字节）'

/

COMMENT ON COLUMN sx_doc_reject.reason IS '未收入上传队列的原因'

/

COMMENT ON COLUMN sx_doc_reject.operator_id IS '收件操作员ID'

/

COMMENT ON COLUMN sx_doc_reject.received_at IS '收件时间'

/

CREATE INDEX ix_sx_doc_reject_pjxmid ON sx_doc_reject (pjxmid, received_at)

/

UPDATE sx_schema_version SET version_num='0007' WHERE sx_schema_version.version_num = '0006'

/

COMMIT

/
