"""The outbox and inbox tables, added to each service's own metadata (and so to its migrations)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from shared.db.base import UTCDateTime

__all__ = ["MessagingTables", "messaging_tables"]


@dataclass(frozen=True)
class MessagingTables:
    outbox: sa.Table
    inbox: sa.Table


def messaging_tables(metadata: sa.MetaData) -> MessagingTables:
    """Define ``outbox`` and ``inbox`` in ``metadata``.

    ``outbox`` holds events written in the same transaction as the change they announce, until the
    relay has published them. ``inbox`` remembers which handler already applied which event, so a
    redelivered event has no second effect.
    """
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Index("ix_outbox_pending", "published_at", "id"),
    )
    inbox = sa.Table(
        "inbox",
        metadata,
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("handler", sa.String(200), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=False),
    )
    return MessagingTables(outbox=outbox, inbox=inbox)
