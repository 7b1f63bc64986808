"""sx base: audit log, plugin decisions, deposit-waiver decisions; indexes on legacy tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Creates the three sx_ tables of soar_ext.db.extension and the ix_sx_ indexes soar-ext adds to
legacy tables (LEGACY_INDEXES). Nothing legacy is altered. The definitions are written out
here (not imported from extension.py) so that this revision never changes once released;
tests/test_migrations.py checks it still matches extension.ext_metadata.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# (name, legacy table, columns) — keep in step with extension.LEGACY_INDEXES
LEGACY_INDEXES = (
    ("ix_sx_hfyf_yfzt", "tpg_hfyf", ["yfzt", "pdid"]),
    ("ix_sx_zlht_hfpdid", "tpg_zlht", ["hfpdid", "htzt"]),
    ("ix_sx_hfpd_pdcgsj", "tpg_hfpd", ["pdcgsj", "pdid"]),
)


def upgrade() -> None:
    op.create_table(
        "sx_audit_log",
        sa.Column("id", sa.String(32), nullable=False, comment="审计记录ID"),
        sa.Column("action", sa.String(60), nullable=False, comment="操作类型（如 bigdata.query、export.excel）"),
        sa.Column("operator_id", sa.String(32), nullable=True, comment="操作员ID"),
        sa.Column("operator_name", sa.String(60), nullable=True, comment="操作员姓名"),
        sa.Column("purpose", sa.String(200), nullable=True, comment="查询或操作事由"),
        sa.Column("subject_masked", sa.String(18), nullable=True, comment="查询对象身份证号（脱敏）"),
        sa.Column(
            "subject_hash", sa.String(64), nullable=True, comment="查询对象身份证号摘要（HMAC-SHA256，密钥另行保管）"
        ),
        sa.Column("interfaces", sa.String(1000), nullable=True, comment="涉及的接口或数据类别"),
        sa.Column("result_status", sa.String(20), nullable=False, comment="结果状态"),
        sa.Column("detail", sa.Text(), nullable=True, comment="详细信息（JSON，不含完整身份证号）"),
        sa.Column("created_at", sa.DateTime(), nullable=False, comment="记录时间"),
        sa.PrimaryKeyConstraint("id", name="pk_sx_audit_log"),
        comment="soar-ext 个人信息访问审计表",
    )
    op.create_index("ix_sx_audit_log_created_at", "sx_audit_log", ["created_at"])
    op.create_index("ix_sx_audit_log_subject_hash", "sx_audit_log", ["subject_hash"])

    op.create_table(
        "sx_plugin_decision",
        sa.Column("id", sa.String(32), nullable=False, comment="决定记录ID"),
        sa.Column("plugin", sa.String(60), nullable=False, comment="插件名称"),
        sa.Column("hook", sa.String(60), nullable=False, comment="扩展点名称"),
        sa.Column("subject_key", sa.String(100), nullable=True, comment="业务主键（如合同ID）"),
        sa.Column("run_mode", sa.String(10), nullable=False, comment="插件模式（on 启用 / shadow 试运行）"),
        sa.Column("verdict", sa.String(20), nullable=False, comment="决定（allow 放行 / block 拦截 / error 出错）"),
        sa.Column("enforced", sa.Numeric(1, 0), nullable=False, comment="是否已执行（1是 0否，试运行模式为0）"),
        sa.Column("reason", sa.String(1000), nullable=True, comment="原因说明"),
        sa.Column("operator_id", sa.String(32), nullable=True, comment="操作员ID"),
        sa.Column("created_at", sa.DateTime(), nullable=False, comment="记录时间"),
        sa.PrimaryKeyConstraint("id", name="pk_sx_plugin_decision"),
        sa.CheckConstraint("enforced in (0, 1)", name="ck_sx_plugin_decision_enforced"),
        comment="soar-ext 插件决定记录表（含试运行记录）",
    )
    op.create_index("ix_sx_plugin_decision_subject", "sx_plugin_decision", ["subject_key"])

    op.create_table(
        "sx_deposit_decision",
        sa.Column("id", sa.String(32), nullable=False, comment="减免决定ID"),
        sa.Column("htid", sa.String(32), nullable=False, comment="合同ID"),
        sa.Column("jtid", sa.String(32), nullable=False, comment="家庭ID"),
        sa.Column("pzlx", sa.String(2), nullable=False, comment="配租类型代码"),
        sa.Column("members", sa.Text(), nullable=False, comment="查询成员及分数（JSON，身份证号脱敏）"),
        sa.Column("threshold", sa.Integer(), nullable=False, comment="减免分数线（高于此分减免）"),
        sa.Column("max_score", sa.Integer(), nullable=True, comment="成员最高钱江分"),
        sa.Column("decision", sa.String(10), nullable=False, comment="决定（waived 减免 / required 须缴）"),
        sa.Column("needs_recheck", sa.Numeric(1, 0), nullable=False, comment="是否待复核（1是 0否）"),
        sa.Column("run_mode", sa.String(10), nullable=False, comment="插件模式（on / shadow）"),
        sa.Column("enforced", sa.Numeric(1, 0), nullable=False, comment="是否已写入合同押金（1是 0否）"),
        sa.Column("original_deposit", sa.Numeric(10, 2), nullable=True, comment="原押金（元）"),
        sa.Column("message", sa.String(600), nullable=True, comment="提示信息"),
        sa.Column("operator_id", sa.String(32), nullable=True, comment="操作员ID"),
        sa.Column("decided_at", sa.DateTime(), nullable=False, comment="首次决定时间"),
        sa.Column("updated_at", sa.DateTime(), nullable=False, comment="最近更新时间"),
        sa.PrimaryKeyConstraint("id", name="pk_sx_deposit_decision"),
        sa.UniqueConstraint("htid", name="uq_sx_deposit_decision_htid"),
        sa.CheckConstraint("needs_recheck in (0, 1)", name="ck_sx_deposit_decision_recheck"),
        sa.CheckConstraint("enforced in (0, 1)", name="ck_sx_deposit_decision_enf"),
        comment="钱江分押金减免决定表",
    )
    op.create_index("ix_sx_deposit_decision_recheck", "sx_deposit_decision", ["needs_recheck"])

    for name, table, columns in LEGACY_INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(LEGACY_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_sx_deposit_decision_recheck", table_name="sx_deposit_decision")
    op.drop_table("sx_deposit_decision")
    op.drop_index("ix_sx_plugin_decision_subject", table_name="sx_plugin_decision")
    op.drop_table("sx_plugin_decision")
    op.drop_index("ix_sx_audit_log_subject_hash", table_name="sx_audit_log")
    op.drop_index("ix_sx_audit_log_created_at", table_name="sx_audit_log")
    op.drop_table("sx_audit_log")
