"""service leases name their holder

Revision ID: 60373fa39d24
Revises: eb663ef95b32
Create Date: 2026-12-04 00:07:43.776577

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "60373fa39d24"
down_revision: Union[str, Sequence[str], None] = "eb663ef95b32"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema: the lease of the shared lease module (holder + expiry); lease_until keeps its values."""
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_holder", sa.String(length=120), nullable=True))
        batch_op.alter_column("lease_until", new_column_name="lease_expires_at")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.alter_column("lease_expires_at", new_column_name="lease_until")
        batch_op.drop_column("lease_holder")
