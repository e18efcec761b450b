"""The API and event tables of each service's README, generated from the code (``ServiceDefinition``).

A README holds each table between two markers; ``python -m shared.service.readme`` rewrites them, and a test
fails when one is stale::

    <!-- generated: api -->
    ...
    <!-- end generated: api -->

The API table lists the service's routes (``routers()``: method, path, summary); the event tables list what its
outbox publishes (``publishes``) and what its handlers consume (``consumes()``), each event with the services
on the other side.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute

from shared.events import registered_contracts
from shared.events.base import EventContract
from shared.service.definition import PLATFORM_SERVICES, ServiceDefinition, load_definition

__all__ = [
    "SECTIONS",
    "api_table",
    "contract_services",
    "events_table",
    "readme_path",
    "render_sections",
    "rewrite",
    "stale_sections",
]

SECTIONS = ("api", "events")
_BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[a-z]+) -->\n)(?P<body>.*?)(<!-- end generated: (?P=name) -->)", re.DOTALL
)
_ROOT = Path(__file__).resolve().parents[2]


def readme_path(service: str) -> Path:
    return _ROOT / "services" / service / "README.md"


def api_table(definition: ServiceDefinition[Any]) -> str:
    """One row per documented route of the service's routers, in the order they are served."""
    rows = ["| method | path | what |", "|---|---|---|"]
    for router in definition.routers():
        for route in router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                methods = ", ".join(sorted((route.methods or set()) - {"HEAD"}))
                rows.append(f"| {methods} | `{route.path}` | {route.summary or route.name} |")
    return "\n".join(rows) + "\n"


def _consumes_everything(definition: ServiceDefinition[Any]) -> bool:
    return set(definition.consumes()) == set(registered_contracts().values())


def contract_services() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Event type -> the services that publish it, and -> those that consume it (leaving out a service that
    consumes every event, the gateway's fan-out)."""
    publishers: dict[str, set[str]] = defaultdict(set)
    consumers: dict[str, set[str]] = defaultdict(set)
    for name in PLATFORM_SERVICES:
        definition = load_definition(name)
        for contract in definition.publishes:
            publishers[contract.event_type].add(name)
        if not _consumes_everything(definition):
            for contract in definition.consumes():
                consumers[contract.event_type].add(name)
    return publishers, consumers


def _event_rows(contracts: list[type[EventContract]], others: dict[str, set[str]], service: str) -> list[str]:
    rows: list[str] = []
    for contract in sorted(contracts, key=lambda c: c.event_type):
        sides = others.get(contract.event_type, set())
        # An event a service consumes itself is work its worker does behind a request's answer.
        names = sorted(sides - {service}) + ([f"{service} itself (its worker)"] if service in sides else [])
        peers = ", ".join(names) or "gateway only (SSE, webhooks)"
        rows.append(f"| `{contract.event_type}` | `{contract.__module__}.{contract.__name__}` | {peers} |")
    return rows


def events_table(definition: ServiceDefinition[Any]) -> str:
    """What the service publishes (and who consumes it) and what it consumes (and who publishes it)."""
    publishers, consumers = contract_services()
    published = _event_rows(list(definition.publishes), consumers, definition.name)
    consumed = definition.consumes()
    lines = ["Publishes (through its outbox):", ""]
    lines += (
        ["| event type | contract | consumed by |", "|---|---|---|", *published] if published else ["nothing"]
    )
    lines += ["", "Consumes (each handler once per event, in the inbox's transaction):", ""]
    if _consumes_everything(definition):
        lines.append("every event type of the platform (fanned out to the SSE streams and webhooks)")
    elif consumed:
        lines += [
            "| event type | contract | published by |",
            "|---|---|---|",
            *_event_rows(consumed, publishers, definition.name),
        ]
    else:
        lines.append("nothing")
    return "\n".join(lines) + "\n"


def render_sections(service: str) -> dict[str, str]:
    definition = load_definition(service)
    return {"api": api_table(definition), "events": events_table(definition)}


def _replaced(text: str, sections: dict[str, str]) -> str:
    return _BLOCK.sub(
        lambda m: m.group(1) + sections.get(m.group("name"), m.group("body")) + m.group(4), text
    )


def stale_sections(service: str) -> list[str]:
    """The generated sections of the service's README that are missing or differ from the code."""
    text = readme_path(service).read_text()
    sections = render_sections(service)
    found = {m.group("name"): m.group("body") for m in _BLOCK.finditer(text)}
    return [name for name in SECTIONS if found.get(name) != sections[name]]


def rewrite(service: str) -> bool:
    """Regenerate the service's README sections; True if the file changed."""
    path = readme_path(service)
    text = path.read_text()
    new = _replaced(text, render_sections(service))
    if new != text:
        path.write_text(new)
    return new != text


def main(argv: list[str] | None = None) -> int:
    """``python -m shared.service.readme [service ...]``: rewrite the READMEs' generated sections."""
    services = (argv if argv is not None else sys.argv[1:]) or list(PLATFORM_SERVICES)
    for service in services:
        print(f"{readme_path(service)}: {'rewritten' if rewrite(service) else 'current'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
