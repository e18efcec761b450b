"""Aggregated OpenAPI, Swagger UI, AsyncAPI and CORS."""

from __future__ import annotations

from gateway.docs import asyncapi_document, merge_openapi, platform_definitions

from shared.events import registered_contracts
from shared.service.openapi import SHARED_SCHEMAS


async def test_openapi_merges_the_gateway_and_every_service(platform_factory) -> None:
    platform = await platform_factory(["gateway", "dataset", "trainer"], bus="memory")
    client = platform.client("gateway")
    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    assert {"/v1/api-keys", "/v1/webhooks", "/v1/events"} <= set(doc["paths"])
    assert set(doc["components"]["securitySchemes"]) == {"BearerKey", "XAuthToken"}
    assert not any(p.startswith(("/internal", "/healthz", "/readyz")) for p in doc["paths"])
    # every $ref resolves inside the merged document
    text = str(doc)
    for name in doc["components"]["schemas"]:
        assert name in SHARED_SCHEMAS or name.split("_", 1)[0] in {"gateway", "dataset", "trainer"}
    for ref in {part.split("'")[0] for part in text.split("#/components/schemas/")[1:]}:
        assert ref in doc["components"]["schemas"], ref
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text and "/openapi.json" in docs.text


def test_merge_prefixes_colliding_schema_names() -> None:
    page = {"type": "object", "properties": {"total": {"type": "integer"}}}
    a = {
        "paths": {
            "/v1/a": {
                "get": {
                    "responses": {
                        "200": {
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}}
                        }
                    }
                }
            }
        },
        "components": {"schemas": {"Page": page}},
    }
    b = {
        "paths": {"/v1/b": {"get": {}}, "/internal/x": {"get": {}}},
        "components": {"schemas": {"Page": {"type": "string"}}},
    }
    merged = merge_openapi({"paths": {}}, {"a": a, "b": b})
    assert set(merged["paths"]) == {"/v1/a", "/v1/b"}
    assert merged["components"]["schemas"]["a_Page"] == page and merged["components"]["schemas"][
        "b_Page"
    ] == {"type": "string"}
    ref = merged["paths"]["/v1/a"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/a_Page"


def test_asyncapi_documents_every_event_contract() -> None:
    doc = asyncapi_document()
    assert doc["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert addresses == set(registered_contracts())
    message = doc["components"]["messages"]["dataset_version_published_v1"]
    assert "manifest_uri" in message["payload"]["properties"]["data"]["properties"]


def _services_doing(doc: dict, action: str, event_type: str) -> set[str]:
    channel = "#/channels/" + event_type.replace(".", "_")
    return {
        op["tags"][0]["name"]
        for op in doc["operations"].values()
        if op["action"] == action and op["channel"]["$ref"] == channel and op.get("tags")
    }


def test_asyncapi_says_which_service_publishes_and_consumes_each_event() -> None:
    doc = asyncapi_document(platform_definitions())
    assert _services_doing(doc, "send", "training.job.succeeded.v1") == {"trainer"}
    assert _services_doing(doc, "receive", "training.job.succeeded.v1") == {"registry", "workflow", "gateway"}
    assert _services_doing(doc, "send", "dataset.version.published.v1") == {"dataset"}
    assert _services_doing(doc, "receive", "dataset.version.published.v1") == {
        "trainer",
        "workflow",
        "gateway",
    }
    assert _services_doing(doc, "receive", "labeling.label.deleted.v1") == {"dataset", "gateway"}
    assert _services_doing(doc, "send", "workflow.phase.changed.v1") == {"workflow"}
    # Every operation points at a documented channel.
    assert {op["channel"]["$ref"].rsplit("/", 1)[1] for op in doc["operations"].values()} <= set(
        doc["channels"]
    )


async def test_asyncapi_is_served(platform_factory) -> None:
    platform = await platform_factory(["gateway"], bus="memory")
    response = await platform.client("gateway").get("/asyncapi.json")
    assert response.status_code == 200 and response.json()["asyncapi"] == "3.0.0"
    assert _services_doing(response.json(), "send", "inference.service.running.v1") == {"inference"}


async def test_cors_preflight_for_a_configured_frontend(platform_factory) -> None:
    platform = await platform_factory(
        ["gateway"], bus="memory", overrides={"gateway": {"cors_origins": ["http://localhost:5173"]}}
    )
    client = platform.client("gateway")
    allowed = await client.options(
        "/v1/datasets", headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
    denied = await client.options(
        "/v1/datasets", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in denied.headers
