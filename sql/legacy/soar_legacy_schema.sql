-- =============================================================================
-- soar-ext: ASSUMED SOAR legacy schema (Oracle DDL)
-- soar-ext：假定的 SOAR 原系统表结构（Oracle 建表脚本）
--
-- What this is: the SOAR tables that soar-ext reads and writes, as soar-ext ASSUMES
-- them to be. SOAR's real schema is not public; a maintainer adapting soar-ext to the
-- real schema edits soar_ext/db/legacy.py and regenerates this file.
--
-- Use it ONLY to create these tables in an empty schema of a TEST instance
-- (integration tests, training, trial runs). NEVER run it on the production SOAR
-- database: the real tables already exist there and are owned by SOAR. To compare a
-- live database with these assumptions, use `soar-ext doctor` (read-only).
-- 本脚本仅用于在测试库的空模式中建表；严禁在生产 SOAR 数据库上执行。
--
-- Generated from soar_ext/db/legacy.py; do not edit by hand. Regenerate with:
--   python -m soar_ext.db.ddl sql/legacy/soar_legacy_schema.sql
-- Contents: 15 tables, 11 indexes, COMMENT ON for every table and column.
-- Run with SQL*Plus or SQLcl; the file is UTF-8 (client NLS_LANG=.AL32UTF8).
-- Every SQL statement ends with ';'. soar-ext's own objects (prefix sx_) are NOT
-- here: they come from the versioned migrations under sql/oracle/.
-- =============================================================================
SET DEFINE OFF
WHENEVER SQLERROR EXIT FAILURE

-- tch_fwxx: 测绘房屋信息表
CREATE TABLE tch_fwxx (
    fwid VARCHAR2(32 CHAR) NOT NULL,
    chxmbh VARCHAR2(30 CHAR) NOT NULL,
    chxmmc VARCHAR2(200 CHAR),
    lh VARCHAR2(20 CHAR),
    dy VARCHAR2(10 CHAR),
    fh VARCHAR2(20 CHAR),
    ycjzmj NUMBER(10, 2),
    scjzmj NUMBER(10, 2),
    gxsj DATE,
    CONSTRAINT pk_tch_fwxx PRIMARY KEY (fwid)
);
CREATE INDEX ix_tch_fwxx_chxmbh ON tch_fwxx (chxmbh);
COMMENT ON TABLE tch_fwxx IS '测绘房屋信息表';
COMMENT ON COLUMN tch_fwxx.fwid IS '测绘房屋ID';
COMMENT ON COLUMN tch_fwxx.chxmbh IS '测绘项目编号';
COMMENT ON COLUMN tch_fwxx.chxmmc IS '测绘项目名称';
COMMENT ON COLUMN tch_fwxx.lh IS '楼号';
COMMENT ON COLUMN tch_fwxx.dy IS '单元';
COMMENT ON COLUMN tch_fwxx.fh IS '房号';
COMMENT ON COLUMN tch_fwxx.ycjzmj IS '预测建筑面积（平方米）';
COMMENT ON COLUMN tch_fwxx.scjzmj IS '实测建筑面积（平方米）';
COMMENT ON COLUMN tch_fwxx.gxsj IS '数据更新时间';

-- tpg_fyxm: 房源项目表
CREATE TABLE tpg_fyxm (
    xmid VARCHAR2(32 CHAR) NOT NULL,
    xmbh VARCHAR2(30 CHAR) NOT NULL,
    xmmc VARCHAR2(200 CHAR) NOT NULL,
    qx VARCHAR2(6 CHAR),
    xmdz VARCHAR2(300 CHAR),
    CONSTRAINT pk_tpg_fyxm PRIMARY KEY (xmid),
    CONSTRAINT uq_tpg_fyxm_xmbh UNIQUE (xmbh)
);
COMMENT ON TABLE tpg_fyxm IS '房源项目表';
COMMENT ON COLUMN tpg_fyxm.xmid IS '房源项目ID';
COMMENT ON COLUMN tpg_fyxm.xmbh IS '项目编号';
COMMENT ON COLUMN tpg_fyxm.xmmc IS '项目名称';
COMMENT ON COLUMN tpg_fyxm.qx IS '所在区县代码';
COMMENT ON COLUMN tpg_fyxm.xmdz IS '项目地址';

-- tpg_hbpc: 房源划拨批次表
CREATE TABLE tpg_hbpc (
    pcid VARCHAR2(32 CHAR) NOT NULL,
    hblx VARCHAR2(2 CHAR) NOT NULL,
    pcmc VARCHAR2(200 CHAR),
    pczt VARCHAR2(2 CHAR) NOT NULL,
    qx VARCHAR2(6 CHAR),
    czyid VARCHAR2(32 CHAR),
    cjsj DATE,
    CONSTRAINT pk_tpg_hbpc PRIMARY KEY (pcid)
);
COMMENT ON TABLE tpg_hbpc IS '房源划拨批次表';
COMMENT ON COLUMN tpg_hbpc.pcid IS '划拨批次ID';
COMMENT ON COLUMN tpg_hbpc.hblx IS '划拨类型代码（01调房划拨 02选房划拨）';
COMMENT ON COLUMN tpg_hbpc.pcmc IS '批次名称';
COMMENT ON COLUMN tpg_hbpc.pczt IS '批次状态代码（01办理中 02已办结 03已撤销）';
COMMENT ON COLUMN tpg_hbpc.qx IS '区县代码';
COMMENT ON COLUMN tpg_hbpc.czyid IS '经办人ID';
COMMENT ON COLUMN tpg_hbpc.cjsj IS '创建时间';

-- tpg_pjxm: 配建项目表
CREATE TABLE tpg_pjxm (
    pjxmid VARCHAR2(32 CHAR) NOT NULL,
    xmbh VARCHAR2(30 CHAR) NOT NULL,
    xmmc VARCHAR2(200 CHAR) NOT NULL,
    kfdw VARCHAR2(200 CHAR),
    qx VARCHAR2(6 CHAR),
    pjts INTEGER,
    pjmj NUMBER(12, 2),
    cjsj DATE,
    CONSTRAINT pk_tpg_pjxm PRIMARY KEY (pjxmid),
    CONSTRAINT uq_tpg_pjxm_xmbh UNIQUE (xmbh)
);
COMMENT ON TABLE tpg_pjxm IS '配建项目表';
COMMENT ON COLUMN tpg_pjxm.pjxmid IS '配建项目ID';
COMMENT ON COLUMN tpg_pjxm.xmbh IS '项目编号';
COMMENT ON COLUMN tpg_pjxm.xmmc IS '项目名称';
COMMENT ON COLUMN tpg_pjxm.kfdw IS '开发单位';
COMMENT ON COLUMN tpg_pjxm.qx IS '区县代码';
COMMENT ON COLUMN tpg_pjxm.pjts IS '应配建套数';
COMMENT ON COLUMN tpg_pjxm.pjmj IS '应配建面积（平方米）';
COMMENT ON COLUMN tpg_pjxm.cjsj IS '创建时间';

-- tpg_ryxx: 人员信息表
CREATE TABLE tpg_ryxx (
    ryid VARCHAR2(32 CHAR) NOT NULL,
    xm VARCHAR2(60 CHAR) NOT NULL,
    sfzh VARCHAR2(18 CHAR) NOT NULL,
    xb VARCHAR2(1 CHAR),
    csrq DATE,
    lxdh VARCHAR2(20 CHAR),
    hjdz VARCHAR2(300 CHAR),
    gzdw VARCHAR2(200 CHAR),
    cjsj DATE,
    CONSTRAINT pk_tpg_ryxx PRIMARY KEY (ryid)
);
CREATE INDEX ix_tpg_ryxx_sfzh ON tpg_ryxx (sfzh);
COMMENT ON TABLE tpg_ryxx IS '人员信息表';
COMMENT ON COLUMN tpg_ryxx.ryid IS '人员ID';
COMMENT ON COLUMN tpg_ryxx.xm IS '姓名';
COMMENT ON COLUMN tpg_ryxx.sfzh IS '身份证号码';
COMMENT ON COLUMN tpg_ryxx.xb IS '性别代码（1男 2女）';
COMMENT ON COLUMN tpg_ryxx.csrq IS '出生日期';
COMMENT ON COLUMN tpg_ryxx.lxdh IS '联系电话';
COMMENT ON COLUMN tpg_ryxx.hjdz IS '户籍地址';
COMMENT ON COLUMN tpg_ryxx.gzdw IS '工作单位';
COMMENT ON COLUMN tpg_ryxx.cjsj IS '创建时间';

-- tpg_fyxx: 房源信息表
CREATE TABLE tpg_fyxx (
    fyid VARCHAR2(32 CHAR) NOT NULL,
    xmid VARCHAR2(32 CHAR) NOT NULL,
    lh VARCHAR2(20 CHAR),
    dy VARCHAR2(10 CHAR),
    fh VARCHAR2(20 CHAR),
    jzmj NUMBER(10, 2),
    hx VARCHAR2(30 CHAR),
    fyzt VARCHAR2(2 CHAR) NOT NULL,
    yzj NUMBER(10, 2),
    CONSTRAINT pk_tpg_fyxx PRIMARY KEY (fyid),
    CONSTRAINT fk_tpg_fyxx_xmid FOREIGN KEY(xmid) REFERENCES tpg_fyxm (xmid)
);
CREATE INDEX ix_tpg_fyxx_xmid ON tpg_fyxx (xmid);
COMMENT ON TABLE tpg_fyxx IS '房源信息表';
COMMENT ON COLUMN tpg_fyxx.fyid IS '房源ID';
COMMENT ON COLUMN tpg_fyxx.xmid IS '房源项目ID';
COMMENT ON COLUMN tpg_fyxx.lh IS '楼号';
COMMENT ON COLUMN tpg_fyxx.dy IS '单元';
COMMENT ON COLUMN tpg_fyxx.fh IS '房号';
COMMENT ON COLUMN tpg_fyxx.jzmj IS '建筑面积（平方米）';
COMMENT ON COLUMN tpg_fyxx.hx IS '户型';
COMMENT ON COLUMN tpg_fyxx.fyzt IS '房源状态代码（01空置 02已出租 03已预留 04维修中）';
COMMENT ON COLUMN tpg_fyxx.yzj IS '月租金（元）';

-- tpg_jtxx: 家庭信息表
CREATE TABLE tpg_jtxx (
    jtid VARCHAR2(32 CHAR) NOT NULL,
    sqrid VARCHAR2(32 CHAR) NOT NULL,
    jtrs INTEGER,
    qx VARCHAR2(6 CHAR),
    jtdz VARCHAR2(300 CHAR),
    cjsj DATE,
    CONSTRAINT pk_tpg_jtxx PRIMARY KEY (jtid),
    CONSTRAINT fk_tpg_jtxx_sqrid FOREIGN KEY(sqrid) REFERENCES tpg_ryxx (ryid)
);
CREATE INDEX ix_tpg_jtxx_sqrid ON tpg_jtxx (sqrid);
COMMENT ON TABLE tpg_jtxx IS '家庭信息表';
COMMENT ON COLUMN tpg_jtxx.jtid IS '家庭ID';
COMMENT ON COLUMN tpg_jtxx.sqrid IS '主申请人ID（人员信息表）';
COMMENT ON COLUMN tpg_jtxx.jtrs IS '家庭人数';
COMMENT ON COLUMN tpg_jtxx.qx IS '所在区县代码';
COMMENT ON COLUMN tpg_jtxx.jtdz IS '家庭住址';
COMMENT ON COLUMN tpg_jtxx.cjsj IS '创建时间';

-- tpg_gzfsqspb: 公租房申请审批表
CREATE TABLE tpg_gzfsqspb (
    sqid VARCHAR2(32 CHAR) NOT NULL,
    jtid VARCHAR2(32 CHAR) NOT NULL,
    pzzgzh VARCHAR2(30 CHAR),
    bzlx VARCHAR2(2 CHAR) NOT NULL,
    spzt VARCHAR2(2 CHAR) NOT NULL,
    sqrq DATE,
    bjrq DATE,
    qx VARCHAR2(6 CHAR),
    cjsj DATE,
    CONSTRAINT pk_tpg_gzfsqspb PRIMARY KEY (sqid),
    CONSTRAINT uq_tpg_gzfsqspb_pzzgzh UNIQUE (pzzgzh),
    CONSTRAINT fk_tpg_gzfsqspb_jtid FOREIGN KEY(jtid) REFERENCES tpg_jtxx (jtid)
);
CREATE INDEX ix_tpg_gzfsqspb_jtid ON tpg_gzfsqspb (jtid);
COMMENT ON TABLE tpg_gzfsqspb IS '公租房申请审批表';
COMMENT ON COLUMN tpg_gzfsqspb.sqid IS '申请ID';
COMMENT ON COLUMN tpg_gzfsqspb.jtid IS '家庭ID';
COMMENT ON COLUMN tpg_gzfsqspb.pzzgzh IS '配租资格证号';
COMMENT ON COLUMN tpg_gzfsqspb.bzlx IS '保障类型代码（01公租房 02廉租房）';
COMMENT ON COLUMN tpg_gzfsqspb.spzt IS '审批状态代码（01已受理 02审核中 03公示中 04已取得资格 09已办结 99不予通过）';
COMMENT ON COLUMN tpg_gzfsqspb.sqrq IS '申请日期';
COMMENT ON COLUMN tpg_gzfsqspb.bjrq IS '办结日期';
COMMENT ON COLUMN tpg_gzfsqspb.qx IS '受理区县代码';
COMMENT ON COLUMN tpg_gzfsqspb.cjsj IS '创建时间';

-- tpg_hbfy: 划拨房源表
CREATE TABLE tpg_hbfy (
    hbfyid VARCHAR2(32 CHAR) NOT NULL,
    pcid VARCHAR2(32 CHAR) NOT NULL,
    fyid VARCHAR2(32 CHAR) NOT NULL,
    hbsj DATE,
    CONSTRAINT pk_tpg_hbfy PRIMARY KEY (hbfyid),
    CONSTRAINT uq_tpg_hbfy_pcid_fyid UNIQUE (pcid, fyid),
    CONSTRAINT fk_tpg_hbfy_pcid FOREIGN KEY(pcid) REFERENCES tpg_hbpc (pcid),
    CONSTRAINT fk_tpg_hbfy_fyid FOREIGN KEY(fyid) REFERENCES tpg_fyxx (fyid)
);
CREATE INDEX ix_tpg_hbfy_fyid ON tpg_hbfy (fyid);
COMMENT ON TABLE tpg_hbfy IS '划拨房源表';
COMMENT ON COLUMN tpg_hbfy.hbfyid IS '划拨房源ID';
COMMENT ON COLUMN tpg_hbfy.pcid IS '划拨批次ID';
COMMENT ON COLUMN tpg_hbfy.fyid IS '房源ID';
COMMENT ON COLUMN tpg_hbfy.hbsj IS '划拨时间';

-- tpg_hfpd: 换房配对表
CREATE TABLE tpg_hfpd (
    pdid VARCHAR2(32 CHAR) NOT NULL,
    pdbh VARCHAR2(30 CHAR) NOT NULL,
    sqfjtid VARCHAR2(32 CHAR) NOT NULL,
    dfjtid VARCHAR2(32 CHAR),
    yfyid VARCHAR2(32 CHAR),
    xfyid VARCHAR2(32 CHAR),
    hflx VARCHAR2(2 CHAR) NOT NULL,
    pdzt VARCHAR2(2 CHAR) NOT NULL,
    pdcgsj DATE,
    qx VARCHAR2(6 CHAR),
    cjsj DATE,
    CONSTRAINT pk_tpg_hfpd PRIMARY KEY (pdid),
    CONSTRAINT uq_tpg_hfpd_pdbh UNIQUE (pdbh),
    CONSTRAINT fk_tpg_hfpd_sqfjtid FOREIGN KEY(sqfjtid) REFERENCES tpg_jtxx (jtid),
    CONSTRAINT fk_tpg_hfpd_dfjtid FOREIGN KEY(dfjtid) REFERENCES tpg_jtxx (jtid),
    CONSTRAINT fk_tpg_hfpd_yfyid FOREIGN KEY(yfyid) REFERENCES tpg_fyxx (fyid),
    CONSTRAINT fk_tpg_hfpd_xfyid FOREIGN KEY(xfyid) REFERENCES tpg_fyxx (fyid)
);
CREATE INDEX ix_tpg_hfpd_pdzt_hflx ON tpg_hfpd (pdzt, hflx);
COMMENT ON TABLE tpg_hfpd IS '换房配对表';
COMMENT ON COLUMN tpg_hfpd.pdid IS '换房配对ID';
COMMENT ON COLUMN tpg_hfpd.pdbh IS '配对编号';
COMMENT ON COLUMN tpg_hfpd.sqfjtid IS '申请方家庭ID';
COMMENT ON COLUMN tpg_hfpd.dfjtid IS '对方家庭ID';
COMMENT ON COLUMN tpg_hfpd.yfyid IS '申请方原房源ID';
COMMENT ON COLUMN tpg_hfpd.xfyid IS '换入房源ID';
COMMENT ON COLUMN tpg_hfpd.hflx IS '换房类型代码（01已配租换房 02未配租换房）';
COMMENT ON COLUMN tpg_hfpd.pdzt IS '配对状态代码（01配对中 02配对成功 03已取消）';
COMMENT ON COLUMN tpg_hfpd.pdcgsj IS '配对成功时间';
COMMENT ON COLUMN tpg_hfpd.qx IS '区县代码';
COMMENT ON COLUMN tpg_hfpd.cjsj IS '创建时间';

-- tpg_rygx: 家庭成员关系表
CREATE TABLE tpg_rygx (
    gxid VARCHAR2(32 CHAR) NOT NULL,
    jtid VARCHAR2(32 CHAR) NOT NULL,
    ryid VARCHAR2(32 CHAR) NOT NULL,
    ysqrgx VARCHAR2(2 CHAR) NOT NULL,
    sfzsqr NUMBER(1, 0),
    lkrq DATE,
    CONSTRAINT pk_tpg_rygx PRIMARY KEY (gxid),
    CONSTRAINT ck_tpg_rygx_sfzsqr CHECK (sfzsqr in (0, 1)),
    CONSTRAINT uq_tpg_rygx_jtid_ryid UNIQUE (jtid, ryid),
    CONSTRAINT fk_tpg_rygx_jtid FOREIGN KEY(jtid) REFERENCES tpg_jtxx (jtid),
    CONSTRAINT fk_tpg_rygx_ryid FOREIGN KEY(ryid) REFERENCES tpg_ryxx (ryid)
);
CREATE INDEX ix_tpg_rygx_ryid ON tpg_rygx (ryid);
COMMENT ON TABLE tpg_rygx IS '家庭成员关系表';
COMMENT ON COLUMN tpg_rygx.gxid IS '关系ID';
COMMENT ON COLUMN tpg_rygx.jtid IS '家庭ID';
COMMENT ON COLUMN tpg_rygx.ryid IS '人员ID';
COMMENT ON COLUMN tpg_rygx.ysqrgx IS '与主申请人关系代码（01本人 02配偶 03子女 04父母 05兄弟姐妹 06孙子女 99其他）';
COMMENT ON COLUMN tpg_rygx.sfzsqr IS '是否主申请人（1是 0否）';
COMMENT ON COLUMN tpg_rygx.lkrq IS '离开家庭日期（空表示仍是家庭成员；死亡、分户、迁出等退出家庭时填写）';

-- tpg_hbry: 划拨人员表
CREATE TABLE tpg_hbry (
    hbryid VARCHAR2(32 CHAR) NOT NULL,
    pcid VARCHAR2(32 CHAR) NOT NULL,
    sqid VARCHAR2(32 CHAR) NOT NULL,
    CONSTRAINT pk_tpg_hbry PRIMARY KEY (hbryid),
    CONSTRAINT uq_tpg_hbry_pcid_sqid UNIQUE (pcid, sqid),
    CONSTRAINT fk_tpg_hbry_pcid FOREIGN KEY(pcid) REFERENCES tpg_hbpc (pcid),
    CONSTRAINT fk_tpg_hbry_sqid FOREIGN KEY(sqid) REFERENCES tpg_gzfsqspb (sqid)
);
CREATE INDEX ix_tpg_hbry_sqid ON tpg_hbry (sqid);
COMMENT ON TABLE tpg_hbry IS '划拨人员表';
COMMENT ON COLUMN tpg_hbry.hbryid IS '划拨人员ID';
COMMENT ON COLUMN tpg_hbry.pcid IS '划拨批次ID';
COMMENT ON COLUMN tpg_hbry.sqid IS '申请ID';

-- tpg_hfyf: 换房验房表
CREATE TABLE tpg_hfyf (
    yfid VARCHAR2(32 CHAR) NOT NULL,
    pdid VARCHAR2(32 CHAR) NOT NULL,
    yfzt VARCHAR2(2 CHAR) NOT NULL,
    yfjg VARCHAR2(600 CHAR),
    yfry VARCHAR2(60 CHAR),
    yfqrsj DATE,
    CONSTRAINT pk_tpg_hfyf PRIMARY KEY (yfid),
    CONSTRAINT uq_tpg_hfyf_pdid UNIQUE (pdid),
    CONSTRAINT fk_tpg_hfyf_pdid FOREIGN KEY(pdid) REFERENCES tpg_hfpd (pdid)
);
COMMENT ON TABLE tpg_hfyf IS '换房验房表';
COMMENT ON COLUMN tpg_hfyf.yfid IS '验房ID';
COMMENT ON COLUMN tpg_hfyf.pdid IS '换房配对ID';
COMMENT ON COLUMN tpg_hfyf.yfzt IS '验房状态代码（00待验房 01验房通过 02验房不通过）';
COMMENT ON COLUMN tpg_hfyf.yfjg IS '验房结果说明';
COMMENT ON COLUMN tpg_hfyf.yfry IS '验房人员';
COMMENT ON COLUMN tpg_hfyf.yfqrsj IS '验房确认时间';

-- tpg_yhjg: 摇号结果表
CREATE TABLE tpg_yhjg (
    yhid VARCHAR2(32 CHAR) NOT NULL,
    sqid VARCHAR2(32 CHAR) NOT NULL,
    yhnd INTEGER NOT NULL,
    qs INTEGER NOT NULL,
    sxh INTEGER NOT NULL,
    yhrq DATE,
    CONSTRAINT pk_tpg_yhjg PRIMARY KEY (yhid),
    CONSTRAINT uq_tpg_yhjg_yhnd_qs_sxh UNIQUE (yhnd, qs, sxh),
    CONSTRAINT fk_tpg_yhjg_sqid FOREIGN KEY(sqid) REFERENCES tpg_gzfsqspb (sqid)
);
CREATE INDEX ix_tpg_yhjg_sqid ON tpg_yhjg (sqid);
COMMENT ON TABLE tpg_yhjg IS '摇号结果表';
COMMENT ON COLUMN tpg_yhjg.yhid IS '摇号结果ID';
COMMENT ON COLUMN tpg_yhjg.sqid IS '申请ID';
COMMENT ON COLUMN tpg_yhjg.yhnd IS '摇号年度';
COMMENT ON COLUMN tpg_yhjg.qs IS '摇号期数';
COMMENT ON COLUMN tpg_yhjg.sxh IS '顺序号';
COMMENT ON COLUMN tpg_yhjg.yhrq IS '摇号日期';

-- tpg_zlht: 租赁合同表
CREATE TABLE tpg_zlht (
    htid VARCHAR2(32 CHAR) NOT NULL,
    htcode VARCHAR2(40 CHAR) NOT NULL,
    sqid VARCHAR2(32 CHAR),
    jtid VARCHAR2(32 CHAR) NOT NULL,
    fyid VARCHAR2(32 CHAR),
    hfpdid VARCHAR2(32 CHAR),
    pzlx VARCHAR2(2 CHAR) NOT NULL,
    xzlx VARCHAR2(2 CHAR),
    htzt VARCHAR2(2 CHAR) NOT NULL,
    yj NUMBER(10, 2),
    yjjmbz NUMBER(1, 0),
    yjjmyy VARCHAR2(200 CHAR),
    yzj NUMBER(10, 2),
    htksrq DATE,
    htjsrq DATE,
    qdrq DATE,
    czyid VARCHAR2(32 CHAR),
    CONSTRAINT pk_tpg_zlht PRIMARY KEY (htid),
    CONSTRAINT ck_tpg_zlht_yjjmbz CHECK (yjjmbz in (0, 1)),
    CONSTRAINT uq_tpg_zlht_htcode UNIQUE (htcode),
    CONSTRAINT fk_tpg_zlht_sqid FOREIGN KEY(sqid) REFERENCES tpg_gzfsqspb (sqid),
    CONSTRAINT fk_tpg_zlht_jtid FOREIGN KEY(jtid) REFERENCES tpg_jtxx (jtid),
    CONSTRAINT fk_tpg_zlht_fyid FOREIGN KEY(fyid) REFERENCES tpg_fyxx (fyid),
    CONSTRAINT fk_tpg_zlht_hfpdid FOREIGN KEY(hfpdid) REFERENCES tpg_hfpd (pdid)
);
CREATE INDEX ix_tpg_zlht_jtid ON tpg_zlht (jtid);
COMMENT ON TABLE tpg_zlht IS '租赁合同表';
COMMENT ON COLUMN tpg_zlht.htid IS '合同ID';
COMMENT ON COLUMN tpg_zlht.htcode IS '合同编号';
COMMENT ON COLUMN tpg_zlht.sqid IS '申请ID';
COMMENT ON COLUMN tpg_zlht.jtid IS '家庭ID';
COMMENT ON COLUMN tpg_zlht.fyid IS '房源ID';
COMMENT ON COLUMN tpg_zlht.hfpdid IS '换房配对ID（换房合同）';
COMMENT ON COLUMN tpg_zlht.pzlx IS '配租类型代码（01新配租 02续租 03换房 04调房）';
COMMENT ON COLUMN tpg_zlht.xzlx IS '续租类型代码';
COMMENT ON COLUMN tpg_zlht.htzt IS '合同状态代码（00待签订 01已签订 02已终止）';
COMMENT ON COLUMN tpg_zlht.yj IS '押金（元）';
COMMENT ON COLUMN tpg_zlht.yjjmbz IS '押金减免标志（1减免 0不减免）';
COMMENT ON COLUMN tpg_zlht.yjjmyy IS '押金减免原因';
COMMENT ON COLUMN tpg_zlht.yzj IS '月租金（元）';
COMMENT ON COLUMN tpg_zlht.htksrq IS '合同开始日期';
COMMENT ON COLUMN tpg_zlht.htjsrq IS '合同结束日期';
COMMENT ON COLUMN tpg_zlht.qdrq IS '签订时间';
COMMENT ON COLUMN tpg_zlht.czyid IS '经办人ID';
