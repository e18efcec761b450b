"""Fixtures of the trainer tests: generated tables (numeric, categorical and missing values, a learnable
label)."""

from __future__ import annotations

import csv
import io

from types import SimpleNamespace

import numpy as np
import pytest

COLUMNS = ["age", "income", "city", "plan", "visits", "class"]
SCHEMA = [
    {"name": "age", "type": "int"},
    {"name": "income", "type": "float"},
    {"name": "city", "type": "string"},
    {"name": "plan", "type": "string"},
    {"name": "visits", "type": "int"},
    {"name": "class", "type": "string"},
]


def make_rows(n: int, seed: int = 0, regression: bool = False) -> list[list[str]]:
    """Rows as CSV cells; the label depends on income, city and plan (learnable, not trivial)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        age = int(rng.integers(18, 80))
        income = float(rng.normal(50, 15))
        city = str(rng.choice(["paris", "lyon", "nice", "lille"]))
        plan = str(rng.choice(["free", "pro", "team"]))
        visits = int(rng.poisson(5))
        score = 0.05 * (income - 50) + (1.2 if city in ("paris", "nice") else -0.8) + {"free": -1, "pro": 0.5,
                                                                                        "team": 1.0}[plan]
        score += rng.normal(0, 0.5)
        label = f"{score * 10 + 100:.3f}" if regression else ("yes" if score > 0 else "no")
        cells = [str(age), f"{income:.2f}", city, plan, str(visits), label]
        if rng.random() < 0.08:
            cells[1] = ""  # missing income
        if rng.random() < 0.05:
            cells[2] = "NA"  # missing city
        rows.append(cells)
    return rows


def to_csv(rows: list[list[str]], header: bool = True) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue().encode()


def as_request_rows(rows: list[list[str]]) -> list[dict[str, str]]:
    """Rows as prediction request objects (label column left out)."""
    return [dict(zip(COLUMNS[:-1], r[:-1])) for r in rows]


@pytest.fixture
def tables() -> SimpleNamespace:
    return SimpleNamespace(COLUMNS=COLUMNS, SCHEMA=SCHEMA, make_rows=make_rows, to_csv=to_csv,
                           as_request_rows=as_request_rows)
