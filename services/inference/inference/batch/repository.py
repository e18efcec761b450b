"""Queries of batch services (always scoped to the caller's tenant)."""

from __future__ import annotations

from inference.errors import ServiceNotFound
from inference.models import BatchService
from shared.db import Page, Repository
from shared.db.search import contains

__all__ = ["BatchServiceRepository"]


class BatchServiceRepository(Repository[BatchService]):
    model = BatchService
    resource_name = "batch service"
    not_found = ServiceNotFound

    async def by_name(self, name: str) -> BatchService | None:
        stmt = self.scoped().where(BatchService.name == name)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def search(
        self, *, name: str | None, status: str | None, offset: int, limit: int
    ) -> Page[BatchService]:
        where = []
        if name:
            where.append(contains(BatchService.name, name))
        if status:
            where.append(BatchService.status == status)
        return await self.list(*where, offset=offset, limit=limit)
