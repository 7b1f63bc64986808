"""sx allocation: 调房划拨 applicant↔house links and their change log; indexes for the 选房 filters.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02

Creates sx_alloc_link (one-to-one links, enforced by unique constraints within a batch and across
open batches), sx_alloc_change (who changed which link when, before and after) and two ix_sx_
indexes on legacy tables for the 选房划拨 candidate filters (姓名 exact/prefix, 顺序号 without a
year). Nothing legacy is altered. Definitions are written out here so the revision never changes
once released; tests/test_migrations.py checks it still matches extension.ext_metadata.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

# (name, legacy table, columns, PostgreSQL operator classes) — keep in step with extension.LEGACY_INDEXES
LEGACY_INDEXES = (
    ("ix_sx_ryxx_xm", "tpg_ryxx", ["xm"], {"xm": "varchar_pattern_ops"}),
    ("ix_sx_yhjg_sxh", "tpg_yhjg", ["sxh"], {}),
)


def upgrade() -> None:
    op.create_table(
        "sx_alloc_link",
        sa.Column("id", sa.String(32), nullable=False, comment="关联记录ID"),
        sa.Column("pcid", sa.String(32), nullable=False, comment="划拨批次ID"),
        sa.Column("sqid", sa.String(32), nullable=False, comment="申请ID（调房申请人）"),
        sa.Column("fyid", sa.String(32), nullable=False, comment="房源ID（划拨房源）"),
        sa.Column("open_sqid", sa.String(32), nullable=True, comment="批次办理中时的申请ID（批次办结或撤销后清空）"),
        sa.Column("open_fyid", sa.String(32), nullable=True, comment="批次办理中时的房源ID（批次办结或撤销后清空）"),
        sa.Column("source", sa.String(10), nullable=False, comment="关联方式（manual 手工关联 / suggested 采纳推荐）"),
        sa.Column("operator_id", sa.String(32), nullable=True, comment="操作员ID"),
        sa.Column("operator_name", sa.String(60), nullable=True, comment="操作员姓名"),
        sa.Column("linked_at", sa.DateTime(), nullable=False, comment="关联时间"),
        sa.PrimaryKeyConstraint("id", name="pk_sx_alloc_link"),
        sa.UniqueConstraint("pcid", "sqid", name="uq_sx_alloc_link_pcid_sqid"),
        sa.UniqueConstraint("pcid", "fyid", name="uq_sx_alloc_link_pcid_fyid"),
        sa.UniqueConstraint("open_sqid", name="uq_sx_alloc_link_open_sqid"),
        sa.UniqueConstraint("open_fyid", name="uq_sx_alloc_link_open_fyid"),
        comment="调房划拨申请人与房源一对一关联表",
    )

    op.create_table(
        "sx_alloc_change",
        sa.Column("id", sa.String(32), nullable=False, comment="变更记录ID"),
        sa.Column("pcid", sa.String(32), nullable=False, comment="划拨批次ID"),
        sa.Column("sqid", sa.String(32), nullable=False, comment="申请ID"),
        sa.Column(
            "action",
            sa.String(10),
            nullable=False,
            comment="变更类型（link 关联 / unlink 解除关联 / relink 改为关联 / drop 移出批次清除 / add 添加）",
        ),
        sa.Column("fyid_before", sa.String(32), nullable=True, comment="变更前房源ID"),
        sa.Column("fyid_after", sa.String(32), nullable=True, comment="变更后房源ID"),
        sa.Column("reason", sa.String(200), nullable=True, comment="说明"),
        sa.Column("operator_id", sa.String(32), nullable=True, comment="操作员ID"),
        sa.Column("operator_name", sa.String(60), nullable=True, comment="操作员姓名"),
        sa.Column("changed_at", sa.DateTime(), nullable=False, comment="变更时间"),
        sa.PrimaryKeyConstraint("id", name="pk_sx_alloc_change"),
        comment="房源划拨关联变更记录表",
    )
    op.create_index("ix_sx_alloc_change_pcid", "sx_alloc_change", ["pcid", "changed_at"])

    for name, table, columns, pg_ops in LEGACY_INDEXES:
        op.create_index(name, table, columns, postgresql_ops=pg_ops)


def downgrade() -> None:
    for name, table, _columns, _pg_ops in reversed(LEGACY_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_sx_alloc_change_pcid", table_name="sx_alloc_change")
    op.drop_table("sx_alloc_change")
    op.drop_table("sx_alloc_link")
