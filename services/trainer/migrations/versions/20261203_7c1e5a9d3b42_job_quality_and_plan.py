"""training jobs: the quality gate's record and the engine's plan

Revision ID: 7c1e5a9d3b42
Revises: 24f4d38c22f7
Create Date: 2026-12-03 23:50:00

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "7c1e5a9d3b42"
down_revision: Union[str, Sequence[str], None] = "24f4d38c22f7"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.add_column(sa.Column("quality", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("plan", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_column("plan")
        batch.drop_column("quality")
