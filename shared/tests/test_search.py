"""Search terms are text: LIKE's wildcards in them match only themselves (SQLite here; PostgreSQL in the
services' tests)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shared.db.search import contains, escape_like, starts_with

NAMES = ["a_b", "axb", "100%", "1000", "back\\slash", "backslash", "Upper_Case"]


@pytest.fixture(scope="module")
def table():
    engine = sa.create_engine("sqlite://")
    names = sa.Table("names", sa.MetaData(), sa.Column("name", sa.String))
    names.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(names.insert(), [{"name": n} for n in NAMES])
    yield engine, names
    engine.dispose()


def _found(table, clause) -> list[str]:
    engine, names = table
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(names.c.name).where(clause(names.c.name))).scalars())


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("_", ["Upper_Case", "a_b"]),
        ("%", ["100%"]),
        ("a_b", ["a_b"]),
        ("\\", ["back\\slash"]),
        ("0%", ["100%"]),
        ("x", ["axb"]),
    ],
)
def test_contains_takes_the_term_literally(table, term: str, expected: list[str]) -> None:
    assert _found(table, lambda c: contains(c, term)) == expected


def test_ignore_case_and_prefixes(table) -> None:
    assert _found(table, lambda c: contains(c, "UPPER_", ignore_case=True)) == ["Upper_Case"]
    assert _found(table, lambda c: starts_with(c, "10")) == ["100%", "1000"]
    assert _found(table, lambda c: starts_with(c, "100%")) == ["100%"]
    assert escape_like("a%b_c\\") == "a\\%b\\_c\\\\"
