"""sound durations on samples

Revision ID: 5a1c0d7e9b21
Revises: 0db670e0805b
Create Date: 2026-12-10 10:00:00.000000

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "5a1c0d7e9b21"
down_revision: Union[str, Sequence[str], None] = "0db670e0805b"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # Clips imported before stay NULL: the check does not judge a class with a clip of unknown length.
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duration", sa.Float(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_column("duration")
