"""sx gateway secret: the Big Data gen-1 secret pair, shared by every node of one app.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Creates sx_gateway_secret (soar_ext.db.extension.gateway_secrets), used by
soar_ext.gateway_secrets: the gen-1 gateway keeps one request/refresh secret pair per app and a
renewal revokes the previous pair, so nodes that each renewed their own would keep revoking one
another. They keep the pair here instead, encrypted with a key derived from the app secret.
Nothing legacy is touched. The definition is written out here so that this revision never
changes once released; tests/test_migrations.py checks it still matches extension.ext_metadata.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "sx_gateway_secret",
        sa.Column("gateway_key", sa.String(64), nullable=False, comment="网关与应用的标识（网关地址与 appKey 的摘要）"),
        sa.Column("app_key", sa.String(100), nullable=False, comment="应用 appKey（不是密钥）"),
        sa.Column(
            "request_secret", sa.String(500), nullable=False, comment="请求密钥（AES-GCM 加密，密钥由 appSecret 派生）"
        ),
        sa.Column(
            "request_expires_at", sa.Numeric(16, 3), nullable=False, comment="请求密钥到期时间（Unix 时间戳，秒）"
        ),
        sa.Column("refresh_secret", sa.String(500), nullable=False, comment="刷新密钥（AES-GCM 加密）"),
        sa.Column(
            "refresh_expires_at", sa.Numeric(16, 3), nullable=False, comment="刷新密钥到期时间（Unix 时间戳，秒）"
        ),
        sa.Column("updated_at", sa.DateTime(), nullable=False, comment="最近更新时间"),
        sa.Column("updated_by", sa.String(100), nullable=True, comment="最近更新的节点（主机名与进程号）"),
        sa.PrimaryKeyConstraint("gateway_key", name="pk_sx_gateway_secret"),
        comment="大数据局一代网关密钥共享表（各节点共用一对请求/刷新密钥，一个节点刷新不致其他节点失效）",
    )


def downgrade() -> None:
    op.drop_table("sx_gateway_secret")
