"""soar-ext's own tables (prefix ``sx_``), added to SOAR's database by additive migrations.

These tables hold what soar-ext decides and records: audit entries, plugin decisions
(including shadow-mode ones), deposit-waiver decisions, the leases of batch workers that
share an upstream quota (:mod:`soar_ext.quota`), Big Data verifications with one snapshot per
category and query attempt, the 调房划拨 applicant↔house links with their change log, and for
配建项目 the surveying link with its figures and the outbox of received documents. The migrations under
``soar_ext/migrations`` create exactly these objects; a test checks the two agree.

Also listed here: the indexes soar-ext adds to legacy tables for its new query filters
(``LEGACY_INDEXES``). They are new, explicitly named objects; no legacy object is changed.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from soar_ext.db.legacy import contracts, exchange_pairings, inspections, lottery_results, persons
from soar_ext.db.work_queue import queue_columns

PREFIX = "sx_"
VERSION_TABLE = "sx_schema_version"

# Only primary keys are unnamed in the table definitions below; name them too (Oracle would
# otherwise generate SYS_C… names that differ between databases).
ext_metadata = MetaData(naming_convention={"pk": "pk_%(table_name)s"})

audit_log = Table(
    "sx_audit_log",
    ext_metadata,
    Column("id", String(32), primary_key=True, comment="审计记录ID"),
    Column("action", String(60), nullable=False, comment="操作类型（如 bigdata.query、export.excel）"),
    Column("operator_id", String(32), comment="操作员ID"),
    Column("operator_name", String(60), comment="操作员姓名"),
    Column("purpose", String(200), comment="查询或操作事由"),
    Column("subject_masked", String(18), comment="查询对象身份证号（脱敏）"),
    Column("subject_hash", String(64), comment="查询对象身份证号摘要（HMAC-SHA256，密钥另行保管）"),
    Column("interfaces", String(1000), comment="涉及的接口或数据类别"),
    Column("result_status", String(20), nullable=False, comment="结果状态"),
    Column("detail", Text, comment="详细信息（JSON，不含完整身份证号）"),
    Column("created_at", DateTime, nullable=False, comment="记录时间"),
    # revision 0002: write-ahead entries (intent before the upstream call, outcome after it)
    Column("state", String(10), comment="记录状态（intent 已发起未完成 / done 已完成）"),
    Column("finished_at", DateTime, comment="完成时间"),
    Index("ix_sx_audit_log_created_at", "created_at"),
    Index("ix_sx_audit_log_subject_hash", "subject_hash"),
    Index("ix_sx_audit_log_state", "state", "created_at"),
    comment="soar-ext 个人信息访问审计表",
)

plugin_decisions = Table(
    "sx_plugin_decision",
    ext_metadata,
    Column("id", String(32), primary_key=True, comment="决定记录ID"),
    Column("plugin", String(60), nullable=False, comment="插件名称"),
    Column("hook", String(60), nullable=False, comment="扩展点名称"),
    Column("subject_key", String(100), comment="业务主键（如合同ID）"),
    Column("run_mode", String(10), nullable=False, comment="插件模式（on 启用 / shadow 试运行）"),
    Column("verdict", String(20), nullable=False, comment="决定（allow 放行 / block 拦截 / error 出错）"),
    Column("enforced", Numeric(1, 0), nullable=False, comment="是否已执行（1是 0否，试运行模式为0）"),
    Column("reason", String(1000), comment="原因说明"),
    Column("operator_id", String(32), comment="操作员ID"),
    Column("created_at", DateTime, nullable=False, comment="记录时间"),
    CheckConstraint("enforced in (0, 1)", name="ck_sx_plugin_decision_enforced"),
    Index("ix_sx_plugin_decision_subject", "subject_key"),
    comment="soar-ext 插件决定记录表（含试运行记录）",
)

deposit_decisions = Table(
    "sx_deposit_decision",
    ext_metadata,
    Column("id", String(32), primary_key=True, comment="减免决定ID"),
    Column("htid", String(32), nullable=False, comment="合同ID"),
    Column("jtid", String(32), nullable=False, comment="家庭ID"),
    Column("pzlx", String(2), nullable=False, comment="配租类型代码"),
    Column("members", Text, nullable=False, comment="查询成员及分数（JSON，身份证号脱敏）"),
    Column("threshold", Integer, nullable=False, comment="减免分数线（高于此分减免）"),
    Column("max_score", Integer, comment="成员最高钱江分"),
    Column("decision", String(10), nullable=False, comment="决定（waived 减免 / required 须缴）"),
    Column("needs_recheck", Numeric(1, 0), nullable=False, comment="是否待复核（1是 0否）"),
    Column("run_mode", String(10), nullable=False, comment="插件模式（on / shadow）"),
    Column("enforced", Numeric(1, 0), nullable=False, comment="是否已写入合同押金（1是 0否）"),
    Column("original_deposit", Numeric(10, 2), comment="原押金（元）"),
    Column("message", String(600), comment="提示信息"),
    Column("operator_id", String(32), comment="操作员ID"),
    Column("decided_at", DateTime, nullable=False, comment="首次决定时间"),
    Column("updated_at", DateTime, nullable=False, comment="最近更新时间"),
    UniqueConstraint("htid", name="uq_sx_deposit_decision_htid"),
    CheckConstraint("needs_recheck in (0, 1)", name="ck_sx_deposit_decision_recheck"),
    CheckConstraint("enforced in (0, 1)", name="ck_sx_deposit_decision_enf"),
    Index("ix_sx_deposit_decision_recheck", "needs_recheck"),
    comment="钱江分押金减免决定表",
)

worker_leases = Table(
    "sx_worker_lease",
    ext_metadata,
    Column("worker_id", String(32), primary_key=True, comment="工作进程ID"),
    Column("pool", String(60), nullable=False, comment="共享配额名称（同一上游配额的进程共用，如 bigdata.hukou）"),
    Column("node", String(100), comment="所在节点（主机名）"),
    Column("pid", Integer, comment="进程号"),
    Column("label", String(200), comment="用途说明"),
    Column("rate_share", Numeric(12, 3), nullable=False, comment="本进程占用的调用速率份额（次/秒）"),
    Column("conc_share", Integer, nullable=False, comment="本进程占用的并发调用份额"),
    Column("live_workers", Integer, nullable=False, comment="最近一次心跳时同一配额的存活进程数"),
    Column("started_at", DateTime, nullable=False, comment="加入时间"),
    Column("heartbeat_at", DateTime, nullable=False, comment="最近心跳时间"),
    Column("expires_at", DateTime, nullable=False, comment="租约到期时间（过期未续视为进程已退出）"),
    Index("ix_sx_worker_lease_pool", "pool", "expires_at"),
    comment="共享配额工作进程租约表",
)

verifications = Table(
    "sx_verification",
    ext_metadata,
    Column("id", String(32), primary_key=True, comment="核查ID"),
    Column("ryid", String(32), nullable=False, comment="人员ID（人员信息表）"),
    Column("sqid", String(32), comment="业务办结的申请ID"),
    Column("subject_masked", String(18), comment="核查对象身份证号（脱敏）"),
    Column("subject_hash", String(64), comment="核查对象身份证号摘要（HMAC-SHA256，同审计表）"),
    Column("purpose", String(600), nullable=False, comment="查询事由"),
    Column("operator_id", String(32), comment="发起核查的操作员ID"),
    Column("operator_name", String(60), comment="发起核查的操作员姓名"),
    Column("run_mode", String(10), nullable=False, comment="插件模式（on 启用 / shadow 试运行）"),
    Column("generation", Integer, nullable=False, comment="大数据局网关代次（1 一代 / 2 二代）"),
    Column("budget_seconds", Numeric(6, 2), nullable=False, comment="核查时限（秒）"),
    Column("started_at", DateTime, nullable=False, comment="开始时间"),
    Column("finished_at", DateTime, nullable=False, comment="最近一次查询结束时间"),
    Column("pending_count", Integer, nullable=False, comment="查询失败或超时、可重新查询的类别数"),
    Index("ix_sx_verification_ryid", "ryid", "started_at"),
    comment="大数据核查记录表",
)

verification_snapshots = Table(
    "sx_verification_snapshot",
    ext_metadata,
    Column("id", String(32), primary_key=True, comment="快照ID"),
    Column("verification_id", String(32), nullable=False, comment="核查ID"),
    Column("category", String(40), nullable=False, comment="核查类别代码（如 vehicles 车辆）"),
    Column("attempt", Integer, nullable=False, comment="查询序号（1 首次查询，2 起为重新查询）"),
    Column(
        "state",
        String(12),
        nullable=False,
        comment="结果状态（found 正常返回 / no_record 无记录 / error 查询失败 / timeout 超时）",
    ),
    Column("record_count", Integer, comment="返回记录条数"),
    Column("records_json", Text, comment="规范化数据（JSON，中文字段名；查询失败或超时为空）"),
    Column("raw_digest", String(64), comment="原始返回数据摘要（SHA-256）"),
    Column("interface_id", String(60), comment="大数据局接口ID"),
    Column("reason", String(600), comment="查询失败或超时的原因（中文，已脱敏）"),
    Column("duration_ms", Integer, comment="查询耗时（毫秒）"),
    Column("operator_id", String(32), comment="本次查询的操作员ID"),
    Column("fetched_at", DateTime, nullable=False, comment="获取时间"),
    ForeignKeyConstraint(["verification_id"], ["sx_verification.id"], name="fk_sx_verif_snap_verif"),
    UniqueConstraint("verification_id", "category", "attempt", name="uq_sx_verif_snap_attempt"),
    CheckConstraint("state in ('found', 'no_record', 'error', 'timeout')", name="ck_sx_verif_snap_state"),
    comment="大数据核查类别快照表（每类别每次查询一行）",
)

allocation_links = Table(
    "sx_alloc_link",
    ext_metadata,
    Column("id", String(32), primary_key=True, comment="关联记录ID"),
    Column("pcid", String(32), nullable=False, comment="划拨批次ID"),
    Column("sqid", String(32), nullable=False, comment="申请ID（调房申请人）"),
    Column("fyid", String(32), nullable=False, comment="房源ID（划拨房源）"),
    Column("open_sqid", String(32), comment="批次办理中时的申请ID（批次办结或撤销后清空）"),
    Column("open_fyid", String(32), comment="批次办理中时的房源ID（批次办结或撤销后清空）"),
    Column("source", String(10), nullable=False, comment="关联方式（manual 手工关联 / suggested 采纳推荐）"),
    Column("operator_id", String(32), comment="操作员ID"),
    Column("operator_name", String(60), comment="操作员姓名"),
    Column("linked_at", DateTime, nullable=False, comment="关联时间"),
    # one-to-one within a batch (also after it is closed) ...
    UniqueConstraint("pcid", "sqid", name="uq_sx_alloc_link_pcid_sqid"),
    UniqueConstraint("pcid", "fyid", name="uq_sx_alloc_link_pcid_fyid"),
    # ... and across open batches: NULLs (closed batches) do not collide on any of our databases
    UniqueConstraint("open_sqid", name="uq_sx_alloc_link_open_sqid"),
    UniqueConstraint("open_fyid", name="uq_sx_alloc_link_open_fyid"),
    comment="调房划拨申请人与房源一对一关联表",
)

allocation_changes = Table(
    "sx_alloc_change",
    ext_metadata,
    Column("id", String(32), primary_key=True, comment="变更记录ID"),
    Column("pcid", String(32), nullable=False, comment="划拨批次ID"),
    Column("sqid", String(32), nullable=False, comment="申请ID"),
    Column(
        "action",
        String(10),
        nullable=False,
        comment="变更类型（link 关联 / unlink 解除关联 / relink 改为关联 / drop 移出批次清除 / add 添加）",
    ),
    Column("fyid_before", String(32), comment="变更前房源ID"),
    Column("fyid_after", String(32), comment="变更后房源ID"),
    Column("reason", String(200), comment="说明"),
    Column("operator_id", String(32), comment="操作员ID"),
    Column("operator_name", String(60), comment="操作员姓名"),
    Column("changed_at", DateTime, nullable=False, comment="变更时间"),
    Index("ix_sx_alloc_change_pcid", "pcid", "changed_at"),
    comment="房源划拨关联变更记录表",
)

project_surveys = Table(
    "sx_pjxm_survey",
    ext_metadata,
    Column("pjxmid", String(32), primary_key=True, comment="配建项目ID"),
    Column(
        "link_state",
        String(12),
        nullable=False,
        comment="测绘关联状态（linked 已关联 / pending 待确认 / not_found 未找到 / unavailable 测绘服务不可用）",
    ),
    Column(
        "match_kind", String(12), comment="关联方式（exact 完全一致 / normalised 规范化后一致 / confirmed 人工确认）"
    ),
    Column("xmbh", String(30), comment="关联时的配建项目编号"),
    Column("xmmc", String(200), comment="关联时的配建项目名称"),
    Column("chxmbh", String(30), comment="测绘项目编号"),
    Column("chxmmc", String(200), comment="测绘项目名称"),
    Column("candidates_json", Text, comment="待确认的候选测绘项目（JSON：编号、名称、原因）"),
    Column("ycjzmj", Numeric(14, 2), comment="预测面积合计（平方米）"),
    Column("scjzmj", Numeric(14, 2), comment="实测面积合计（平方米，仅已实测房屋）"),
    Column("fyts", Integer, comment="房源数量（测绘房屋套数）"),
    Column("measured_count", Integer, comment="已实测房屋套数"),
    Column("deviation_pct", Numeric(9, 2), comment="实测与预测面积偏差（百分比，按已实测房屋计）"),
    Column("flagged", Integer, comment="面积偏差超过设定比例（1 是 / 0 否）"),
    Column("source", String(10), comment="数据来源（service 测绘服务 / local SOAR本地测绘数据）"),
    Column("source_date", DateTime, comment="本地测绘数据的更新时间（来源为 local 时）"),
    Column("synced_at", DateTime, comment="面积与套数的同步时间"),
    Column("last_error", String(600), comment="最近一次同步失败的原因"),
    Column("tried_at", DateTime, comment="最近一次同步时间（无论成败）"),
    Column("confirmed_by", String(32), comment="确认关联的操作员ID"),
    Column("confirmed_name", String(60), comment="确认关联的操作员姓名"),
    Column("confirmed_at", DateTime, comment="确认关联时间"),
    CheckConstraint("flagged in (0, 1)", name="ck_sx_pjxm_survey_flagged"),
    CheckConstraint("link_state in ('linked', 'pending', 'not_found', 'unavailable')", name="ck_sx_pjxm_survey_state"),
    comment="配建项目测绘关联及面积套数表",
)

document_outbox = Table(
    "sx_doc_outbox",
    ext_metadata,
    Column("id", String(32), primary_key=True, comment="待上传记录ID"),
    Column("pjxmid", String(32), nullable=False, comment="配建项目ID"),
    Column("xmbh", String(30), nullable=False, comment="收件时的配建项目编号（资料库业务关键字）"),
    Column("doc_type", String(2), nullable=False, comment="资料类型代码（01 配建协议书 … 04 解除限制销售房源联系单）"),
    Column("file_name", String(200), nullable=False, comment="文件名"),
    Column("file_size", Integer, nullable=False, comment="文件大小（字节）"),
    Column("sha256", String(64), nullable=False, comment="文件SHA-256"),
    Column("operator_id", String(32), comment="收件操作员ID"),
    Column("operator_name", String(60), comment="收件操作员姓名"),
    Column("received_at", DateTime, nullable=False, comment="收件时间"),
    Column("repo_doc_id", String(64), comment="资料库记录ID（上传并校验一致后填写）"),
    Column("uploaded_at", DateTime, comment="资料库确认时间"),
    # workers claim across projects (the claim index leads with the status); the panel reads by project
    *queue_columns("sx_doc_outbox"),
    Index("ix_sx_doc_outbox_pjxmid", "pjxmid", "doc_type"),
    comment="配建项目资料待上传队列",
)

document_contents = Table(
    "sx_doc_content",
    ext_metadata,
    Column("outbox_id", String(32), primary_key=True, comment="待上传记录ID"),
    Column("content", LargeBinary, nullable=False, comment="文件内容"),
    ForeignKeyConstraint(["outbox_id"], ["sx_doc_outbox.id"], name="fk_sx_doc_content_outbox"),
    comment="配建项目待上传资料内容表",
)

document_rejections = Table(
    "sx_doc_reject",
    ext_metadata,
    Column("id", String(32), primary_key=True, comment="拒收记录ID"),
    Column("pjxmid", String(32), nullable=False, comment="配建项目ID"),
    Column("doc_type", String(10), comment="收件时传入的资料类型代码"),
    Column("file_name", String(200), comment="文件名"),
    Column("file_size", Integer, comment="文件大小（字节）"),
    Column("reason", String(600), nullable=False, comment="未收入上传队列的原因"),
    Column("operator_id", String(32), comment="收件操作员ID"),
    Column("received_at", DateTime, nullable=False, comment="收件时间"),
    Index("ix_sx_doc_reject_pjxmid", "pjxmid", "received_at"),
    comment="配建项目资料拒收记录表（类型、大小、格式不符，未上传）",
)

hukou_jobs = Table(
    "sx_hukou_job",
    ext_metadata,
    Column("job_id", String(32), primary_key=True, comment="作业ID"),
    Column("status", String(10), nullable=False, comment="作业状态（running 进行中 / done 已完成 / cancelled 已取消）"),
    Column("selection_key", String(64), nullable=False, comment="选择条件摘要（SHA-256）"),
    Column("running_key", String(64), comment="进行中时的条件摘要（结束后清空；同一条件只能有一个进行中的作业）"),
    Column("selection_text", String(1000), nullable=False, comment="选择条件（中文说明）"),
    Column("operator_id", String(32), comment="发起人ID"),
    Column("operator_name", String(60), comment="发起人姓名"),
    Column("created_at", DateTime, nullable=False, comment="发起时间"),
    Column("finished_at", DateTime, comment="完成或取消时间"),
    Column("cancelled_by", String(32), comment="取消人ID"),
    Column("applicant_count", Integer, nullable=False, comment="主申请人数"),
    Column("member_count", Integer, nullable=False, comment="清单行数（每户每名当前家庭成员一行）"),
    Column("person_count", Integer, nullable=False, comment="需核查人数（按身份证号去重）"),
    Column("invalid_count", Integer, nullable=False, comment="身份证号无效的清单行数（不查询上游）"),
    Column("unknown_count", Integer, nullable=False, comment="未找到的配租资格证号数"),
    Column("pause_reason", String(400), comment="暂停原因（上游不可用时填写，恢复后清空）"),
    Column("paused_until", DateTime, comment="暂停到何时"),
    CheckConstraint("status in ('running', 'done', 'cancelled')", name="ck_sx_hukou_job_status"),
    UniqueConstraint("running_key", name="uq_sx_hukou_job_running_key"),
    Index("ix_sx_hukou_job_created", "created_at"),
    comment="户籍批量核查作业表",
)

hukou_members = Table(
    "sx_hukou_member",
    ext_metadata,
    Column("id", String(32), primary_key=True, comment="清单行ID"),
    Column("job_id", String(32), nullable=False, comment="作业ID"),
    Column("seq", Integer, nullable=False, comment="清单序号"),
    Column("sqid", String(32), comment="申请ID（公租房申请审批表）"),
    Column("pzzgzh", String(30), comment="配租资格证号"),
    Column("applicant_name", String(60), comment="主申请人姓名"),
    Column("ryid", String(32), comment="成员人员ID"),
    Column("member_name", String(60), comment="成员姓名"),
    Column("relation", String(2), comment="与主申请人关系代码"),
    Column("sfzh", String(18), comment="成员身份证号（有效时为规范写法，可关联核查明细）"),
    Column("note", String(20), comment="清单说明（invalid_id 身份证号无效 / unknown_cert 配租资格证号不存在）"),
    CheckConstraint("note in ('invalid_id', 'unknown_cert')", name="ck_sx_hukou_member_note"),
    Index("ix_sx_hukou_member_job", "job_id", "seq"),
    Index("ix_sx_hukou_member_sfzh", "job_id", "sfzh"),
    comment="户籍批量核查清单表（每户每名当前家庭成员一行）",
)

hukou_items = Table(
    "sx_hukou_item",
    ext_metadata,
    Column("id", String(32), primary_key=True, comment="核查明细ID"),
    Column("job_id", String(32), nullable=False, comment="作业ID"),
    Column("sfzh", String(18), nullable=False, comment="身份证号（规范写法）"),
    Column("xm", String(60), nullable=False, comment="姓名"),
    Column("result", String(10), comment="查询结果（found 有记录 / no_record 无记录）"),
    Column("hjzt", String(10), comment="户籍状态代码（上游原值）"),
    Column("hjzt_label", String(60), comment="户籍状态（正常、死亡、迁出、失踪、注销等）"),
    Column("hjdz", String(300), comment="户籍地址"),
    Column("checked_at", DateTime, comment="核查时间"),
    *queue_columns("sx_hukou_item", leading=("job_id",)),
    UniqueConstraint("job_id", "sfzh", name="uq_sx_hukou_item_job_sfzh"),
    CheckConstraint("result in ('found', 'no_record')", name="ck_sx_hukou_item_result"),
    comment="户籍批量核查明细表（每作业每人一行，兼作工作队列）",
)

gateway_secrets = Table(
    "sx_gateway_secret",
    ext_metadata,
    Column("gateway_key", String(64), primary_key=True, comment="网关与应用的标识（网关地址与 appKey 的摘要）"),
    Column("app_key", String(100), nullable=False, comment="应用 appKey（不是密钥）"),
    Column("request_secret", String(500), nullable=False, comment="请求密钥（AES-GCM 加密，密钥由 appSecret 派生）"),
    Column("request_expires_at", Numeric(16, 3), nullable=False, comment="请求密钥到期时间（Unix 时间戳，秒）"),
    Column("refresh_secret", String(500), nullable=False, comment="刷新密钥（AES-GCM 加密）"),
    Column("refresh_expires_at", Numeric(16, 3), nullable=False, comment="刷新密钥到期时间（Unix 时间戳，秒）"),
    Column("updated_at", DateTime, nullable=False, comment="最近更新时间"),
    Column("updated_by", String(100), comment="最近更新的节点（主机名与进程号）"),
    comment="大数据局一代网关密钥共享表（各节点共用一对请求/刷新密钥，一个节点刷新不致其他节点失效）",
)

EXT_TABLES: tuple[Table, ...] = tuple(ext_metadata.sorted_tables)

# Indexes soar-ext adds to legacy tables (new objects only). (name, table, columns)
LEGACY_INDEXES: tuple[tuple[str, Table, tuple[str, ...]], ...] = (
    ("ix_sx_hfyf_yfzt", inspections, ("yfzt", "pdid")),
    ("ix_sx_zlht_hfpdid", contracts, ("hfpdid", "htzt")),
    # the exchange screens list pairings newest first: ORDER BY pdcgsj DESC, pdid DESC (a backward scan)
    ("ix_sx_hfpd_pdcgsj", exchange_pairings, ("pdcgsj", "pdid")),
    # 选房划拨 candidate filters: 姓名 (exact or prefix) and 顺序号起止 without a year
    ("ix_sx_ryxx_xm", persons, ("xm",)),
    ("ix_sx_yhjg_sxh", lottery_results, ("sxh",)),
)

LEGACY_INDEX_PG_OPS: Mapping[str, Mapping[str, str]] = {"ix_sx_ryxx_xm": {"xm": "varchar_pattern_ops"}}
"""PostgreSQL operator classes of ``LEGACY_INDEXES`` columns (other databases: plain columns).

A name prefix is ``LIKE 'prefix%'``; PostgreSQL serves it from a B-tree only under the C collation
or with a pattern operator class (which serves ``=`` too). Oracle's default binary sort serves it
from a plain index.
"""
