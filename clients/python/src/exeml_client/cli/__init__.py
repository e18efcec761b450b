"""The ``exeml`` command line: every command takes ``--json`` and exits non-zero with the API's message on errors."""

from __future__ import annotations

from typing import Annotated

import typer

from exeml_client import config
from exeml_client.cli._common import ExeMLGroup, JsonOpt, console, print_json
from exeml_client.cli.datasets import datasets_app, labels_app
from exeml_client.cli.projects import projects_app
from exeml_client.cli.serving import models_app, predict, services_app
from exeml_client.client import Client

__all__ = ["app", "main"]

app = typer.Typer(
    cls=ExeMLGroup,
    help="ExeML from the command line: datasets, labels, projects, models, services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(datasets_app, name="datasets")
app.add_typer(labels_app, name="labels")
app.add_typer(projects_app, name="projects")
app.add_typer(models_app, name="models")
app.add_typer(services_app, name="services")
app.command("predict")(predict)


@app.command("login")
def login(
    url: Annotated[str, typer.Option(help="The API, e.g. http://127.0.0.1:8000")],
    key: Annotated[
        str,
        typer.Option(
            prompt="API key",
            hide_input=True,
            envvar="EXEML_API_KEY",
            help="An API key (prompted for when left out)",
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Check the key against the API, then keep URL and key in the config folder (mode 0600)."""
    with Client(url, key, max_retries=1) as api:
        next(iter(api.datasets.list(page_size=1)), None)  # 401 if the key is wrong
    path = config.save(config.Credentials(url.rstrip("/"), key))
    if as_json:
        print_json({"url": url, "config": str(path)})
    else:
        console.print(f"logged in to {url} (saved in {path})")


def main() -> None:
    app()
