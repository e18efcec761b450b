"""The OpenAPI document of a service: ModelArts error responses and an example on every operation.

FastAPI documents a ``422`` with its own validation body; our handlers answer ``400`` with the ModelArts
error body (:mod:`shared.errors`). :func:`complete_openapi` rewrites every operation to say what really
comes back: ``400`` (when it takes input), ``401``, ``403`` (writes), ``404`` (when it names a resource)
and ``default`` (any other error: ``409``, ``413``, ``503`` …), all with the one ``Error`` body and an
example each.

Request and response examples come from the models: a model's ``model_config["json_schema_extra"]
["examples"]`` or its fields' ``examples``. Where a media type has no ``example`` yet, one is composed
from its schema: the schema's own first example, else (objects) the examples of its properties, else
(arrays) one item. So a ``Page`` of ``DatasetRead`` shows a dataset from ``DatasetRead``'s example.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from shared.errors import Conflict, Forbidden, InvalidCredentials, InvalidInput, NotFound

__all__ = ["SHARED_SCHEMAS", "ErrorBody", "complete_openapi", "example_of", "install_openapi"]

# Schemas every service documents identically (the gateway keeps one copy when it merges the documents).
SHARED_SCHEMAS = ("Error", "ErrorDetailBody")


class ErrorDetailBody(BaseModel):
    rule: str = Field(description="The rule that was broken", examples=["string_pattern_mismatch"])
    msg: str = Field(
        description="What is wrong, in words",
        examples=["String should match pattern '^[A-Za-z0-9_-]{1,100}$'"],
    )
    field: str | None = Field(default=None, description="The request field", examples=["dataset_name"])
    file: str | None = Field(
        default=None, description="The file (imports, uploads)", examples=["images/cat_001.jpg"]
    )
    value: Any = Field(default=None, description="The offending value, where it is safe to echo")


class ErrorBody(BaseModel):
    """The error body of every service and the gateway, as ModelArts returns it."""

    model_config = ConfigDict(title="Error")
    error_code: str = Field(examples=[InvalidInput.default_code])
    error_msg: str = Field(examples=["request validation failed"])
    details: list[ErrorDetailBody] = Field(default_factory=list)


def _error(code: str, msg: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error_code": code, "error_msg": msg, "details": details or []}


_ERRORS: dict[str, tuple[str, dict[str, Any]]] = {
    "400": (
        "The request breaks a documented rule; `details` name the field or file and the rule",
        _error(
            InvalidInput.default_code,
            "request validation failed",
            [
                {
                    "rule": "string_pattern_mismatch",
                    "msg": "String should match pattern '^[A-Za-z0-9_-]{1,100}$'",
                    "field": "dataset_name",
                }
            ],
        ),
    ),
    "401": (
        "No valid API key (`Authorization: Bearer <key>` or `X-Auth-Token`)",
        _error(
            InvalidCredentials.default_code,
            "missing API key: send 'Authorization: Bearer <key>' or 'X-Auth-Token'",
        ),
    ),
    "403": (
        (
            "The key's role may not do this (viewer keys only read and predict), or a path lies outside the "
            "tenant's storage areas (`details` name the path, field and rule)"
        ),
        _error(
            Forbidden.default_code,
            "viewer keys may only read and predict",
            [{"rule": "role_viewer_read_only", "msg": "POST /v1/datasets needs role developer or admin"}],
        ),
    ),
    "404": (
        "The resource does not exist for this tenant (another tenant's resources look the same)",
        _error(NotFound.default_code, "dataset 3f9c2a7e41d84c0b9d7e5a1f2b3c4d5e does not exist"),
    ),
    "default": (
        (
            "Any other error in the same body: 409 the resource's state forbids it, 413 too large, "
            "503 a dependency is down (retry later)"
        ),
        _error(Conflict.default_code, "dataset is being imported; retry when the import task has finished"),
    ),
}
_WRITES = {"post", "put", "patch", "delete"}
_REF = "#/components/schemas/"


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema and schema["$ref"].startswith(_REF):
        schema = schemas.get(schema["$ref"][len(_REF) :], {})
    return schema


def example_of(schema: dict[str, Any], schemas: dict[str, Any], _depth: int = 0) -> Any:
    """An example value for ``schema`` from the examples written on it and its parts, or ``None``."""
    if _depth > 12 or not isinstance(schema, dict):
        return None
    ref = schema.get("$ref")
    if ref:
        target = _resolve(schema, schemas)
        return example_of(target, schemas, _depth + 1) if target is not schema else None
    if schema.get("examples"):
        return _with_nulls(copy.deepcopy(schema["examples"][0]), schema, schemas)
    if "example" in schema:
        return _with_nulls(copy.deepcopy(schema["example"]), schema, schemas)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return copy.deepcopy(schema["default"])
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            if option.get("type") == "null":
                continue
            value = example_of(option, schemas, _depth + 1)
            if value is not None:
                return value
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        item = example_of(schema["items"], schemas, _depth + 1)
        return None if item is None else [item]
    properties = schema.get("properties")
    if properties:
        out: dict[str, Any] = {}
        for name, prop in properties.items():
            value = example_of(prop, schemas, _depth + 1)
            if value is None and name in schema.get("required", []):
                if _is_nullable(prop, schemas):
                    out[name] = None
                    continue
                return None
            if value is not None:
                out[name] = value
        return out
    return None


def _with_nulls(value: Any, schema: dict[str, Any], schemas: dict[str, Any], _depth: int = 0) -> Any:
    """Put back the ``null`` values of required fields: FastAPI drops every ``None`` from the document."""
    schema = _resolve(schema, schemas)
    if _depth > 12:
        return value
    if isinstance(value, dict) and "properties" in schema:
        for name, prop in schema["properties"].items():
            if name in value:
                value[name] = _with_nulls(value[name], prop, schemas, _depth + 1)
            elif name in schema.get("required", []) and _is_nullable(prop, schemas):
                value[name] = None
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value = [_with_nulls(item, schema["items"], schemas, _depth + 1) for item in value]
    elif isinstance(value, dict):
        for option in schema.get("anyOf", []):
            if _resolve(option, schemas).get("properties"):
                return _with_nulls(value, option, schemas, _depth + 1)
    return value


def _is_nullable(schema: dict[str, Any], schemas: dict[str, Any]) -> bool:
    schema = _resolve(schema, schemas)
    return schema.get("type") == "null" or any(o.get("type") == "null" for o in schema.get("anyOf", []))


def _fill_media_examples(content: dict[str, Any], schemas: dict[str, Any]) -> None:
    for media_type, media in content.items():
        if "example" in media or "examples" in media or "json" not in media_type:
            continue
        value = example_of(media.get("schema", {}), schemas)
        if value is not None:
            media["example"] = value


def _error_response(code: str) -> dict[str, Any]:
    description, example = _ERRORS[code]
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"{_REF}Error"}, "example": example}},
    }


def complete_openapi(doc: dict[str, Any]) -> dict[str, Any]:
    """Rewrite ``doc`` in place: real error responses, and examples wherever the models give them."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(ErrorBody.model_json_schema(ref_template=_REF + "{model}")["$defs"])
    schemas["Error"] = {
        k: v for k, v in ErrorBody.model_json_schema(ref_template=_REF + "{model}").items() if k != "$defs"
    }
    for path, operations in doc.get("paths", {}).items():
        for method, op in operations.items():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            codes = ["401"]
            if op.get("parameters") or op.get("requestBody"):
                codes.insert(0, "400")
            if method in _WRITES:
                codes.append("403")
            if "{" in path:
                codes.append("404")
            for code in [*codes, "default"]:
                responses.setdefault(code, _error_response(code))
            _fill_media_examples(op.get("requestBody", {}).get("content", {}), schemas)
            for code, response in responses.items():
                if code.startswith("2"):
                    _fill_media_examples(response.get("content", {}), schemas)
    text = repr(doc.get("paths"))
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"{_REF}{unused}'" not in text:
            schemas.pop(unused, None)
    return doc


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at the app's ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_openapi(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
