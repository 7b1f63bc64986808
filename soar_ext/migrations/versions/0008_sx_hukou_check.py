"""sx hukou check: batch household-registration (户籍) check jobs, their list rows and work items.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Creates sx_hukou_job (who started which selection when, its status and counts; at most one running
job per selection through a unique key that is cleared when the job ends), sx_hukou_member (the
list: one row per family and current member, with the 身份证号无效 / unknown 配租资格证号 notes) and
sx_hukou_item (one row per person and job, the batch workers' durable work queue with the result:
status code and label, address, checked time, attempts, failure reason). Nothing legacy is
altered. Definitions are written out here so the revision never changes once released;
tests/test_migrations.py checks it still matches extension.ext_metadata.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "sx_hukou_job",
        sa.Column("job_id", sa.String(32), nullable=False, comment="作业ID"),
        sa.Column(
            "status",
            sa.String(10),
            nullable=False,
            comment="作业状态（running 进行中 / done 已完成 / cancelled 已取消）",
        ),
        sa.Column("selection_key", sa.String(64), nullable=False, comment="选择条件摘要（SHA-256）"),
        sa.Column(
            "running_key",
            sa.String(64),
            nullable=True,
            comment="进行中时的条件摘要（结束后清空；同一条件只能有一个进行中的作业）",
        ),
        sa.Column("selection_text", sa.String(1000), nullable=False, comment="选择条件（中文说明）"),
        sa.Column("operator_id", sa.String(32), nullable=True, comment="发起人ID"),
        sa.Column("operator_name", sa.String(60), nullable=True, comment="发起人姓名"),
        sa.Column("created_at", sa.DateTime(), nullable=False, comment="发起时间"),
        sa.Column("finished_at", sa.DateTime(), nullable=True, comment="完成或取消时间"),
        sa.Column("cancelled_by", sa.String(32), nullable=True, comment="取消人ID"),
        sa.Column("applicant_count", sa.Integer(), nullable=False, comment="主申请人数"),
        sa.Column("member_count", sa.Integer(), nullable=False, comment="清单行数（每户每名当前家庭成员一行）"),
        sa.Column("person_count", sa.Integer(), nullable=False, comment="需核查人数（按身份证号去重）"),
        sa.Column("invalid_count", sa.Integer(), nullable=False, comment="身份证号无效的清单行数（不查询上游）"),
        sa.Column("unknown_count", sa.Integer(), nullable=False, comment="未找到的配租资格证号数"),
        sa.Column("pause_reason", sa.String(400), nullable=True, comment="暂停原因（上游不可用时填写，恢复后清空）"),
        sa.Column("paused_until", sa.DateTime(), nullable=True, comment="暂停到何时"),
        sa.PrimaryKeyConstraint("job_id", name="pk_sx_hukou_job"),
        sa.CheckConstraint("status in ('running', 'done', 'cancelled')", name="ck_sx_hukou_job_status"),
        sa.UniqueConstraint("running_key", name="uq_sx_hukou_job_running_key"),
        comment="户籍批量核查作业表",
    )
    op.create_index("ix_sx_hukou_job_created", "sx_hukou_job", ["created_at"])

    op.create_table(
        "sx_hukou_member",
        sa.Column("id", sa.String(32), nullable=False, comment="清单行ID"),
        sa.Column("job_id", sa.String(32), nullable=False, comment="作业ID"),
        sa.Column("seq", sa.Integer(), nullable=False, comment="清单序号"),
        sa.Column("sqid", sa.String(32), nullable=True, comment="申请ID（公租房申请审批表）"),
        sa.Column("pzzgzh", sa.String(30), nullable=True, comment="配租资格证号"),
        sa.Column("applicant_name", sa.String(60), nullable=True, comment="主申请人姓名"),
        sa.Column("ryid", sa.String(32), nullable=True, comment="成员人员ID"),
        sa.Column("member_name", sa.String(60), nullable=True, comment="成员姓名"),
        sa.Column("relation", sa.String(2), nullable=True, comment="与主申请人关系代码"),
        sa.Column("sfzh", sa.String(18), nullable=True, comment="成员身份证号（有效时为规范写法，可关联核查明细）"),
        sa.Column(
            "note",
            sa.String(20),
            nullable=True,
            comment="清单说明（invalid_id 身份证号无效 / unknown_cert 配租资格证号不存在）",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sx_hukou_member"),
        sa.CheckConstraint("note in ('invalid_id', 'unknown_cert')", name="ck_sx_hukou_member_note"),
        comment="户籍批量核查清单表（每户每名当前家庭成员一行）",
    )
    op.create_index("ix_sx_hukou_member_job", "sx_hukou_member", ["job_id", "seq"])
    op.create_index("ix_sx_hukou_member_sfzh", "sx_hukou_member", ["job_id", "sfzh"])

    op.create_table(
        "sx_hukou_item",
        sa.Column("id", sa.String(32), nullable=False, comment="核查明细ID"),
        sa.Column("job_id", sa.String(32), nullable=False, comment="作业ID"),
        sa.Column("sfzh", sa.String(18), nullable=False, comment="身份证号（规范写法）"),
        sa.Column("xm", sa.String(60), nullable=False, comment="姓名"),
        sa.Column("result", sa.String(10), nullable=True, comment="查询结果（found 有记录 / no_record 无记录）"),
        sa.Column("hjzt", sa.String(10), nullable=True, comment="户籍状态代码（上游原值）"),
        sa.Column("hjzt_label", sa.String(60), nullable=True, comment="户籍状态（正常、死亡、迁出、失踪、注销等）"),
        sa.Column("hjdz", sa.String(300), nullable=True, comment="户籍地址"),
        sa.Column("checked_at", sa.DateTime(), nullable=True, comment="核查时间"),
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
        sa.PrimaryKeyConstraint("id", name="pk_sx_hukou_item"),
        sa.CheckConstraint(
            "wq_status in ('pending', 'leased', 'done', 'failed', 'cancelled')", name="ck_sx_hukou_item_wq_status"
        ),
        sa.UniqueConstraint("job_id", "sfzh", name="uq_sx_hukou_item_job_sfzh"),
        sa.CheckConstraint("result in ('found', 'no_record')", name="ck_sx_hukou_item_result"),
        comment="户籍批量核查明细表（每作业每人一行，兼作工作队列）",
    )
    op.create_index("ix_sx_hukou_item_wq_due", "sx_hukou_item", ["job_id", "wq_status", "wq_due_at"])


def downgrade() -> None:
    op.drop_index("ix_sx_hukou_item_wq_due", table_name="sx_hukou_item")
    op.drop_table("sx_hukou_item")
    op.drop_index("ix_sx_hukou_member_sfzh", table_name="sx_hukou_member")
    op.drop_index("ix_sx_hukou_member_job", table_name="sx_hukou_member")
    op.drop_table("sx_hukou_member")
    op.drop_index("ix_sx_hukou_job_created", table_name="sx_hukou_job")
    op.drop_table("sx_hukou_job")
