"""HTTP routes: label sets and annotations under ``/v1/datasets/{dataset_id}``, the internal snapshot API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession

from labeling.annotations import AnnotationService
from labeling.labels import LabelService, label_read
from labeling.schemas import (
    ID_PATTERN,
    LABEL_NAME_PATTERN,
    AnnotationSnapshot,
    AnnotationStats,
    BatchLabel,
    BatchResult,
    BatchUpdate,
    LabelCreate,
    LabelDeleteResult,
    LabelList,
    LabelRead,
    LabelUpdate,
    SampleAnnotations,
    SampleAnnotationsUpdate,
)
from shared.auth import WriterDep
from shared.messaging import Outbox
from shared.service import RuntimeDep, ServiceRuntime, tenant_service
from shared.service.params import Offset

# Path parameters: a value outside these characters cannot name a resource (400, before any lookup).
DatasetId = Annotated[
    str,
    Path(pattern=ID_PATTERN, description="The dataset's id", examples=["3f9c2a7e41d84c0b9d7e5a1f2b3c4d5e"]),
]
SampleId = Annotated[
    str,
    Path(pattern=ID_PATTERN, description="The sample's id", examples=["c4d5e6f7a8b94c0d9e1f2a3b4c5d6e7f"]),
]
LabelName = Annotated[str, Path(pattern=LABEL_NAME_PATTERN, description="The label's name", examples=["car"])]

ServiceT = TypeVar("ServiceT")


def with_outbox(
    cls: Callable[[AsyncSession, Outbox, str], ServiceT],
) -> Callable[[AsyncSession, ServiceRuntime[Any], str], ServiceT]:
    """The factory ``tenant_service`` takes, for a service that needs only the runtime's outbox."""

    def factory(session: AsyncSession, runtime: ServiceRuntime[Any], tenant_id: str) -> ServiceT:
        return cls(session, runtime.outbox, tenant_id)

    return factory


LabelServiceDep = Annotated[LabelService, Depends(tenant_service(with_outbox(LabelService)))]
AnnotationServiceDep = Annotated[AnnotationService, Depends(tenant_service(with_outbox(AnnotationService)))]

labels_router = APIRouter(prefix="/v1/datasets/{dataset_id}/labels", tags=["labels"])
annotations_router = APIRouter(prefix="/v1/datasets/{dataset_id}/annotations", tags=["annotations"])
internal_router = APIRouter(prefix="/internal/datasets/{dataset_id}", tags=["internal"])


@labels_router.get("", response_model=LabelList, summary="List the label set of a dataset")
async def list_labels(
    dataset_id: DatasetId,
    service: LabelServiceDep,
    offset: Offset = 0,
    limit: Annotated[
        int, Query(ge=1, le=100000, description="Labels per page (1–100000)", examples=[1000])
    ] = 1000,
) -> LabelList:
    """The dataset's labels (name, colour, shortcut, attributes), oldest first."""
    dataset, page = await service.list(dataset_id, offset, limit)
    return LabelList(items=[label_read(lbl, dataset.dataset_type) for lbl in page.items], total=page.total)


@labels_router.post("", response_model=LabelRead, status_code=201, summary="Add a label")
async def create_label(
    dataset_id: DatasetId, body: LabelCreate, service: LabelServiceDep, _: WriterDep
) -> LabelRead:
    """Add a label. Names: 1–32 letters, digits, ``-``, ``_`` (text classification: Chinese characters too).
    Object detection and text classification labels need a colour (``#rrggbb``); sound labels may have a
    one-key shortcut, unique in the dataset. Duplicate name → 409 ``ModelArts.4411``, shortcut → ``4412``."""
    dataset, label = await service.create(dataset_id, body)
    return label_read(label, dataset.dataset_type)


@labels_router.put(
    "/{name}", response_model=LabelRead, summary="Rename a label, change its colour or shortcut"
)
async def update_label(
    dataset_id: DatasetId,
    name: LabelName,
    body: LabelUpdate,
    service: LabelServiceDep,
    _: WriterDep,
) -> LabelRead:
    """Change a label. A new ``name`` renames it on every sample that carries it and publishes
    ``labeling.label.renamed.v1`` plus ``labeling.annotations.changed.v1`` for those samples."""
    dataset, label = await service.update(dataset_id, name, body)
    return label_read(label, dataset.dataset_type)


@labels_router.delete("/{name}", response_model=LabelDeleteResult, summary="Delete a label")
async def delete_label(
    dataset_id: DatasetId,
    name: LabelName,
    service: LabelServiceDep,
    runtime: RuntimeDep,
    _: WriterDep,
    delete_policy: Annotated[
        int,
        Query(
            ge=0,
            le=2,
            description="0 label only; 1 also the samples that "
            "only have this label; 2 also their source files",
        ),
    ] = 0,
) -> LabelDeleteResult:
    """Delete a label with the seed's three policies. For 1 and 2 the dataset service deletes the samples
    that carry only this label (2: and their source objects); other samples just lose the label."""
    return await service.delete(dataset_id, name, delete_policy, runtime.peers)


@annotations_router.get("/stats", response_model=AnnotationStats, summary="Label statistics (All Labels)")
async def annotation_stats(dataset_id: DatasetId, service: AnnotationServiceDep) -> AnnotationStats:
    """Per label the number of objects (``count``) and of samples (``sample_count``), as ModelArts'
    ``label_stats``; ``sample_stats`` counts labeled and unlabeled samples.

    **Eventually consistent with uploads and imports**: samples reach the labeling service through the dataset
    service's events, so right after an upload or import returns the totals may still miss some of its samples
    (and the labels found in their files); they catch up within moments, as the import task's progress does.
    Labeling done through this service's own API is counted at once. ``sample_stats`` is one consistent
    reading: ``labeled + unlabeled == total``, never negative; ``label_stats`` is read beside it and may be a
    moment apart from it while an import lands."""
    return await service.stats(dataset_id)


@annotations_router.put("", response_model=BatchResult, summary="Label many samples at once")
async def update_annotations_batch(
    dataset_id: DatasetId, body: BatchUpdate, service: AnnotationServiceDep, _: WriterDep
) -> BatchResult:
    """Give each listed sample exactly the listed annotations (ModelArts' batch update; at most 1,000
    samples). Every sample is checked first; one broken rule rejects the whole batch (400)."""
    return await service.replace_batch(dataset_id, body)


@annotations_router.post("/add", response_model=BatchResult, summary="Put one label on many samples")
async def add_label_to_samples(
    dataset_id: DatasetId, body: BatchLabel, service: AnnotationServiceDep, _: WriterDep
) -> BatchResult:
    """Image classification: the label is added next to the samples' other labels. Sound and text: it
    replaces their label. Object detection needs rectangles and is labeled per sample."""
    return await service.add_label(dataset_id, body)


@annotations_router.post("/remove", response_model=BatchResult, summary="Take one label off many samples")
async def remove_label_from_samples(
    dataset_id: DatasetId, body: BatchLabel, service: AnnotationServiceDep, _: WriterDep
) -> BatchResult:
    """Remove the label (all its objects) from the listed samples; the label stays in the label set."""
    return await service.remove_label(dataset_id, body)


@annotations_router.get("/{sample_id}", response_model=SampleAnnotations, summary="Annotations of a sample")
async def get_annotations(
    dataset_id: DatasetId,
    sample_id: SampleId,
    service: AnnotationServiceDep,
) -> SampleAnnotations:
    """The sample's labels and annotations (detection: rectangles in pixels, origin top-left)."""
    return await service.read(dataset_id, sample_id)


@annotations_router.put("/{sample_id}", response_model=SampleAnnotations, summary="Label or relabel a sample")
async def put_annotations(
    dataset_id: DatasetId,
    sample_id: SampleId,
    body: SampleAnnotationsUpdate,
    service: AnnotationServiceDep,
    _: WriterDep,
) -> SampleAnnotations:
    """Replace the sample's annotations (empty list: unlabeled). Image classification: one or more labels;
    object detection: rectangles inside the image; sound and text: exactly one label. Labels not yet in the
    label set are created with an automatic colour."""
    return await service.replace(dataset_id, sample_id, body.annotations)


@internal_router.get(
    "/annotations", response_model=AnnotationSnapshot, summary="Annotation snapshot (internal)"
)
async def annotation_snapshot(
    dataset_id: DatasetId,
    service: AnnotationServiceDep,
    sample_ids: Annotated[str | None, Query(description="Comma-separated sample ids (default: all)")] = None,
) -> AnnotationSnapshot:
    """For the dataset service's publish: the label set and, per labeled sample, its annotations."""
    ids = [s for s in sample_ids.split(",") if s] if sample_ids else None
    return await service.snapshot(dataset_id, ids)


def routers() -> list[APIRouter]:
    from labeling.prelabel.router import suggestions_router, tasks_router  # they import this module's types

    return [labels_router, annotations_router, tasks_router, suggestions_router, internal_router]
