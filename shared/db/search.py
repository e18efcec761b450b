"""Text filters of list endpoints, with LIKE's wildcards taken literally.

A user's search term is text, not a pattern: ``search=%`` or ``search=_`` must match names holding ``%`` or
``_``, not every name. Every search filter builds its clause here, so no query pastes a term into a pattern.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.sql.elements import ColumnElement

__all__ = ["LIKE_ESCAPE", "contains", "escape_like", "starts_with"]

LIKE_ESCAPE = "\\"


def escape_like(text: str) -> str:
    """``text`` with ``\\``, ``%`` and ``_`` escaped for a ``LIKE … ESCAPE '\\'`` pattern."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def contains(column: Any, text: str, *, ignore_case: bool = False) -> ColumnElement[bool]:
    """``column`` holds ``text`` literally (case-insensitively with ``ignore_case``)."""
    pattern = f"%{escape_like(text)}%"
    matched: ColumnElement[bool] = (
        column.ilike(pattern, escape=LIKE_ESCAPE) if ignore_case else column.like(pattern, escape=LIKE_ESCAPE)
    )
    return matched


def starts_with(column: Any, prefix: str) -> ColumnElement[bool]:
    """``column`` begins with ``prefix`` literally."""
    matched: ColumnElement[bool] = column.like(f"{escape_like(prefix)}%", escape=LIKE_ESCAPE)
    return matched
