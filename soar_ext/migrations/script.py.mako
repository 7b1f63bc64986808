"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Additive only: create new sx_ objects (or new nullable columns); never drop, rename or alter a
legacy object. Name every index and constraint explicitly. downgrade() drops exactly what
upgrade() created. After adding a revision, regenerate sql/oracle/: python -m soar_ext.db.migrate sql/oracle
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
% if imports:
${imports}
% endif

revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | None = ${repr(branch_labels)}
depends_on: str | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
