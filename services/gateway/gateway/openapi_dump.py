"""Print the aggregated OpenAPI document of the embedded platform (no server, no database needed):
``python -m gateway.openapi_dump > openapi.json``. The web console's typed client is generated from it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile

import httpx


async def openapi_document() -> dict:
    from gateway.config import Settings
    from gateway.embedded import build_embedded_app

    with tempfile.TemporaryDirectory() as data_dir:
        os.environ.setdefault("EXEML_DATA_DIR", data_dir)
        app = build_embedded_app(Settings())
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://exeml"
        ) as client:
            response = await client.get("/openapi.json")
            response.raise_for_status()
            return response.json()


def openapi_text(document: dict) -> str:
    """The document as written for the generator (sorted keys: the generated types keep one order)."""
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    sys.stdout.write(openapi_text(asyncio.run(openapi_document())))


if __name__ == "__main__":
    main()
