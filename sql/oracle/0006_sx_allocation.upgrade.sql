-- soar-ext migration 0006 (0006_sx_allocation): upgrade 0004 -> 0006
-- Rendered by soar_ext.db.migrate.write_oracle_scripts(); do not edit by hand.
-- Run with SQL*Plus or SQLcl as the SOAR schema owner, NLS_LANG=...AL32UTF8 (see README.md).
WHENEVER SQLERROR EXIT SQL.SQLCODE
SET DEFINE OFF

-- Guard: stop before any change unless the database is at revision 0004.
DECLARE
  expected VARCHAR2(32) := '0004';
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

-- Running upgrade 0004 -> 0006

CREATE TABLE sx_alloc_link (
    id VARCHAR2(32 CHAR) NOT NULL,
    pcid VARCHAR2(32 CHAR) NOT NULL,
    sqid VARCHAR2(32 CHAR) NOT NULL,
    fyid VARCHAR2(32 CHAR) NOT NULL,
    open_sqid VARCHAR2(32 CHAR),
    open_fyid VARCHAR2(32 CHAR),
    source VARCHAR2(10 CHAR) NOT NULL,
    operator_id VARCHAR2(32 CHAR),
    operator_name VARCHAR2(60 CHAR),
    linked_at DATE NOT NULL,
    CONSTRAINT pk_sx_alloc_link PRIMARY KEY (id),
    CONSTRAINT uq_sx_alloc_link_pcid_sqid UNIQUE (pcid, sqid),
    CONSTRAINT uq_sx_alloc_link_pcid_fyid UNIQUE (pcid, fyid),
    CONSTRAINT uq_sx_alloc_link_open_sqid UNIQUE (open_sqid),
    CONSTRAINT uq_sx_alloc_link_open_fyid UNIQUE (open_fyid)
)

/

COMMENT ON TABLE sx_alloc_link IS '调房划拨申请人与房源一对一关联表'

/

COMMENT ON COLUMN sx_alloc_link.id IS '关联记录ID'

/

COMMENT ON COLUMN sx_alloc_link.pcid IS '划拨批次ID'

/

COMMENT ON COLUMN sx_alloc_link.sqid IS '申请ID（调房申请人）'

/

COMMENT ON COLUMN sx_alloc_link.fyid IS '房源ID（划拨房源）'

/

COMMENT ON COLUMN sx_alloc_link.open_sqid IS '批次办理中时的申请ID（批次办结或撤销后清空）'

/

COMMENT ON COLUMN sx_alloc_link.open_fyid IS '批次办理中时的房源ID（批次办结或撤销后清空）'

/

COMMENT ON COLUMN sx_alloc_link.source IS '关联方式（manual 手工关联 / suggested 采纳推荐）'

/

COMMENT ON COLUMN sx_alloc_link.operator_id IS '操作员ID'

/

COMMENT ON COLUMN sx_alloc_link.operator_name IS '操作员姓名'

/

COMMENT ON COLUMN sx_alloc_link.linked_at IS '关联时间'

/

CREATE TABLE sx_alloc_change (
    id VARCHAR2(32 CHAR) NOT NULL,
    pcid VARCHAR2(32 CHAR) NOT NULL,
    sqid VARCHAR2(32 CHAR) NOT NULL,
    action VARCHAR2(10 CHAR) NOT NULL,
    fyid_before VARCHAR2(32 CHAR),
    fyid_after VARCHAR2(32 CHAR),
    reason VARCHAR2(200 CHAR),
    operator_id VARCHAR2(32 CHAR),
    operator_name VARCHAR2(60 CHAR),
    changed_at DATE NOT NULL,
    CONSTRAINT pk_sx_alloc_change PRIMARY KEY (id)
)

/

COMMENT ON TABLE sx_alloc_change IS '房源划拨关联变更记录表'

/

COMMENT ON COLUMN sx_alloc_change.id IS '变更记录ID'

/

COMMENT ON COLUMN sx_alloc_change.pcid IS '划拨批次ID'

/

COMMENT ON COLUMN sx_alloc_change.sqid IS '申请ID'

/

COMMENT ON COLUMN sx_alloc_change.action IS '变更类型（link 关联 / unlink 解除关联 / relink 改为关联 / drop 移出批次清除 / add 添加）'

/

COMMENT ON COLUMN sx_alloc_change.fyid_before IS '变更前房源ID'

/

COMMENT ON COLUMN sx_alloc_change.fyid_after IS '变更后房源ID'

/

COMMENT ON COLUMN sx_alloc_change.reason IS '说明'

/

COMMENT ON COLUMN sx_alloc_change.operator_id IS '操作员ID'

/

COMMENT ON COLUMN sx_alloc_change.operator_name IS '操作员姓名'

/

COMMENT ON COLUMN sx_alloc_change.changed_at IS '变更时间'

/

CREATE INDEX ix_sx_alloc_change_pcid ON sx_alloc_change (pcid, changed_at)

/

CREATE INDEX ix_sx_ryxx_xm ON tpg_ryxx (xm)

/

CREATE INDEX ix_sx_yhjg_sxh ON tpg_yhjg (sxh)

/

UPDATE sx_schema_version SET version_num='0006' WHERE sx_schema_version.version_num = '0004'

/

COMMIT

/
