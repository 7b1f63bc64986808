"""sx verification: Big Data verifications (核查) and their per-category snapshots.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Creates sx_verification (one row per verification: person, operator, purpose, budget, times,
categories still to re-run) and sx_verification_snapshot (one row per category and query
attempt: state, normalised data, digest of the raw payload, fetch time). New tables only;
nothing legacy is touched. The definitions are written out here (not imported from
extension.py) so that this revision never changes once released; tests/test_migrations.py
checks it still matches extension.ext_metadata.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "sx_verification",
        sa.Column("id", sa.String(32), nullable=False, comment="核查ID"),
        sa.Column("ryid", sa.String(32), nullable=False, comment="人员ID（人员信息表）"),
        sa.Column("sqid", sa.String(32), nullable=True, comment="业务办结的申请ID"),
        sa.Column("subject_masked", sa.String(18), nullable=True, comment="核查对象身份证号（脱敏）"),
        sa.Column(
            "subject_hash", sa.String(64), nullable=True, comment="核查对象身份证号摘要（HMAC-SHA256，同审计表）"
        ),
        sa.Column("purpose", sa.String(600), nullable=False, comment="查询事由"),
        sa.Column("operator_id", sa.String(32), nullable=True, comment="发起核查的操作员ID"),
        sa.Column("operator_name", sa.String(60), nullable=True, comment="发起核查的操作员姓名"),
        sa.Column("run_mode", sa.String(10), nullable=False, comment="插件模式（on 启用 / shadow 试运行）"),
        sa.Column("generation", sa.Integer(), nullable=False, comment="大数据局网关代次（1 一代 / 2 二代）"),
        sa.Column("budget_seconds", sa.Numeric(6, 2), nullable=False, comment="核查时限（秒）"),
        sa.Column("started_at", sa.DateTime(), nullable=False, comment="开始时间"),
        sa.Column("finished_at", sa.DateTime(), nullable=False, comment="最近一次查询结束时间"),
        sa.Column("pending_count", sa.Integer(), nullable=False, comment="查询失败或超时、可重新查询的类别数"),
        sa.PrimaryKeyConstraint("id", name="pk_sx_verification"),
        comment="大数据核查记录表",
    )
    op.create_index("ix_sx_verification_ryid", "sx_verification", ["ryid", "started_at"])

    op.create_table(
        "sx_verification_snapshot",
        sa.Column("id", sa.String(32), nullable=False, comment="快照ID"),
        sa.Column("verification_id", sa.String(32), nullable=False, comment="核查ID"),
        sa.Column("category", sa.String(40), nullable=False, comment="核查类别代码（如 vehicles 车辆）"),
        sa.Column("attempt", sa.Integer(), nullable=False, comment="查询序号（1 首次查询，2 起为重新查询）"),
        sa.Column(
            "state",
            sa.String(12),
            nullable=False,
            comment="结果状态（found 正常返回 / no_record 无记录 / error 查询失败 / timeout 超时）",
        ),
        sa.Column("record_count", sa.Integer(), nullable=True, comment="返回记录条数"),
        sa.Column(
            "records_json", sa.Text(), nullable=True, comment="规范化数据（JSON，中文字段名；查询失败或超时为空）"
        ),
        sa.Column("raw_digest", sa.String(64), nullable=True, comment="原始返回数据摘要（SHA-256）"),
        sa.Column("interface_id", sa.String(60), nullable=True, comment="大数据局接口ID"),
        sa.Column("reason", sa.String(600), nullable=True, comment="查询失败或超时的原因（中文，已脱敏）"),
        sa.Column("duration_ms", sa.Integer(), nullable=True, comment="查询耗时（毫秒）"),
        sa.Column("operator_id", sa.String(32), nullable=True, comment="本次查询的操作员ID"),
        sa.Column("fetched_at", sa.DateTime(), nullable=False, comment="获取时间"),
        sa.PrimaryKeyConstraint("id", name="pk_sx_verification_snapshot"),
        sa.ForeignKeyConstraint(["verification_id"], ["sx_verification.id"], name="fk_sx_verif_snap_verif"),
        sa.UniqueConstraint("verification_id", "category", "attempt", name="uq_sx_verif_snap_attempt"),
        sa.CheckConstraint("state in ('found', 'no_record', 'error', 'timeout')", name="ck_sx_verif_snap_state"),
        comment="大数据核查类别快照表（每类别每次查询一行）",
    )


def downgrade() -> None:
    op.drop_table("sx_verification_snapshot")
    op.drop_index("ix_sx_verification_ryid", table_name="sx_verification")
    op.drop_table("sx_verification")
