"""Queries of the inference service (always scoped to the caller's tenant)."""

from __future__ import annotations

from inference.errors import ServiceNotFound
from inference.models import RealTimeService, ServiceEvent
from shared.db import Page, Repository
from shared.db.search import contains


class ServiceRepository(Repository[RealTimeService]):
    model = RealTimeService
    resource_name = "service"
    not_found = ServiceNotFound

    async def by_name(self, name: str) -> RealTimeService | None:
        stmt = self.scoped().where(RealTimeService.name == name)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def search(
        self, *, name: str | None, status: str | None, offset: int, limit: int
    ) -> Page[RealTimeService]:
        where = []
        if name:
            where.append(contains(RealTimeService.name, name))
        if status:
            where.append(RealTimeService.status == status)
        return await self.list(*where, offset=offset, limit=limit)


class EventRepository(Repository[ServiceEvent]):
    model = ServiceEvent
    resource_name = "service event"

    async def of(self, service_id: str, kind: str, *, offset: int, limit: int) -> Page[ServiceEvent]:
        return await self.list(
            ServiceEvent.service_id == service_id,
            ServiceEvent.kind == kind,
            offset=offset,
            limit=limit,
            order_by=(ServiceEvent.occur_time.desc(),),
        )
