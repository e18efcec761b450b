"""What every command shares: the client from the stored login, ``--json`` output, and errors as a message
and a non-zero exit."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any

import click
import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from exeml_client import config
from exeml_client.client import Client
from exeml_client.errors import APIError, ExeMLError

__all__ = ["ExeMLGroup", "JsonOpt", "console", "err_console", "fail", "open_client", "print_json", "show"]

console = Console()
err_console = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of tables")]


class ExeMLGroup(TyperGroup):
    """The API's errors end a command with their message (and the files and rules they name) and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except APIError as exc:
            report_api_error(exc)
            ctx.exit(1)
        except ExeMLError as exc:
            err_console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
            ctx.exit(1)


def report_api_error(exc: APIError) -> None:
    err_console.print(
        f"[red]error {exc.status_code}[/red] {exc.error_code}: {exc.error_msg}", highlight=False
    )
    for detail in exc.details:
        where = " ".join(f"{k}={detail[k]}" for k in ("file", "field") if detail.get(k))
        err_console.print(
            f"  {where} {detail.get('rule', '')}: {detail.get('msg', '')}".rstrip(), highlight=False
        )


def fail(message: str) -> None:
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)


def open_client() -> Client:
    credentials = config.load()
    if credentials is None:
        fail("not logged in: run `exeml login --url URL` (or set EXEML_URL and EXEML_API_KEY)")
    assert credentials is not None
    return Client(credentials.url, credentials.api_key, timeout=120)


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False) + "\n")


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    out = Table(title=title, title_justify="left")
    for column in columns:  # ids whole: they are what the next command takes
        out.add_column(column, no_wrap=column == "id", min_width=32 if column == "id" else None)
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    return out


def show(value: Any, as_json: bool, render: Callable[[Any], Any]) -> None:
    """``value`` as JSON, or as what ``render`` makes of it (a rich table or text)."""
    if as_json:
        print_json(value)
    else:
        console.print(render(value))
