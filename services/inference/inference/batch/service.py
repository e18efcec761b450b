"""Rules of batch services: create (version published, folders in the tenant's storage), stop, delete."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from inference.batch.repository import BatchServiceRepository
from inference.batch.results import batch_event
from inference.batch.schemas import BatchConfig, BatchServiceCreate
from inference.errors import ServiceBusy, ServiceNameExists
from inference.models import BATCH_ACTIVE, BatchService, BatchStatus
from inference.service import published_version
from inference.specs import canonical_specification, triton_kind
from shared.db import Page
from shared.errors import ErrorDetail, InvalidInput
from shared.events.inference import BatchServiceCreated
from shared.service import ServiceRuntime
from shared.storage import S3Uri
from shared.storage.tenancy import bucket_path_as_uri

__all__ = ["BatchServices"]

FIELD = "config.0"


class BatchServices:
    def __init__(self, session: AsyncSession, runtime: ServiceRuntime, tenant_id: str) -> None:
        self.session, self.runtime, self.tenant_id = session, runtime, tenant_id
        self.services = BatchServiceRepository(session, tenant_id)

    async def create(self, body: BatchServiceCreate) -> BatchService:
        if await self.services.by_name(body.service_name):
            raise ServiceNameExists(
                f"a batch service named {body.service_name} exists",
                details=[ErrorDetail(rule="service_name_unique", msg="name taken", field="service_name")],
            )
        (entry,) = body.config
        src, dest = self._folders(entry)
        kind = triton_kind(entry.specification, self.runtime.settings.gpu_available, 0)
        version = await published_version(
            self.runtime, self.tenant_id, entry.model_id, entry.model_version, FIELD
        )
        job = BatchService(
            name=body.service_name,
            description=body.description,
            status=BatchStatus.DEPLOYING,
            model_id=entry.model_id,
            model_version=entry.model_version,
            model_name=version["model_name"],
            task_type=version["task_type"],
            package_uri=version["package_uri"],
            specification=canonical_specification(entry.specification),
            instance_count=entry.instance_count,
            kind=kind,
            src_path=str(src),
            dest_path=str(dest),
            chunk_size=self.runtime.settings.batch_chunk_inputs,
        )
        await self.services.add(job)
        # The commit of this outbox row also wakes the batch runner (see inference.lifespan).
        event = batch_event(BatchServiceCreated, job)
        await self.runtime.outbox.add(self.session, event, subject=job.id, tenant_id=self.tenant_id)
        return job

    def _folders(self, entry: BatchConfig) -> tuple[S3Uri, S3Uri]:
        """Both folders resolved in the tenant's storage (403 outside it); they may not overlap, or the
        answers would be read as inputs."""
        storage = self.runtime.tenant_storage(self.tenant_id)
        src = storage.folder(bucket_path_as_uri(entry.src_path), field=f"{FIELD}.src_path")
        dest = storage.folder(bucket_path_as_uri(entry.dest_path), field=f"{FIELD}.dest_path")
        if src.bucket == dest.bucket and (src.key.startswith(dest.key) or dest.key.startswith(src.key)):
            raise InvalidInput.for_field(
                f"{FIELD}.dest_path",
                "dest_path_overlaps_src_path",
                f"dest_path {dest} and src_path {src} overlap: write the answers to another folder",
                value=entry.dest_path,
            )
        return src, dest

    async def search(
        self, *, name: str | None, status: str | None, offset: int, limit: int
    ) -> Page[BatchService]:
        return await self.services.search(name=name, status=status, offset=offset, limit=limit)

    async def get(self, service_id: str) -> BatchService:
        return await self.services.get(service_id)

    async def stop(self, service_id: str) -> BatchService:
        """Ask the worker to stop after the chunk in hand (a batch service no worker holds yet stops at the
        runner's next round); stopping a stopped one changes nothing."""
        job = await self.services.get(service_id)
        if job.status in (BatchStatus.FINISHED, BatchStatus.FAILED):
            raise ServiceBusy(f"batch service {job.name} is {job.status}: there is nothing to stop")
        if job.status in (BatchStatus.DEPLOYING, BatchStatus.RUNNING):
            job.status = BatchStatus.STOPPING
            await self.session.flush()
        return job

    async def delete(self, service_id: str) -> None:
        """Forget a batch service that is over; its result files stay where they were written."""
        job = await self.services.get(service_id)
        if job.status in BATCH_ACTIVE:
            raise ServiceBusy(f"batch service {job.name} is {job.status}: stop it first")
        await self.services.delete(job)
