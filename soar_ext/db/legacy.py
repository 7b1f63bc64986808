"""The assumed SOAR legacy schema: every SOAR table soar-ext reads or writes.

SOAR's real schema is not public; these tables follow the naming style of Hangzhou's
public-rental database (uppercase pinyin initials with a module prefix: ``TPG_`` for
公租房 business, ``TCH_`` for 测绘 data). All access to legacy tables goes through this
module: a maintainer adapting soar-ext to the real SOAR schema edits only here, and
``soar-ext doctor`` checks a live database against it.

Names are lowercase so that SQLAlchemy emits them unquoted (Oracle folds them to upper
case). Flags are ``NUMBER(1)`` with a named check, never BOOLEAN. Every table and column
carries its Chinese comment, which ``sql/legacy/`` renders as ``COMMENT ON``.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

legacy_metadata = MetaData(naming_convention=NAMING)


def _id(name: str, comment: str, *, fk: str | None = None, nullable: bool = True) -> Column:
    args = [ForeignKey(fk)] if fk else []
    return Column(name, String(32), *args, nullable=nullable, comment=comment)


def _pk(name: str, comment: str) -> Column:
    return Column(name, String(32), primary_key=True, comment=comment)


def _flag(name: str, comment: str) -> Column:
    return Column(name, Numeric(1, 0), nullable=True, comment=comment)


def _flag_check(table: str, column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} in (0, 1)", name=f"{column}")


persons = Table(
    "tpg_ryxx",
    legacy_metadata,
    _pk("ryid", "人员ID"),
    Column("xm", String(60), nullable=False, comment="姓名"),
    Column("sfzh", String(18), nullable=False, comment="身份证号码"),
    Column("xb", String(1), comment="性别代码（1男 2女）"),
    Column("csrq", Date, comment="出生日期"),
    Column("lxdh", String(20), comment="联系电话"),
    Column("hjdz", String(300), comment="户籍地址"),
    Column("gzdw", String(200), comment="工作单位"),
    Column("cjsj", DateTime, comment="创建时间"),
    Index("ix_tpg_ryxx_sfzh", "sfzh"),
    comment="人员信息表",
)

families = Table(
    "tpg_jtxx",
    legacy_metadata,
    _pk("jtid", "家庭ID"),
    _id("sqrid", "主申请人ID（人员信息表）", fk="tpg_ryxx.ryid", nullable=False),
    Column("jtrs", Integer, comment="家庭人数"),
    Column("qx", String(6), comment="所在区县代码"),
    Column("jtdz", String(300), comment="家庭住址"),
    Column("cjsj", DateTime, comment="创建时间"),
    Index("ix_tpg_jtxx_sqrid", "sqrid"),
    comment="家庭信息表",
)

family_members = Table(
    "tpg_rygx",
    legacy_metadata,
    _pk("gxid", "关系ID"),
    _id("jtid", "家庭ID", fk="tpg_jtxx.jtid", nullable=False),
    _id("ryid", "人员ID", fk="tpg_ryxx.ryid", nullable=False),
    Column(
        "ysqrgx",
        String(2),
        nullable=False,
        comment="与主申请人关系代码（01本人 02配偶 03子女 04父母 05兄弟姐妹 06孙子女 99其他）",
    ),
    _flag("sfzsqr", "是否主申请人（1是 0否）"),
    Column("lkrq", Date, comment="离开家庭日期（空表示仍是家庭成员；死亡、分户、迁出等退出家庭时填写）"),
    _flag_check("tpg_rygx", "sfzsqr"),
    UniqueConstraint("jtid", "ryid", name="uq_tpg_rygx_jtid_ryid"),
    Index("ix_tpg_rygx_ryid", "ryid"),
    comment="家庭成员关系表",
)

applications = Table(
    "tpg_gzfsqspb",
    legacy_metadata,
    _pk("sqid", "申请ID"),
    _id("jtid", "家庭ID", fk="tpg_jtxx.jtid", nullable=False),
    Column("pzzgzh", String(30), comment="配租资格证号"),
    Column("bzlx", String(2), nullable=False, comment="保障类型代码（01公租房 02廉租房）"),
    Column(
        "spzt",
        String(2),
        nullable=False,
        comment="审批状态代码（01已受理 02审核中 03公示中 04已取得资格 09已办结 99不予通过）",
    ),
    Column("sqrq", Date, comment="申请日期"),
    Column("bjrq", Date, comment="办结日期"),
    Column("qx", String(6), comment="受理区县代码"),
    Column("cjsj", DateTime, comment="创建时间"),
    UniqueConstraint("pzzgzh", name="uq_tpg_gzfsqspb_pzzgzh"),
    Index("ix_tpg_gzfsqspb_jtid", "jtid"),
    comment="公租房申请审批表",
)

lottery_results = Table(
    "tpg_yhjg",
    legacy_metadata,
    _pk("yhid", "摇号结果ID"),
    _id("sqid", "申请ID", fk="tpg_gzfsqspb.sqid", nullable=False),
    Column("yhnd", Integer, nullable=False, comment="摇号年度"),
    Column("qs", Integer, nullable=False, comment="摇号期数"),
    Column("sxh", Integer, nullable=False, comment="顺序号"),
    Column("yhrq", Date, comment="摇号日期"),
    UniqueConstraint("yhnd", "qs", "sxh", name="uq_tpg_yhjg_yhnd_qs_sxh"),
    Index("ix_tpg_yhjg_sqid", "sqid"),
    comment="摇号结果表",
)

housing_projects = Table(
    "tpg_fyxm",
    legacy_metadata,
    _pk("xmid", "房源项目ID"),
    Column("xmbh", String(30), nullable=False, comment="项目编号"),
    Column("xmmc", String(200), nullable=False, comment="项目名称"),
    Column("qx", String(6), comment="所在区县代码"),
    Column("xmdz", String(300), comment="项目地址"),
    UniqueConstraint("xmbh", name="uq_tpg_fyxm_xmbh"),
    comment="房源项目表",
)

houses = Table(
    "tpg_fyxx",
    legacy_metadata,
    _pk("fyid", "房源ID"),
    _id("xmid", "房源项目ID", fk="tpg_fyxm.xmid", nullable=False),
    Column("lh", String(20), comment="楼号"),
    Column("dy", String(10), comment="单元"),
    Column("fh", String(20), comment="房号"),
    Column("jzmj", Numeric(10, 2), comment="建筑面积（平方米）"),
    Column("hx", String(30), comment="户型"),
    Column("fyzt", String(2), nullable=False, comment="房源状态代码（01空置 02已出租 03已预留 04维修中）"),
    Column("yzj", Numeric(10, 2), comment="月租金（元）"),
    Index("ix_tpg_fyxx_xmid", "xmid"),
    comment="房源信息表",
)

allocation_batches = Table(
    "tpg_hbpc",
    legacy_metadata,
    _pk("pcid", "划拨批次ID"),
    Column("hblx", String(2), nullable=False, comment="划拨类型代码（01调房划拨 02选房划拨）"),
    Column("pcmc", String(200), comment="批次名称"),
    Column("pczt", String(2), nullable=False, comment="批次状态代码（01办理中 02已办结 03已撤销）"),
    Column("qx", String(6), comment="区县代码"),
    Column("czyid", String(32), comment="经办人ID"),
    Column("cjsj", DateTime, comment="创建时间"),
    comment="房源划拨批次表",
)

allocation_houses = Table(
    "tpg_hbfy",
    legacy_metadata,
    _pk("hbfyid", "划拨房源ID"),
    _id("pcid", "划拨批次ID", fk="tpg_hbpc.pcid", nullable=False),
    _id("fyid", "房源ID", fk="tpg_fyxx.fyid", nullable=False),
    Column("hbsj", DateTime, comment="划拨时间"),
    UniqueConstraint("pcid", "fyid", name="uq_tpg_hbfy_pcid_fyid"),
    Index("ix_tpg_hbfy_fyid", "fyid"),
    comment="划拨房源表",
)

allocation_applicants = Table(
    "tpg_hbry",
    legacy_metadata,
    _pk("hbryid", "划拨人员ID"),
    _id("pcid", "划拨批次ID", fk="tpg_hbpc.pcid", nullable=False),
    _id("sqid", "申请ID", fk="tpg_gzfsqspb.sqid", nullable=False),
    UniqueConstraint("pcid", "sqid", name="uq_tpg_hbry_pcid_sqid"),
    Index("ix_tpg_hbry_sqid", "sqid"),
    comment="划拨人员表",
)

exchange_pairings = Table(
    "tpg_hfpd",
    legacy_metadata,
    _pk("pdid", "换房配对ID"),
    Column("pdbh", String(30), nullable=False, comment="配对编号"),
    _id("sqfjtid", "申请方家庭ID", fk="tpg_jtxx.jtid", nullable=False),
    _id("dfjtid", "对方家庭ID", fk="tpg_jtxx.jtid"),
    _id("yfyid", "申请方原房源ID", fk="tpg_fyxx.fyid"),
    _id("xfyid", "换入房源ID", fk="tpg_fyxx.fyid"),
    Column("hflx", String(2), nullable=False, comment="换房类型代码（01已配租换房 02未配租换房）"),
    Column("pdzt", String(2), nullable=False, comment="配对状态代码（01配对中 02配对成功 03已取消）"),
    Column("pdcgsj", DateTime, comment="配对成功时间"),
    Column("qx", String(6), comment="区县代码"),
    Column("cjsj", DateTime, comment="创建时间"),
    UniqueConstraint("pdbh", name="uq_tpg_hfpd_pdbh"),
    Index("ix_tpg_hfpd_pdzt_hflx", "pdzt", "hflx"),
    comment="换房配对表",
)

inspections = Table(
    "tpg_hfyf",
    legacy_metadata,
    _pk("yfid", "验房ID"),
    _id("pdid", "换房配对ID", fk="tpg_hfpd.pdid", nullable=False),
    Column("yfzt", String(2), nullable=False, comment="验房状态代码（00待验房 01验房通过 02验房不通过）"),
    Column("yfjg", String(600), comment="验房结果说明"),
    Column("yfry", String(60), comment="验房人员"),
    Column("yfqrsj", DateTime, comment="验房确认时间"),
    UniqueConstraint("pdid", name="uq_tpg_hfyf_pdid"),
    comment="换房验房表",
)

contracts = Table(
    "tpg_zlht",
    legacy_metadata,
    _pk("htid", "合同ID"),
    Column("htcode", String(40), nullable=False, comment="合同编号"),
    _id("sqid", "申请ID", fk="tpg_gzfsqspb.sqid"),
    _id("jtid", "家庭ID", fk="tpg_jtxx.jtid", nullable=False),
    _id("fyid", "房源ID", fk="tpg_fyxx.fyid"),
    _id("hfpdid", "换房配对ID（换房合同）", fk="tpg_hfpd.pdid"),
    Column("pzlx", String(2), nullable=False, comment="配租类型代码（01新配租 02续租 03换房 04调房）"),
    Column("xzlx", String(2), comment="续租类型代码"),
    Column("htzt", String(2), nullable=False, comment="合同状态代码（00待签订 01已签订 02已终止）"),
    Column("yj", Numeric(10, 2), comment="押金（元）"),
    _flag("yjjmbz", "押金减免标志（1减免 0不减免）"),
    Column("yjjmyy", String(200), comment="押金减免原因"),
    Column("yzj", Numeric(10, 2), comment="月租金（元）"),
    Column("htksrq", Date, comment="合同开始日期"),
    Column("htjsrq", Date, comment="合同结束日期"),
    Column("qdrq", DateTime, comment="签订时间"),
    Column("czyid", String(32), comment="经办人ID"),
    _flag_check("tpg_zlht", "yjjmbz"),
    UniqueConstraint("htcode", name="uq_tpg_zlht_htcode"),
    Index("ix_tpg_zlht_jtid", "jtid"),
    comment="租赁合同表",
)

coconstruction_projects = Table(
    "tpg_pjxm",
    legacy_metadata,
    _pk("pjxmid", "配建项目ID"),
    Column("xmbh", String(30), nullable=False, comment="项目编号"),
    Column("xmmc", String(200), nullable=False, comment="项目名称"),
    Column("kfdw", String(200), comment="开发单位"),
    Column("qx", String(6), comment="区县代码"),
    Column("pjts", Integer, comment="应配建套数"),
    Column("pjmj", Numeric(12, 2), comment="应配建面积（平方米）"),
    Column("cjsj", DateTime, comment="创建时间"),
    UniqueConstraint("xmbh", name="uq_tpg_pjxm_xmbh"),
    comment="配建项目表",
)

surveyed_houses = Table(
    "tch_fwxx",
    legacy_metadata,
    _pk("fwid", "测绘房屋ID"),
    Column("chxmbh", String(30), nullable=False, comment="测绘项目编号"),
    Column("chxmmc", String(200), comment="测绘项目名称"),
    Column("lh", String(20), comment="楼号"),
    Column("dy", String(10), comment="单元"),
    Column("fh", String(20), comment="房号"),
    Column("ycjzmj", Numeric(10, 2), comment="预测建筑面积（平方米）"),
    Column("scjzmj", Numeric(10, 2), comment="实测建筑面积（平方米）"),
    Column("gxsj", DateTime, comment="数据更新时间"),
    Index("ix_tch_fwxx_chxmbh", "chxmbh"),
    comment="测绘房屋信息表",
)

LEGACY_TABLES: tuple[Table, ...] = tuple(legacy_metadata.sorted_tables)
