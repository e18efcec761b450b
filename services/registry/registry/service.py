"""Rules of the registry: AI applications, version allocation, registration, deletion, export."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from registry.config import Settings
from registry.errors import ModelInUse, VersionNotPublished
from registry.models import AIApplication, ModelVersion, VersionStatus
from registry.packages import read_package, store_package, validate_package
from registry.repository import ApplicationRepository, UsageRepository, VersionRepository
from shared.context import new_id
from shared.db import Page
from shared.errors import ErrorDetail, ExeMLError
from shared.events.registry import ModelVersionDeleted, ModelVersionRegistered
from shared.service import ServiceRuntime
from shared.storage import S3Uri

__all__ = ["Registration", "RegistryService", "version_name"]

MODEL_NAME_MAX = 64


def version_name(seq: int) -> str:
    """1 -> 0.0.1, 99 -> 0.0.99, 100 -> 0.1.0: ModelArts' Digit.Digit.Digit with parts of 1-2 digits."""
    return f"{seq // 10000}.{seq // 100 % 100}.{seq % 100}"


@dataclass
class Registration:
    """What a new version records besides its package."""

    task_type: str | None = None
    project_id: str | None = None
    name_prefix: str | None = None
    model_name: str | None = None
    training_job_id: str | None = None
    dataset_id: str | None = None
    dataset_version_id: str | None = None
    engine: str | None = None
    labels: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    source_type: str = "auto"
    description: str = ""


class RegistryService:
    def __init__(self, session: AsyncSession, runtime: ServiceRuntime[Settings], tenant_id: str) -> None:
        self.runtime, self.session, self.tenant_id = runtime, session, tenant_id
        self.apps = ApplicationRepository(session, tenant_id)
        self.versions = VersionRepository(session, tenant_id)
        self.usages = UsageRepository(session, tenant_id)

    # -- registration -------------------------------------------------------------------------------

    async def register_from_storage(self, package_uri: str, reg: Registration) -> ModelVersion:
        """Copy the package at ``package_uri`` and record it as the next version (idempotent per training job)."""
        if reg.training_job_id and (existing := await self.versions.by_training_job(reg.training_job_id)):
            return existing
        version_id = new_id()
        try:
            files = await read_package(self.runtime.store, S3Uri.parse(package_uri))
            manifest = validate_package(files, source=package_uri)
        except ExeMLError as exc:
            return await self._record(version_id, reg, files=None, error=exc.error_msg)
        return await self._record(version_id, reg, files=files, manifest=manifest)

    async def register_upload(
        self, files: dict[str, bytes], reg: Registration, *, source: str
    ) -> ModelVersion:
        manifest = validate_package(files, source=source)
        return await self._record(new_id(), reg, files=files, manifest=manifest)

    async def _record(
        self,
        version_id: str,
        reg: Registration,
        *,
        files: dict[str, bytes] | None,
        manifest: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> ModelVersion:
        manifest = manifest or {}
        task_type = manifest.get("task_type") or reg.task_type or "unknown"
        app = await self._application(reg, task_type)
        prefix = self.runtime.storage_policy.platform_folder("models", self.tenant_id, app.id, version_id)
        size = await store_package(self.runtime.store, files, prefix) if files is not None else 0
        version = ModelVersion(
            id=version_id,
            application_id=app.id,
            error_msg=error,
            status=VersionStatus.FAILED if error else VersionStatus.PUBLISHED,
            package_uri=str(prefix) if files is not None else None,
            size_bytes=size,
            task_type=task_type,
            engine=reg.engine or (manifest.get("engine") or {}).get("name"),
            labels=reg.labels or list(manifest.get("labels", [])),
            metrics=reg.metrics or manifest.get("metrics", {}),
            training_job_id=reg.training_job_id,
            dataset_id=reg.dataset_id,
            dataset_version_id=reg.dataset_version_id,
            source_type=reg.source_type,
            description=reg.description,
        )
        try:
            async with self.session.begin_nested():
                version.seq = await self.apps.next_seq(app.id)
                version.version = version_name(version.seq)
                await self.versions.add(version)
        except IntegrityError:
            # The same training job registered concurrently: the other registration won.
            if reg.training_job_id and (existing := await self.versions.by_training_job(reg.training_job_id)):
                return existing
            raise
        if not error:
            await self._emit_registered(app, version)
        return version

    async def _application(self, reg: Registration, task_type: str) -> AIApplication:
        found = await (
            self.apps.by_project(reg.project_id)
            if reg.project_id
            else self.apps.by_name(reg.model_name or "")
        )
        if found is not None:
            return found
        name = reg.model_name or _generated_name(reg.name_prefix or reg.project_id or "model")
        app = AIApplication(
            name=name, project_id=reg.project_id, task_type=task_type, description=reg.description
        )
        try:
            async with self.session.begin_nested():
                await self.apps.add(app)
        except IntegrityError:
            found = await (
                self.apps.by_project(reg.project_id) if reg.project_id else self.apps.by_name(name)
            )
            if found is None:
                raise
            return found
        return app

    async def _emit_registered(self, app: AIApplication, v: ModelVersion) -> None:
        event = ModelVersionRegistered(
            model_id=app.id,
            model_name=app.name,
            model_version=v.version,
            version_id=v.id,
            project_id=app.project_id,
            task_type=v.task_type,
            package_uri=v.package_uri or "",
            training_job_id=v.training_job_id,
            dataset_id=v.dataset_id,
            dataset_version_id=v.dataset_version_id,
            engine=v.engine,
            labels=v.labels,
            metrics=v.metrics,
            source_type=v.source_type,
        )
        await self.runtime.outbox.add(self.session, event, subject=app.id, tenant_id=self.tenant_id)

    # -- deletion -----------------------------------------------------------------------------------

    async def delete_version(self, model_id: str, version: str) -> list[str]:
        app = await self.apps.get(model_id)
        row = await self.versions.get_version(model_id, version)
        await self._refuse_in_use(model_id, version)
        await self._delete(app, [row])
        return [row.version]

    async def delete_model(self, model_id: str) -> list[str]:
        app = await self.apps.get(model_id)
        await self._refuse_in_use(model_id, None)
        rows = (await self.versions.of(model_id)).items
        await self._delete(app, rows)
        await self.apps.delete(app)
        return [r.version for r in rows]

    async def _refuse_in_use(self, model_id: str, version: str | None) -> None:
        services = await self.usages.services_using(model_id, version)
        if services:
            what = f"version {version}" if version else "model"
            raise ModelInUse(
                f"{what} is used by running service(s) {', '.join(services)}: stop or delete them first",
                details=[
                    ErrorDetail(
                        rule="model_in_use", msg="used by a running service", field="model_id", value=services
                    )
                ],
            )

    async def _delete(self, app: AIApplication, rows: list[ModelVersion]) -> None:
        for row in rows:
            if row.package_uri:
                prefix = S3Uri.parse(row.package_uri)
                await self.runtime.store.delete_prefix(prefix.bucket, prefix.key.rstrip("/") + "/")
            await self.versions.delete(row)
            event = ModelVersionDeleted(
                model_id=app.id, model_name=app.name, model_version=row.version, version_id=row.id
            )
            await self.runtime.outbox.add(self.session, event, subject=app.id, tenant_id=self.tenant_id)

    # -- reads ----------------------------------------------------------------------------------------

    async def search(
        self, *, name: str | None, task_type: str | None, status: str | None, offset: int, limit: int
    ) -> tuple[Page[AIApplication], dict[str, tuple[ModelVersion, int]]]:
        """A page of AI applications and, by application id, its latest version and version count."""
        page = await self.apps.search(
            name=name, task_type=task_type, status=status, offset=offset, limit=limit
        )
        return page, await self.versions.latest([a.id for a in page.items])

    async def application(self, model_id: str) -> tuple[AIApplication, list[ModelVersion]]:
        """The AI application and every version, newest first."""
        app = await self.apps.get(model_id)
        return app, (await self.versions.of(model_id)).items

    async def versions_of(self, model_id: str, *, offset: int, limit: int) -> Page[ModelVersion]:
        await self.apps.get(model_id)
        return await self.versions.of(model_id, offset=offset, limit=limit)

    async def version(self, model_id: str, version: str) -> ModelVersion:
        await self.apps.get(model_id)
        return await self.versions.get_version(model_id, version)

    # -- export -------------------------------------------------------------------------------------

    async def package_files(self, model_id: str, version: str) -> tuple[str, dict[str, bytes]]:
        """The published version's files and the folder name to pack them under (``<name>-<version>``)."""
        app = await self.apps.get(model_id)
        row = await self.versions.get_version(model_id, version)
        if row.status != VersionStatus.PUBLISHED or not row.package_uri:
            raise VersionNotPublished(f"version {version} is {row.status}: nothing to export")
        return f"{app.name}-{version}", await read_package(self.runtime.store, S3Uri.parse(row.package_uri))


def _generated_name(prefix: str) -> str:
    """``<project>-<suffix>``: the seed's rule that a generated model's name starts with its project's."""
    suffix = new_id()[:6]
    return f"{prefix[: MODEL_NAME_MAX - len(suffix) - 1]}-{suffix}"
