"""The HTTP side of the local object store: serves the presigned URLs it hands out.

In embedded mode there is no S3 server, so the gateway mounts this router and browsers download samples
and model packages from ``/v1/objects/{bucket}/{key}?expires=...&signature=...``.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from shared.errors import ErrorDetail, Forbidden
from shared.storage.local import LocalObjectStore

__all__ = ["local_object_router"]


def local_object_router(store: LocalObjectStore) -> APIRouter:
    """A router with one route, ``GET /v1/objects/{bucket}/{key:path}``, streaming ``store``'s objects."""
    router = APIRouter(tags=["objects"])

    @router.get(
        "/v1/objects/{bucket}/{key:path}",
        response_class=StreamingResponse,
        summary="Download through a presigned URL",
        responses={
            200: {
                "description": "The object's bytes, with its content type",
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
        # The signature is the credential: links work without an API key (browsers, <img src>).
        openapi_extra={
            "security": [],
            "x-codeSamples": [
                {
                    "lang": "curl",
                    "label": "curl",
                    "source": "curl -o cat_001.jpg 'http://localhost:8000/v1/objects/exeml/flowers/input/cat_001.jpg"
                    "?expires=1795436100&signature=6b1f0c2e9a'",
                }
            ],
        },
    )
    async def download_object(
        bucket: str, key: str, expires: str | None = None, signature: str | None = None
    ) -> StreamingResponse:
        """Download an object through a presigned URL.

        The URL must carry the ``expires`` (Unix time) and ``signature`` the store produced; a missing,
        tampered or expired signature is refused with 403 before anything about the object is revealed.
        A valid URL to an object that has since been deleted answers 404.
        """
        if not (expires and signature and store.verify_presigned(bucket, key, expires, signature)):
            msg = "The download link is invalid or has expired"
            raise Forbidden(msg, details=[ErrorDetail(rule="presigned_url_signature", msg=msg)])
        info, chunks = await store.open_with_info(store.uri(bucket, key))
        headers = {"Content-Length": str(info.size), "ETag": f'"{info.etag}"'}
        return StreamingResponse(chunks, media_type=info.content_type, headers=headers)

    return router
