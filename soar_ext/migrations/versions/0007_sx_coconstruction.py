"""sx co-construction: 配建项目 surveying link and figures; the received-document outbox.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Creates sx_pjxm_survey (one row per co-construction project: the linked surveyed project or
the candidates awaiting 确认关联, the 预测面积 / 实测面积 / 房源数量 figures with their source
and sync time, the discrepancy flag), sx_doc_outbox (received documents waiting for the unified
repository, a durable work queue), sx_doc_content (their bytes) and sx_doc_reject (documents
refused at 收件). Nothing legacy is altered. Definitions are written out here so the revision
never changes once released; tests/test_migrations.py checks it still matches
extension.ext_metadata.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "sx_pjxm_survey",
        sa.Column("pjxmid", sa.String(32), nullable=False, comment="配建项目ID"),
        sa.Column(
            "link_state",
            sa.String(12),
            nullable=False,
            comment="测绘关联状态（linked 已关联 / pending 待确认 / not_found 未找到 / unavailable 测绘服务不可用）",
        ),
        sa.Column(
            "match_kind",
            sa.String(12),
            nullable=True,
            comment="关联方式（exact 完全一致 / normalised 规范化后一致 / confirmed 人工确认）",
        ),
        sa.Column("xmbh", sa.String(30), nullable=True, comment="关联时的配建项目编号"),
        sa.Column("xmmc", sa.String(200), nullable=True, comment="关联时的配建项目名称"),
        sa.Column("chxmbh", sa.String(30), nullable=True, comment="测绘项目编号"),
        sa.Column("chxmmc", sa.String(200), nullable=True, comment="测绘项目名称"),
        sa.Column(
            "candidates_json", sa.Text(), nullable=True, comment="待确认的候选测绘项目（JSON：编号、名称、原因）"
        ),
        sa.Column("ycjzmj", sa.Numeric(14, 2), nullable=True, comment="预测面积合计（平方米）"),
        sa.Column("scjzmj", sa.Numeric(14, 2), nullable=True, comment="实测面积合计（平方米，仅已实测房屋）"),
        sa.Column("fyts", sa.Integer(), nullable=True, comment="房源数量（测绘房屋套数）"),
        sa.Column("measured_count", sa.Integer(), nullable=True, comment="已实测房屋套数"),
        sa.Column(
            "deviation_pct", sa.Numeric(9, 2), nullable=True, comment="实测与预测面积偏差（百分比，按已实测房屋计）"
        ),
        sa.Column("flagged", sa.Integer(), nullable=True, comment="面积偏差超过设定比例（1 是 / 0 否）"),
        sa.Column(
            "source", sa.String(10), nullable=True, comment="数据来源（service 测绘服务 / local SOAR本地测绘数据）"
        ),
        sa.Column("source_date", sa.DateTime(), nullable=True, comment="本地测绘数据的更新时间（来源为 local 时）"),
        sa.Column("synced_at", sa.DateTime(), nullable=True, comment="面积与套数的同步时间"),
        sa.Column("last_error", sa.String(600), nullable=True, comment="最近一次同步失败的原因"),
        sa.Column("tried_at", sa.DateTime(), nullable=True, comment="最近一次同步时间（无论成败）"),
        sa.Column("confirmed_by", sa.String(32), nullable=True, comment="确认关联的操作员ID"),
        sa.Column("confirmed_name", sa.String(60), nullable=True, comment="确认关联的操作员姓名"),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True, comment="确认关联时间"),
        sa.PrimaryKeyConstraint("pjxmid", name="pk_sx_pjxm_survey"),
        sa.CheckConstraint("flagged in (0, 1)", name="ck_sx_pjxm_survey_flagged"),
        sa.CheckConstraint(
            "link_state in ('linked', 'pending', 'not_found', 'unavailable')", name="ck_sx_pjxm_survey_state"
        ),
        comment="配建项目测绘关联及面积套数表",
    )

    op.create_table(
        "sx_doc_outbox",
        sa.Column("id", sa.String(32), nullable=False, comment="待上传记录ID"),
        sa.Column("pjxmid", sa.String(32), nullable=False, comment="配建项目ID"),
        sa.Column("xmbh", sa.String(30), nullable=False, comment="收件时的配建项目编号（资料库业务关键字）"),
        sa.Column(
            "doc_type",
            sa.String(2),
            nullable=False,
            comment="资料类型代码（01 配建协议书 … 04 解除限制销售房源联系单）",
        ),
        sa.Column("file_name", sa.String(200), nullable=False, comment="文件名"),
        sa.Column("file_size", sa.Integer(), nullable=False, comment="文件大小（字节）"),
        sa.Column("sha256", sa.String(64), nullable=False, comment="文件SHA-256"),
        sa.Column("operator_id", sa.String(32), nullable=True, comment="收件操作员ID"),
        sa.Column("operator_name", sa.String(60), nullable=True, comment="收件操作员姓名"),
        sa.Column("received_at", sa.DateTime(), nullable=False, comment="收件时间"),
        sa.Column("repo_doc_id", sa.String(64), nullable=True, comment="资料库记录ID（上传并校验一致后填写）"),
        sa.Column("uploaded_at", sa.DateTime(), nullable=True, comment="资料库确认时间"),
        sa.Column(
            "wq_status",
            sa.String(10),
            nullable=False,
            comment="队列状态（pending 待处理 / leased 处理中 / done 已完成 / failed 失败 / cancelled 已取消）",
        ),
        sa.Column("wq_attempts", sa.Integer(), nullable=False, comment="已尝试次数（每次领取计一次）"),
        sa.Column("wq_due_at", sa.DateTime(), nullable=False, comment="待处理：最早处理时间；处理中：租约到期时间"),
        sa.Column("wq_owner", sa.String(64), nullable=True, comment="持有租约的工作进程ID"),
        sa.Column(
            "wq_lease_id", sa.String(32), nullable=True, comment="租约令牌（每次领取更换，防止过期进程覆盖结果）"
        ),
        sa.Column("wq_error", sa.String(1000), nullable=True, comment="最近一次失败原因"),
        sa.Column("wq_created_at", sa.DateTime(), nullable=False, comment="入队时间"),
        sa.Column("wq_updated_at", sa.DateTime(), nullable=False, comment="队列状态更新时间"),
        sa.Column("wq_done_at", sa.DateTime(), nullable=True, comment="完成、终止失败或取消的时间"),
        sa.PrimaryKeyConstraint("id", name="pk_sx_doc_outbox"),
        sa.CheckConstraint(
            "wq_status in ('pending', 'leased', 'done', 'failed', 'cancelled')", name="ck_sx_doc_outbox_wq_status"
        ),
        comment="配建项目资料待上传队列",
    )
    op.create_index("ix_sx_doc_outbox_wq_due", "sx_doc_outbox", ["wq_status", "wq_due_at"])
    op.create_index("ix_sx_doc_outbox_pjxmid", "sx_doc_outbox", ["pjxmid", "doc_type"])

    op.create_table(
        "sx_doc_content",
        sa.Column("outbox_id", sa.String(32), nullable=False, comment="待上传记录ID"),
        sa.Column("content", sa.LargeBinary(), nullable=False, comment="文件内容"),
        sa.PrimaryKeyConstraint("outbox_id", name="pk_sx_doc_content"),
        sa.ForeignKeyConstraint(["outbox_id"], ["sx_doc_outbox.id"], name="fk_sx_doc_content_outbox"),
        comment="配建项目待上传资料内容表",
    )

    op.create_table(
        "sx_doc_reject",
        sa.Column("id", sa.String(32), nullable=False, comment="拒收记录ID"),
        sa.Column("pjxmid", sa.String(32), nullable=False, comment="配建项目ID"),
        sa.Column("doc_type", sa.String(10), nullable=True, comment="收件时传入的资料类型代码"),
        sa.Column("file_name", sa.String(200), nullable=True, comment="文件名"),
        sa.Column("file_size", sa.Integer(), nullable=True, comment="文件大小（字节）"),
        sa.Column("reason", sa.String(600), nullable=False, comment="未收入上传队列的原因"),
        sa.Column("operator_id", sa.String(32), nullable=True, comment="收件操作员ID"),
        sa.Column("received_at", sa.DateTime(), nullable=False, comment="收件时间"),
        sa.PrimaryKeyConstraint("id", name="pk_sx_doc_reject"),
        comment="配建项目资料拒收记录表（类型、大小、格式不符，未上传）",
    )
    op.create_index("ix_sx_doc_reject_pjxmid", "sx_doc_reject", ["pjxmid", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_sx_doc_reject_pjxmid", table_name="sx_doc_reject")
    op.drop_table("sx_doc_reject")
    op.drop_table("sx_doc_content")
    op.drop_index("ix_sx_doc_outbox_pjxmid", table_name="sx_doc_outbox")
    op.drop_index("ix_sx_doc_outbox_wq_due", table_name="sx_doc_outbox")
    op.drop_table("sx_doc_outbox")
    op.drop_table("sx_pjxm_survey")
