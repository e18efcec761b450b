"""HTTP routes of the dataset service (public API under ``/v1``)."""

from typing import Annotated

from fastapi import Depends

from shared.auth import Principal, require_role

WriterDep = Annotated[Principal, Depends(require_role("admin", "developer"))]
