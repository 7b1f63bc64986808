"""sx audit outcome: write-ahead audit entries (intent, then outcome) in sx_audit_log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Adds two nullable columns to sx_audit_log and one index: ``state`` (``intent`` while the query
is in flight, ``done`` once its outcome is written) and ``finished_at`` (when the outcome was
written). Entries written before this revision keep NULL in both. Nothing else changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "sx_audit_log",
        sa.Column("state", sa.String(10), nullable=True, comment="记录状态（intent 已发起未完成 / done 已完成）"),
    )
    op.add_column("sx_audit_log", sa.Column("finished_at", sa.DateTime(), nullable=True, comment="完成时间"))
    op.create_index("ix_sx_audit_log_state", "sx_audit_log", ["state", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_sx_audit_log_state", table_name="sx_audit_log")
    op.drop_column("sx_audit_log", "finished_at")
    op.drop_column("sx_audit_log", "state")
