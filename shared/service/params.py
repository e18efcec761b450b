"""Query parameters every list endpoint shares, with the bounds the database can hold."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

__all__ = ["MAX_OFFSET", "Offset", "limit_query"]

# Far beyond any real listing, and inside PostgreSQL's BIGINT (a larger OFFSET is a 500, not an empty page).
MAX_OFFSET = 10_000_000

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip", examples=[0])]


def limit_query(default: int, maximum: int) -> object:
    """``limit: Annotated[int, limit_query(10, 100)] = 10`` — page size between 1 and ``maximum``."""
    return Query(ge=1, le=maximum, description=f"Items per page (1–{maximum})", examples=[default])
