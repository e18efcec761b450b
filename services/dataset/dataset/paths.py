"""Storage areas: the platform's own dataset folders belong to one tenant each."""

from __future__ import annotations

from shared.storage import S3Uri

__all__ = ["path_allowed"]


def path_allowed(path: str, default_bucket: str, tenant_id: str) -> bool:
    """False for a path under another tenant's ``s3://<default bucket>/datasets/<tenant>/`` area.

    Other buckets and prefixes are the deployment's to share (an operator grants access to them).
    """
    uri = S3Uri.parse(path)
    if uri.bucket != default_bucket or not (uri.key + "/").startswith("datasets/"):
        return True
    return uri.key.startswith(f"datasets/{tenant_id}/")
