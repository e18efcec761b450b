"""The synchronous client: ``Client(url, key).datasets.list()``.

Every call goes through :meth:`Client.send`: errors become typed exceptions (:mod:`exeml_client.errors`),
idempotent calls are retried with exponential backoff on connection failures and 429/502/503/504 (others only
when the request never left), lists are iterators over every page, and :meth:`Client.events` iterates the
server-sent events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx
from httpx_sse import connect_sse
from tenacity import Retrying

from exeml_client import endpoints as ep
from exeml_client._core import Call, Listing, retry_policy, transport_error
from exeml_client._ops import Namespace, op, pages
from exeml_client.errors import error_from_response
from exeml_client.events import Event, events_params
from exeml_client.models import Service
from exeml_client.predict import predict_call

__all__ = ["Client"]

T = TypeVar("T")
Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes if known)


class Datasets(Namespace):
    list = pages(ep.list_datasets)
    create = op(ep.create_dataset)
    get = op(ep.get_dataset)
    delete = op(ep.delete_dataset)
    import_files = op(ep.import_files)
    import_tasks = pages(ep.list_import_tasks)
    import_task = op(ep.get_import_task)
    sync = op(ep.sync_dataset)
    upload = op(ep.upload_samples)
    samples = pages(ep.list_samples)
    versions = pages(ep.list_versions)


class Labels(Namespace):
    list = pages(ep.list_labels)
    create = op(ep.create_label)
    rename = op(ep.rename_label)
    delete = op(ep.delete_label)
    stats = op(ep.label_stats)
    add = op(ep.add_label)
    remove = op(ep.remove_label)


class Projects(Namespace):
    list = pages(ep.list_projects)
    create = op(ep.create_project)
    get = op(ep.get_project)
    flavors = op(ep.list_flavors)
    delete = op(ep.delete_project)
    executions = op(ep.list_executions)
    next = op(ep.next_phase)
    retry = op(ep.retry_phase)
    stop = op(ep.stop_phase)
    deploy = op(ep.deploy)
    training_job = op(ep.get_training_job)


class Models(Namespace):
    list = pages(ep.list_models)
    versions = pages(ep.list_model_versions)
    version = op(ep.get_model_version)

    def export(self, model_id: str, version: str, dest: Path, progress: Progress | None = None) -> Path:
        """Download a version's package (tar.gz) to ``dest``, streamed."""
        return self._client.download(
            Call(ep.EXPORT, {"model_id": model_id, "version": version}), dest, progress
        )


class Services(Namespace):
    list = pages(ep.list_services)
    get = op(ep.get_service)
    set_status = op(ep.set_service_status)
    set_weights = op(ep.set_service_weights)

    def predict(
        self, service_id: str, path: Path, task_type: str | None = None, *, numbers: bool = False
    ) -> dict[str, Any]:
        """Predict one file in the format of the service's task type (looked up unless given). Confidences and
        box coordinates are decimal strings as in the ExeML guide (``"0.972"``); ``numbers=True`` gets them
        as numbers."""
        task_type = task_type or self.get(service_id).task_type
        return self._client.send(predict_call(service_id, task_type, Path(path), numbers=numbers))

    def start(self, service_id: str) -> Service:
        return self.set_status(service_id, "running")

    def stop(self, service_id: str) -> Service:
        return self.set_status(service_id, "stopped")


class BatchServices(Namespace):
    list = pages(ep.list_batch_services)
    create = op(ep.create_batch_service)
    get = op(ep.get_batch_service)
    stop = op(ep.stop_batch_service)
    delete = op(ep.delete_batch_service)


class Client:
    """The ExeML API over HTTP. ``api_key`` goes as ``Authorization: Bearer``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        max_retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url, self.max_retries = base_url.rstrip("/"), max_retries
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )
        self.datasets, self.labels, self.projects = Datasets(self), Labels(self), Projects(self)
        self.models, self.services = Models(self), Services(self)
        self.batch_services = BatchServices(self)

    def send(self, call: Call[T]) -> T:
        """Run ``call`` (retried where that is safe) and read its answer; raises :class:`~exeml_client.errors.APIError`."""
        try:
            for attempt in Retrying(**retry_policy(call, self.max_retries)):
                with attempt:
                    return call.parse(self._http.request(**call.request()))
        except httpx.TransportError as exc:
            raise transport_error(exc, self.base_url) from exc
        raise AssertionError("unreachable")  # tenacity re-raises the last error

    def iterate(self, listing: Listing[T]) -> Iterator[T]:
        """Every item of a list, fetching a page at a time as the loop goes."""
        offset: int | None = 0
        while offset is not None:
            page = self.send(listing.page(offset))
            yield from page.items
            offset = listing.next_offset(offset, page)

    def download(self, call: Call[Any], dest: Path, progress: Progress | None = None) -> Path:
        dest = Path(dest)
        try:
            with self._http.stream(**call.request()) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_from_response(response)
                total = (
                    int(response.headers["content-length"]) if "content-length" in response.headers else None
                )
                with dest.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                        if progress:
                            progress(response.num_bytes_downloaded, total)
        except httpx.TransportError as exc:
            raise transport_error(exc, self.base_url) from exc
        return dest

    def events(self, types: list[str] | None = None) -> Iterator[Event]:
        """The tenant's events as they happen (``types``: event types or globs such as ``workflow.*``)."""
        timeout = httpx.Timeout(10.0, read=None)  # the stream stays open; the server sends keepalives
        with connect_sse(
            self._http, "GET", ep.EVENTS.template, params=events_params(types), timeout=timeout
        ) as source:
            if source.response.status_code >= 400:
                source.response.read()
                raise error_from_response(source.response)
            for sse in source.iter_sse():
                yield Event.from_sse(sse)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
