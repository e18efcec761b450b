"""The asynchronous client: ``async with AsyncClient(url, key) as api: await api.datasets.get(id)``.

The same operations as :class:`exeml_client.Client` (from the same descriptions in :mod:`exeml_client.endpoints`),
awaited; lists and events are async iterators.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx
from httpx_sse import aconnect_sse
from tenacity import AsyncRetrying

from exeml_client import endpoints as ep
from exeml_client._core import Call, Listing, retry_policy, transport_error
from exeml_client._ops import Namespace, aop, apages
from exeml_client.errors import error_from_response
from exeml_client.events import Event, events_params
from exeml_client.models import Service
from exeml_client.predict import predict_call

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncDatasets(Namespace):
    list = apages(ep.list_datasets)
    create = aop(ep.create_dataset)
    get = aop(ep.get_dataset)
    delete = aop(ep.delete_dataset)
    import_files = aop(ep.import_files)
    import_tasks = apages(ep.list_import_tasks)
    import_task = aop(ep.get_import_task)
    sync = aop(ep.sync_dataset)
    upload = aop(ep.upload_samples)
    samples = apages(ep.list_samples)
    versions = apages(ep.list_versions)


class AsyncLabels(Namespace):
    list = apages(ep.list_labels)
    create = aop(ep.create_label)
    rename = aop(ep.rename_label)
    delete = aop(ep.delete_label)
    stats = aop(ep.label_stats)
    add = aop(ep.add_label)
    remove = aop(ep.remove_label)


class AsyncProjects(Namespace):
    list = apages(ep.list_projects)
    create = aop(ep.create_project)
    get = aop(ep.get_project)
    flavors = aop(ep.list_flavors)
    delete = aop(ep.delete_project)
    executions = aop(ep.list_executions)
    next = aop(ep.next_phase)
    retry = aop(ep.retry_phase)
    stop = aop(ep.stop_phase)
    deploy = aop(ep.deploy)
    training_job = aop(ep.get_training_job)


class AsyncModels(Namespace):
    list = apages(ep.list_models)
    versions = apages(ep.list_model_versions)
    version = aop(ep.get_model_version)

    async def export(self, model_id: str, version: str) -> bytes:
        """A version's package (tar.gz) in memory."""
        return await self._client.send(Call(ep.EXPORT, {"model_id": model_id, "version": version}))


class AsyncServices(Namespace):
    list = apages(ep.list_services)
    get = aop(ep.get_service)
    set_status = aop(ep.set_service_status)
    set_weights = aop(ep.set_service_weights)

    async def predict(
        self, service_id: str, path: Path, task_type: str | None = None, *, numbers: bool = False
    ) -> dict[str, Any]:
        task_type = task_type or (await self.get(service_id)).task_type
        return await self._client.send(predict_call(service_id, task_type, Path(path), numbers=numbers))

    async def start(self, service_id: str) -> Service:
        return await self.set_status(service_id, "running")

    async def stop(self, service_id: str) -> Service:
        return await self.set_status(service_id, "stopped")


class AsyncBatchServices(Namespace):
    list = apages(ep.list_batch_services)
    create = aop(ep.create_batch_service)
    get = aop(ep.get_batch_service)
    stop = aop(ep.stop_batch_service)
    delete = aop(ep.delete_batch_service)


class AsyncClient:
    """The ExeML API over HTTP, for asyncio. ``api_key`` goes as ``Authorization: Bearer``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url, self.max_retries = base_url.rstrip("/"), max_retries
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )
        self.datasets, self.labels, self.projects = (
            AsyncDatasets(self),
            AsyncLabels(self),
            AsyncProjects(self),
        )
        self.models, self.services = AsyncModels(self), AsyncServices(self)
        self.batch_services = AsyncBatchServices(self)

    async def send(self, call: Call[T]) -> T:
        try:
            async for attempt in AsyncRetrying(**retry_policy(call, self.max_retries)):
                with attempt:
                    return call.parse(await self._http.request(**call.request()))
        except httpx.TransportError as exc:
            raise transport_error(exc, self.base_url) from exc
        raise AssertionError("unreachable")  # tenacity re-raises the last error

    async def iterate(self, listing: Listing[T]) -> AsyncIterator[T]:
        offset: int | None = 0
        while offset is not None:
            page = await self.send(listing.page(offset))
            for item in page.items:
                yield item
            offset = listing.next_offset(offset, page)

    async def events(self, types: list[str] | None = None) -> AsyncIterator[Event]:
        timeout = httpx.Timeout(10.0, read=None)
        async with aconnect_sse(
            self._http, "GET", ep.EVENTS.template, params=events_params(types), timeout=timeout
        ) as source:
            if source.response.status_code >= 400:
                await source.response.aread()
                raise error_from_response(source.response)
            async for sse in source.aiter_sse():
                yield Event.from_sse(sse)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
