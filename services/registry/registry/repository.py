"""Queries of the registry service (always scoped to the caller's tenant)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from registry.errors import ModelNotFound, ModelVersionNotFound
from registry.models import AIApplication, ModelVersion, ServiceUsage
from shared.db import Page, Repository
from shared.db.search import contains


class ApplicationRepository(Repository[AIApplication]):
    model = AIApplication
    resource_name = "model"
    not_found = ModelNotFound

    async def by_project(self, project_id: str) -> AIApplication | None:
        stmt = self.scoped().where(AIApplication.project_id == project_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_name(self, name: str) -> AIApplication | None:
        stmt = self.scoped().where(AIApplication.name == name)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def next_seq(self, application_id: str) -> int:
        """The next version number: the row lock this UPDATE takes serialises concurrent registrations,
        and a rolled-back registration gives its number back, so numbers have no gaps."""
        stmt = (
            sa.update(AIApplication)
            .where(AIApplication.id == application_id, AIApplication.tenant_id == self.tenant_id)
            .values(last_seq=AIApplication.last_seq + 1)
            .returning(AIApplication.last_seq)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def search(
        self, *, name: str | None, task_type: str | None, status: str | None, offset: int, limit: int
    ) -> Page[AIApplication]:
        where: list[Any] = []
        if name:
            where.append(contains(AIApplication.name, name))
        if task_type:
            where.append(AIApplication.task_type == task_type)
        if status:
            has_status = sa.select(ModelVersion.id).where(
                ModelVersion.application_id == AIApplication.id, ModelVersion.status == status
            )
            where.append(has_status.exists())
        return await self.list(*where, offset=offset, limit=limit)


class VersionRepository(Repository[ModelVersion]):
    model = ModelVersion
    resource_name = "model version"
    not_found = ModelVersionNotFound

    async def by_training_job(self, job_id: str) -> ModelVersion | None:
        stmt = self.scoped().where(ModelVersion.training_job_id == job_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def of(self, application_id: str, *, offset: int = 0, limit: int = 1000) -> Page[ModelVersion]:
        return await self.list(
            ModelVersion.application_id == application_id,
            offset=offset,
            limit=limit,
            order_by=(ModelVersion.seq.desc(),),
        )

    async def get_version(self, application_id: str, version: str) -> ModelVersion:
        stmt = self.scoped().where(
            ModelVersion.application_id == application_id, ModelVersion.version == version
        )
        found = (await self.session.execute(stmt)).scalar_one_or_none()
        if found is None:
            raise self.not_found(f"model {application_id} has no version {version}")
        return found

    async def latest(self, application_ids: Sequence[str]) -> dict[str, tuple[ModelVersion, int]]:
        """Latest version and version count of each application."""
        if not application_ids:
            return {}
        rows = (
            await self.session.execute(
                self.scoped()
                .where(ModelVersion.application_id.in_(application_ids))
                .order_by(ModelVersion.seq)
            )
        ).scalars()
        out: dict[str, tuple[ModelVersion, int]] = {}
        for row in rows:
            count = out.get(row.application_id, (row, 0))[1]
            out[row.application_id] = (row, count + 1)
        return out


class UsageRepository:
    """The read model of which services use which versions (from inference events)."""

    def __init__(self, session, tenant_id: str) -> None:
        self.session, self.tenant_id = session, tenant_id

    async def record(
        self, service_id: str, versions: list[dict[str, str]], active: bool, at: datetime
    ) -> None:
        """Upsert, ignoring an event older than the one already applied (events may arrive out of order)."""
        dialect = self.session.bind.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        values = {
            "tenant_id": self.tenant_id,
            "service_id": service_id,
            "versions": versions,
            "active": active,
            "event_time": at,
        }
        stmt = insert(ServiceUsage).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["service_id"],
            set_={
                "versions": stmt.excluded.versions,
                "active": stmt.excluded.active,
                "event_time": stmt.excluded.event_time,
            },
            where=ServiceUsage.event_time <= stmt.excluded.event_time,
        )
        await self.session.execute(stmt)

    async def services_using(self, model_id: str, version: str | None = None) -> list[str]:
        stmt = sa.select(ServiceUsage).where(
            ServiceUsage.tenant_id == self.tenant_id, ServiceUsage.active.is_(True)
        )
        users = []
        for usage in (await self.session.execute(stmt)).scalars():
            if any(
                v["model_id"] == model_id and version in (None, v["model_version"]) for v in usage.versions
            ):
                users.append(usage.service_id)
        return users
