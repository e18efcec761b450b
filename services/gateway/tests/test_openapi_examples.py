"""Every public operation is described, with examples that are valid against its own schemas."""

from __future__ import annotations

from typing import Any

from gateway.proxy import SERVICES
from jsonschema import Draft202012Validator

from shared.service.openapi import complete_openapi, example_of

_BINARY_MEDIA = ("multipart/", "application/octet-stream", "application/gzip", "image/", "audio/")


def _validate(example: Any, schema: dict[str, Any], doc: dict[str, Any], where: str) -> list[str]:
    validator = Draft202012Validator({**schema, "components": doc["components"]})
    return [f"{where}: example invalid: {e.message}" for e in validator.iter_errors(example)]


def _problems(doc: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            if not op.get("summary") or not op.get("description"):
                problems.append(f"{where}: needs a summary and a description")
            media_list = [
                ("request", mt, m) for mt, m in op.get("requestBody", {}).get("content", {}).items()
            ]
            media_list += [
                (f"response {code}", mt, m)
                for code, r in op["responses"].items()
                for mt, m in r.get("content", {}).items()
            ]
            for part, media_type, media in media_list:
                label = f"{where} {part} {media_type}"
                if media_type.startswith(_BINARY_MEDIA):
                    if part == "request" and not op.get("x-codeSamples"):
                        problems.append(f"{label}: a {media_type} body needs x-codeSamples (a curl call)")
                    continue
                if "example" not in media and not media.get("examples"):
                    problems.append(f"{label}: no example")
                elif "json" in media_type and "example" in media:
                    problems += _validate(media["example"], media.get("schema", {}), doc, label)
            for code in op["responses"]:
                if code == "422":
                    problems.append(
                        f"{where}: documents FastAPI's 422, but errors answer 400 in the ModelArts body"
                    )
    return problems


async def test_every_operation_has_a_description_and_valid_examples(platform_factory) -> None:
    platform = await platform_factory(["gateway", *SERVICES], bus="memory")
    doc = (await platform.client("gateway").get("/openapi.json")).json()
    assert len(doc["paths"]) > 40
    problems = _problems(doc)
    assert not problems, "\n".join(problems)


def test_the_check_finds_a_missing_and_an_invalid_example() -> None:
    doc = complete_openapi(
        {
            "paths": {
                "/v1/things/{thing_id}": {
                    "put": {
                        "summary": "Update a thing",
                        "description": "Changes it.",
                        "requestBody": {
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                            }
                        },
                        "responses": {
                            "200": {
                                "content": {
                                    "application/json": {
                                        "schema": {"$ref": "#/components/schemas/Thing"},
                                        "example": {"name": 7},
                                    }
                                }
                            }
                        },
                    }
                }
            },
            "components": {
                "schemas": {
                    "Thing": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}},
                    }
                }
            },
        }
    )
    problems = _problems(doc)
    assert any("request application/json: no example" in p for p in problems), problems
    assert any("response 200" in p and "example invalid" in p for p in problems), problems
    assert {"400", "401", "403", "404", "default"} <= set(
        doc["paths"]["/v1/things/{thing_id}"]["put"]["responses"]
    )


def test_examples_are_composed_from_the_examples_of_the_parts() -> None:
    schemas = {
        "Item": {
            "type": "object",
            "required": ["id", "note"],
            "properties": {
                "id": {"type": "string", "examples": ["a1"]},
                "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "kind": {"enum": ["x", "y"]},
            },
        },
        "Page": {
            "type": "object",
            "required": ["items", "total"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                "total": {"type": "integer", "examples": [1]},
            },
        },
    }
    assert example_of({"$ref": "#/components/schemas/Page"}, schemas) == {
        "items": [{"id": "a1", "note": None, "kind": "x"}],
        "total": 1,
    }
    schemas["Item"]["properties"]["id"].pop("examples")
    assert example_of({"$ref": "#/components/schemas/Page"}, schemas) is None
