"""The client's models and routes against the running gateway's ``/openapi.json``: a field added, removed,
renamed, retyped or made optional on either side, an enum value changed, or an operation moved, fails here."""

from __future__ import annotations

from typing import Any

import pytest
from exeml_client._core import ROUTES, Route
from exeml_client.models import MODELS, APIModel, Page

_REF = "#/components/schemas/"


def shape(schema: dict[str, Any], refs: dict[str, str]) -> str:
    """A schema reduced to what a client's parsing depends on: types, enum values, referenced schemas."""
    if "$ref" in schema:
        return "ref:" + refs.get(schema["$ref"].removeprefix(_REF).removeprefix("#/$defs/"), schema["$ref"])
    if "anyOf" in schema:
        return "|".join(sorted(shape(option, refs) for option in schema["anyOf"]))
    if "const" in schema:
        return f"enum:{[schema['const']]}"
    if "enum" in schema:
        return f"enum:{sorted(schema['enum'], key=str)}"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array<{shape(schema.get('items', {}), refs)}>"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object<{shape(schema['additionalProperties'], refs)}>"
    return f"{kind}:{schema['format']}" if "format" in schema else kind


def compare(model: type[APIModel], server: dict[str, Any]) -> list[str]:
    client = model.model_json_schema(ref_template=_REF + "{model}")
    own_refs = {m.__name__: m.__schema__ for m in MODELS}
    problems = []
    client_props, server_props = client.get("properties", {}), server.get("properties", {})
    for name in sorted(set(server_props) - set(client_props)):
        problems.append(f"{name}: in the API, missing in the client")
    for name in sorted(set(client_props) - set(server_props)):
        problems.append(f"{name}: in the client, not in the API")
    for name in sorted(set(client_props) & set(server_props)):
        ours, theirs = shape(client_props[name], own_refs), shape(server_props[name], {})
        if ours != theirs.replace("ref:" + _REF, "ref:"):
            problems.append(f"{name}: client {ours}, API {theirs}")
    for name in sorted(set(client.get("required", [])) - set(server.get("required", []))):
        problems.append(f"{name}: required by the client, optional in the API")
    return problems


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_model_matches_its_schema(model: type[APIModel], openapi: dict) -> None:
    schemas = openapi["components"]["schemas"]
    assert model.__schema__ in schemas, f"{model.__name__}: no schema {model.__schema__} in /openapi.json"
    problems = compare(model, schemas[model.__schema__])
    assert not problems, f"{model.__name__} drifted from {model.__schema__}:\n" + "\n".join(problems)


def _answer_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    for code, response in operation["responses"].items():
        if code.startswith("2"):
            return response.get("content", {}).get("application/json", {}).get("schema")
    return None


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.template}")
def test_route_exists_and_answers_the_model_the_client_reads(route: Route, openapi: dict) -> None:
    operation = openapi["paths"].get(route.template, {}).get(route.method.lower())
    assert operation is not None, f"{route.method} {route.template} is not in /openapi.json"
    if not (isinstance(route.answer, type) and issubclass(route.answer, APIModel)):
        return
    schema = _answer_schema(operation) or {}
    if route.paged:
        page = openapi["components"]["schemas"][schema["$ref"].removeprefix(_REF)]
        assert set(page["properties"]) >= set(Page.model_fields), f"{route.template}: not a page"
        schema = page["properties"]["items"]["items"]
    assert schema.get("$ref") == _REF + route.answer.__schema__, f"{route.template} answers {schema}"
