"""Queries on projects and their rounds (executions and phases), scoped to one tenant: the only place that
builds them."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Page, Repository
from shared.db.search import contains
from workflow.errors import ProjectNotFound
from workflow.models import Execution, Phase, Project
from workflow.phases import InstanceType, PhaseName, PhaseStatus, RoundStatus

__all__ = ["ProjectRepository", "RoundRepository"]

_ID = re.compile(r"[0-9a-f]{32}")


class ProjectRepository(Repository[Project]):
    model = Project
    resource_name = "project"
    not_found = ProjectNotFound

    async def get(self, id_: str) -> Project:
        if not _ID.fullmatch(id_):  # not an id we hand out (control characters never reach PostgreSQL)
            raise ProjectNotFound(f"project {id_[:64]!r} does not exist")
        return await super().get(id_)

    async def count(self) -> int:
        return int(
            await self.session.scalar(sa.select(sa.func.count()).select_from(self.scoped().subquery())) or 0
        )

    async def name_taken(self, name: str) -> bool:
        return (
            await self.session.scalar(self.scoped().where(Project.name == name).with_only_columns(Project.id))
            is not None
        )

    async def search(
        self,
        *,
        search: str | None,
        project_type: str | None,
        status: str | None,
        phase: str | None,
        tag: str | None,
        sort_by: str,
        order: str,
        offset: int,
        limit: int,
    ) -> Page[Project]:
        stmt = self.scoped()
        if search:
            stmt = stmt.where(contains(Project.name, search, ignore_case=True))
        for column, value in (
            (Project.project_type, project_type),
            (Project.status, status),
            (Project.current_phase, phase),
        ):
            if value:
                stmt = stmt.where(column == value)
        rows = list(await self.session.scalars(stmt))
        # Tags are a JSON list, and names sort by code point: both done here, the same on SQLite and PostgreSQL
        # (a tenant has at most MAX_PROJECTS projects).
        if tag:
            rows = [r for r in rows if tag in (r.tags or [])]
        rows.sort(key=lambda r: getattr(r, sort_by), reverse=order == "desc")
        return Page(rows[offset : offset + limit], len(rows))

    async def delete_with_rounds(self, project: Project) -> None:
        await self.session.execute(sa.delete(Phase).where(Phase.project_id == project.id))
        await self.session.execute(sa.delete(Execution).where(Execution.project_id == project.id))
        await self.session.delete(project)


class RoundRepository:
    """A project's rounds (executions) and their phases."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session, self.tenant_id = session, tenant_id

    def _executions(self, project: Project) -> sa.Select[Execution]:
        return sa.select(Execution).where(
            Execution.project_id == project.id, Execution.tenant_id == self.tenant_id
        )

    async def latest(self, project: Project) -> Execution | None:
        return await self.session.scalar(self._executions(project).order_by(Execution.round.desc()).limit(1))

    async def all(self, project: Project) -> list[Execution]:
        """Every round of the project, newest first."""
        return list(await self.session.scalars(self._executions(project).order_by(Execution.round.desc())))

    async def execution(self, execution_id: str) -> Execution:
        execution = await self.session.get(Execution, execution_id)
        assert execution is not None  # a phase's execution outlives it
        return execution

    async def latest_with_phases(self, project: Project) -> tuple[Execution | None, list[Phase]]:
        """The latest execution and its phases, read in one statement with the project itself: one snapshot,
        so a reader never sees the last phase executed while its execution still runs, nor the round completed
        while the project still runs (separate queries could straddle a commit). ``project`` is refreshed."""
        latest = (
            sa.select(sa.func.max(Execution.round))
            .where(Execution.project_id == project.id, Execution.tenant_id == self.tenant_id)
            .scalar_subquery()
        )
        rows = (
            await self.session.execute(
                sa.select(Project, Execution, Phase)
                .join(Execution, Execution.project_id == Project.id)
                .join(Phase, Phase.execution_id == Execution.id)
                .where(
                    Project.id == project.id,
                    Execution.tenant_id == self.tenant_id,
                    Execution.round == latest,
                )
                .order_by(Phase.position)
                .execution_options(populate_existing=True)
            )
        ).all()
        return (rows[0][1], [phase for _, _, phase in rows]) if rows else (None, [])

    async def add(
        self, project: Project, parameters: dict[str, object], plan: list[tuple[PhaseName, str]]
    ) -> tuple[Execution, list[Phase]]:
        """A new round numbered ``project.rounds`` with its phases (in ``plan``'s order) not started."""
        execution = Execution(
            tenant_id=self.tenant_id,
            project_id=project.id,
            round=project.rounds,
            status=RoundStatus.RUNNING,
            parameters=parameters,
        )
        self.session.add(execution)
        await self.session.flush()
        for position, (name, title) in enumerate(plan):
            self.session.add(
                Phase(
                    tenant_id=self.tenant_id,
                    execution_id=execution.id,
                    project_id=project.id,
                    name=name,
                    title=title,
                    position=position,
                    status=PhaseStatus.INIT,
                )
            )
        await self.session.flush()
        return execution, await self.phases(execution)

    async def phases(self, execution: Execution) -> list[Phase]:
        rows = await self.session.scalars(
            sa.select(Phase).where(Phase.execution_id == execution.id).order_by(Phase.position)
        )
        return list(rows)

    async def phase(self, phase_id: str) -> Phase | None:
        """The phase, locked for the caller's transaction (a user's stop or retry waits for it)."""
        return await self.session.scalar(
            sa.select(Phase).where(Phase.tenant_id == self.tenant_id, Phase.id == phase_id).with_for_update()
        )

    async def phase_by_instance(self, instance_type: InstanceType, instance_id: str) -> Phase | None:
        """The phase that created the instance; a service outlives rounds, so the running phase comes first,
        then the newest."""
        return await self.session.scalar(
            sa.select(Phase)
            .where(
                Phase.tenant_id == self.tenant_id,
                Phase.instance_type == instance_type,
                Phase.instance_id == instance_id,
            )
            .order_by((Phase.status == PhaseStatus.RUNNING).desc(), Phase.created_at.desc())
            .limit(1)
        )

    async def sibling(self, phase: Phase, name: PhaseName) -> Phase | None:
        return await self.session.scalar(
            sa.select(Phase).where(Phase.execution_id == phase.execution_id, Phase.name == name)
        )
