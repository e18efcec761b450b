"""One shape per concept (docs/adr/0022-one-shape-per-concept.md): the canonical names and shapes of the
ModelArts APIs, and the other forms users already send, accepted on input only.

* the split ratio is ``train_evaluate_sample_ratio``, a decimal string as the dataset API writes it (``"0.8"``);
  ``train_ratio`` and numbers are taken too;
* ``schedule`` is the inference service's list of one ``{"type": "stop", "time_unit": "HOURS", "duration": h}``
  (``[]``: no auto stop); one object is taken as a list of one.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AliasChoices, BeforeValidator, Field

__all__ = [
    "RATIO_ALIAS",
    "RATIO_FIELD",
    "RatioText",
    "one_ratio_name",
    "ratio_field",
    "schedule_list",
    "split_ratio",
]

RATIO_FIELD = "train_evaluate_sample_ratio"
RATIO_ALIAS = "train_ratio"
_RATIO = re.compile(r"^(0\.\d{1,5}|1(\.0{1,5})?)$")


def split_ratio(value: Any) -> str:
    """The TRAIN share as a decimal string in (0, 1] with 1–5 decimals; a number is written as one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{RATIO_FIELD} is a number or a decimal string")  # noqa: TRY004 (pydantic reads ValueError)
    text = value.strip() if isinstance(value, str) else f"{float(value):.10f}".rstrip("0")
    text = text + "0" if text.endswith(".") else text
    if not _RATIO.match(text) or float(text) <= 0:
        raise ValueError(f"{RATIO_FIELD} (alias {RATIO_ALIAS}) is in (0, 1] with 1–5 decimals")
    return text


RatioText = Annotated[str, BeforeValidator(split_ratio)]


def ratio_field(default: str | None) -> Any:
    """The field of the split ratio: named ``train_evaluate_sample_ratio``, ``train_ratio`` taken too."""
    return Field(
        default=default,
        validation_alias=AliasChoices(RATIO_FIELD, RATIO_ALIAS),
        description="Training/validation split: the TRAIN share, in (0, 1] with 1–5 decimals, as the dataset's "
        "`train_evaluate_sample_ratio` (a string; a number and the name `train_ratio` are accepted)",
        examples=["0.8"],
    )


def one_ratio_name(data: Any) -> Any:
    """Refuse a body naming the ratio twice (the alias would otherwise be kept as an unknown extra field)."""
    if isinstance(data, dict) and RATIO_FIELD in data and RATIO_ALIAS in data:
        raise ValueError(f"give {RATIO_FIELD} or its alias {RATIO_ALIAS}, not both")
    return data


def schedule_list(value: Any) -> Any:
    """One schedule object is taken as the list of one the inference service keeps."""
    return [value] if isinstance(value, dict) else value
