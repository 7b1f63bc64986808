-- soar-ext migration 0008 (0008_sx_hukou_check): upgrade 0007 -> 0008
-- Rendered by soar_ext.db.migrate.write_oracle_scripts(); do not edit by hand.
-- Run with SQL*Plus or SQLcl as the SOAR schema owner, NLS_LANG=...AL32UTF8 (see README.md).
WHENEVER SQLERROR EXIT SQL.SQLCODE
SET DEFINE OFF

-- Guard: stop before any change unless the database is at revision 0007.
DECLARE
  expected VARCHAR2(32) := '0007';
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

-- Running upgrade 0007 -> 0008

CREATE TABLE sx_hukou_job (
    job_id VARCHAR2(32 CHAR) NOT NULL,
    status VARCHAR2(10 CHAR) NOT NULL,
    selection_key VARCHAR2(64 CHAR) NOT NULL,
    running_key VARCHAR2(64 CHAR),
    selection_text VARCHAR2(1000 CHAR) NOT NULL,
    operator_id VARCHAR2(32 CHAR),
    operator_name VARCHAR2(60 CHAR),
    created_at DATE NOT NULL,
    finished_at DATE,
    cancelled_by VARCHAR2(32 CHAR),
    applicant_count INTEGER NOT NULL,
    member_count INTEGER NOT NULL,
    person_count INTEGER NOT NULL,
    invalid_count INTEGER NOT NULL,
    unknown_count INTEGER NOT NULL,
    pause_reason VARCHAR2(400 CHAR),
    paused_until DATE,
    CONSTRAINT pk_sx_hukou_job PRIMARY KEY (job_id),
    CONSTRAINT ck_sx_hukou_job_status CHECK (status in ('running', 'done', 'cancelled')),
    CONSTRAINT uq_sx_hukou_job_running_key UNIQUE (running_key)
)

/

COMMENT ON TABLE sx_hukou_job IS '户籍批量核查作业表'

/

COMMENT ON COLUMN sx_hukou_job.job_id IS '作业ID'

/

COMMENT ON COLUMN sx_hukou_job.status IS '作业状态（running 进行中 / done 已完成 / cancelled 已取消）'

/

COMMENT ON COLUMN sx_hukou_job.selection_key IS '选择条件摘要（SHA-256）'

/

COMMENT ON COLUMN sx_hukou_job.running_key IS '进行中时的条件摘要（结束后清空；同一条件只能有一个进行中的作业）'

/

COMMENT ON COLUMN sx_hukou_job.selection_text IS '选择条件（中文说明）'

/

COMMENT ON COLUMN sx_hukou_job.operator_id IS '发起人ID'

/

COMMENT ON COLUMN sx_hukou_job.operator_name IS '发起人姓名'

/

COMMENT ON COLUMN sx_hukou_job.created_at IS '发起时间'

/

COMMENT ON COLUMN sx_hukou_job.finished_at IS '完成或取消时间'

/

COMMENT ON COLUMN sx_hukou_job.cancelled_by IS '取消人ID'

/

COMMENT ON COLUMN sx_hukou_job.applicant_count IS '主申请人数'

/

COMMENT ON COLUMN sx_hukou_job.member_count IS '清单行数（每户每名当前家庭成员一行）'

/

COMMENT ON COLUMN sx_hukou_job.person_count IS '需核查人数（按身份证号去重）'

/

COMMENT ON COLUMN sx_hukou_job.invalid_count IS '身份证号无效的清单行数（不查询上游）'

/

COMMENT ON COLUMN sx_hukou_job.unknown_count IS '未找到的配租资格证号数'

/

COMMENT ON COLUMN sx_hukou_job.pause_reason IS '暂停原因（上游不可用时填写，恢复后清空）'

/

COMMENT ON COLUMN sx_hukou_job.paused_until IS '暂停到何时'

/

CREATE INDEX ix_sx_hukou_job_created ON sx_hukou_job (created_at)

/

CREATE TABLE sx_hukou_member (
    id VARCHAR2(32 CHAR) NOT NULL,
    job_id VARCHAR2(32 CHAR) NOT NULL,
    seq INTEGER NOT NULL,
    sqid VARCHAR2(32 CHAR),
    pzzgzh VARCHAR2(30 CHAR),
    applicant_name VARCHAR2(60 CHAR),
    ryid VARCHAR2(32 CHAR),
    member_name VARCHAR2(60 CHAR),
    relation VARCHAR2(2 CHAR),
    sfzh VARCHAR2(18 CHAR),
    note VARCHAR2(20 CHAR),
    CONSTRAINT pk_sx_hukou_member PRIMARY KEY (id),
    CONSTRAINT ck_sx_hukou_member_note CHECK (note in ('invalid_id', 'unknown_cert'))
)

/

COMMENT ON TABLE sx_hukou_member IS '户籍批量核查清单表（每户每名当前家庭成员一行）'

/

COMMENT ON COLUMN sx_hukou_member.id IS '清单行ID'

/

COMMENT ON COLUMN sx_hukou_member.job_id IS '作业ID'

/

COMMENT ON COLUMN sx_hukou_member.seq IS '清单序号'

/

COMMENT ON COLUMN sx_hukou_member.sqid IS '申请ID（公租房申请审批表）'

/

COMMENT ON COLUMN sx_hukou_member.pzzgzh IS '配租资格证号'

/

COMMENT ON COLUMN sx_hukou_member.applicant_name IS '主申请人姓名'

/

COMMENT ON COLUMN sx_hukou_member.ryid IS '成员人员ID'

/

COMMENT ON COLUMN sx_hukou_member.member_name IS '成员姓名'

/

COMMENT ON COLUMN sx_hukou_member.relation IS '与主申请人关系代码'

/

COMMENT ON COLUMN sx_hukou_member.sfzh IS '成员身份证号（有效时为规范写法，可关联核查明细）'

/

COMMENT ON COLUMN sx_hukou_member.note IS '清单说明（invalid_id 身份证号无效 / unknown_cert 配租资格证号不存在）'

/

CREATE INDEX ix_sx_hukou_member_job ON sx_hukou_member (job_id, seq)

/

CREATE INDEX ix_sx_hukou_member_sfzh ON sx_hukou_member (job_id, sfzh)

/

CREATE TABLE sx_hukou_item (
    id VARCHAR2(32 CHAR) NOT NULL,
    job_id VARCHAR2(32 CHAR) NOT NULL,
    sfzh VARCHAR2(18 CHAR) NOT NULL,
    xm VARCHAR2(60 CHAR) NOT NULL,
    result VARCHAR2(10 CHAR),
    hjzt VARCHAR2(10 CHAR),
    hjzt_label VARCHAR2(60 CHAR),
    hjdz VARCHAR2(300 CHAR),
    checked_at DATE,
    wq_status VARCHAR2(10 CHAR) NOT NULL,
    wq_attempts INTEGER NOT NULL,
    wq_due_at DATE NOT NULL,
    wq_owner VARCHAR2(64 CHAR),
    wq_lease_id VARCHAR2(32 CHAR),
    wq_error VARCHAR2(1000 CHAR),
    wq_created_at DATE NOT NULL,
    wq_updated_at DATE NOT NULL,
    wq_done_at DATE,
    CONSTRAINT pk_sx_hukou_item PRIMARY KEY (id),
    CONSTRAINT ck_sx_hukou_item_wq_status CHECK (wq_status in ('pending', 'leased', 'done', 'failed', 'cancelled')),
    CONSTRAINT uq_sx_hukou_item_job_sfzh UNIQUE (job_id, sfzh),
    CONSTRAINT ck_sx_hukou_item_result CHECK (result in ('found', 'no_record'))
)

/

COMMENT ON TABLE sx_hukou_item IS '户籍批量核查明细表（每作业每人一行，兼作工作队列）'

/

COMMENT ON COLUMN sx_hukou_item.id IS '核查明细ID'

/

COMMENT ON COLUMN sx_hukou_item.job_id IS '作业ID'

/

COMMENT ON COLUMN sx_hukou_item.sfzh IS '身份证号（规范写法）'

/

COMMENT ON COLUMN sx_hukou_item.xm IS '姓名'

/

COMMENT ON COLUMN sx_hukou_item.result IS '查询结果（found 有记录 / no_record 无记录）'

/

COMMENT ON COLUMN sx_hukou_item.hjzt IS '户籍状态代码（上游原值）'

/

COMMENT ON COLUMN sx_hukou_item.hjzt_label IS '户籍状态（正常、死亡、迁出、失踪、注销等）'

/

COMMENT ON COLUMN sx_hukou_item.hjdz IS '户籍地址'

/

COMMENT ON COLUMN sx_hukou_item.checked_at IS '核查时间'

/

COMMENT ON COLUMN sx_hukou_item.wq_status IS '队列状态（pending 待处理 / leased 处理中 / done 已完成 / failed 失败 / cancelled 已取消）'

/

COMMENT ON COLUMN sx_hukou_item.wq_attempts IS '已尝试次数（每次领取计一次）'

/

COMMENT ON COLUMN sx_hukou_item.wq_due_at IS '待处理：最早处理时间；处理中：租约到期时间'

/

COMMENT ON COLUMN sx_hukou_item.wq_owner IS '持有租约的工作进程ID'

/

COMMENT ON COLUMN sx_hukou_item.wq_lease_id IS '租约令牌（每次领取更换，防止过期进程覆盖结果）'

/

COMMENT ON COLUMN sx_hukou_item.wq_error IS '最近一次失败原因'

/

COMMENT ON COLUMN sx_hukou_item.wq_created_at IS '入队时间'

/

COMMENT ON COLUMN sx_hukou_item.wq_updated_at IS '队列状态更新时间'

/

COMMENT ON COLUMN sx_hukou_item.wq_done_at IS '完成、终止失败或取消的时间'

/

CREATE INDEX ix_sx_hukou_item_wq_due ON sx_hukou_item (job_id, wq_status, wq_due_at)

/

UPDATE sx_schema_version SET version_num='0008' WHERE sx_schema_version.version_num = '0007'

/

COMMIT

/
