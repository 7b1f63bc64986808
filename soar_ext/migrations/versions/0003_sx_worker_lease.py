"""sx worker lease: the lease/heartbeat table of batch workers sharing an upstream quota.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Creates sx_worker_lease (soar_ext.db.extension.worker_leases), used by soar_ext.quota: every
live worker of a quota pool holds a row, renewed by its heartbeat, with the share of the
pool's calls/second and concurrency it uses. Nothing legacy is touched. The definition is
written out here so that this revision never changes once released; tests/test_migrations.py
checks it still matches extension.ext_metadata.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "sx_worker_lease",
        sa.Column("worker_id", sa.String(32), nullable=False, comment="工作进程ID"),
        sa.Column(
            "pool",
            sa.String(60),
            nullable=False,
            comment="共享配额名称（同一上游配额的进程共用，如 bigdata.hukou）",
        ),
        sa.Column("node", sa.String(100), nullable=True, comment="所在节点（主机名）"),
        sa.Column("pid", sa.Integer(), nullable=True, comment="进程号"),
        sa.Column("label", sa.String(200), nullable=True, comment="用途说明"),
        sa.Column("rate_share", sa.Numeric(12, 3), nullable=False, comment="本进程占用的调用速率份额（次/秒）"),
        sa.Column("conc_share", sa.Integer(), nullable=False, comment="本进程占用的并发调用份额"),
        sa.Column("live_workers", sa.Integer(), nullable=False, comment="最近一次心跳时同一配额的存活进程数"),
        sa.Column("started_at", sa.DateTime(), nullable=False, comment="加入时间"),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False, comment="最近心跳时间"),
        sa.Column("expires_at", sa.DateTime(), nullable=False, comment="租约到期时间（过期未续视为进程已退出）"),
        sa.PrimaryKeyConstraint("worker_id", name="pk_sx_worker_lease"),
        comment="共享配额工作进程租约表",
    )
    op.create_index("ix_sx_worker_lease_pool", "sx_worker_lease", ["pool", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_sx_worker_lease_pool", table_name="sx_worker_lease")
    op.drop_table("sx_worker_lease")
