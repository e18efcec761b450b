"""Publishing a dataset version: freeze samples and annotations into a manifest (or CSV files for tables)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from dataset.config import Settings
from dataset.leases import failure_reason, run_leased
from dataset.models import Dataset, DatasetStatus, DatasetVersion, Sample, VersionStatus
from dataset.publish_table import freeze_table
from dataset.repository import SampleRepository
from dataset.split import rarest, stratified_split
from dataset.types import KINDS, DatasetKind
from dataset.voc import write_voc
from shared.db.base import utcnow
from shared.events.dataset import VersionFailed, VersionPublished
from shared.logging import get_logger
from shared.manifest import ManifestAnnotation, ManifestLine, dump_lines, format_time
from shared.service import ServiceRuntime
from shared.storage import S3Uri
from shared.storage.tenancy import TenantStorage

__all__ = ["annotation_snapshot", "labeled_annotations", "run_publish", "version_folder"]

log = get_logger(__name__)


def version_folder(storage: TenantStorage, dataset: Dataset, version_name: str) -> S3Uri:
    """``<work_path>/<name>-<id>/annotation/<version>/`` as ModelArts lays versions out (checked again: the work
    path must still be the tenant's)."""
    return storage.child(
        dataset.work_path, f"{dataset.name}-{dataset.id}/annotation/{version_name}/", field="work_path"
    )


async def run_publish(runtime: ServiceRuntime[Settings], tenant_id: str, version_id: str) -> None:
    async def failed(exc: Exception) -> None:  # recorded on the version and told; the dataset is untouched
        async with runtime.db.session() as session:
            version = await session.get_one(DatasetVersion, version_id)
            version.status, version.error_msg = VersionStatus.FAILED, failure_reason(exc)
            dataset = await session.get(Dataset, version.dataset_id)
            if dataset is not None:
                dataset.status = DatasetStatus.NORMAL
            await runtime.outbox.add(
                session,
                VersionFailed(
                    dataset_id=version.dataset_id,
                    version_id=version.id,
                    version_name=version.name,
                    error_msg=version.error_msg,
                ),
                subject=version.dataset_id,
                tenant_id=tenant_id,
            )

    await run_leased(
        runtime,
        DatasetVersion,
        tenant_id,
        version_id,
        VersionStatus.CREATING,
        lambda: _publish(runtime, tenant_id, version_id),
        failed,
    )


async def _publish(runtime: ServiceRuntime[Settings], tenant_id: str, version_id: str) -> None:
    async with runtime.db.session() as session:
        version = await session.get_one(DatasetVersion, version_id)
        dataset = await session.get_one(Dataset, version.dataset_id)
        samples = await SampleRepository(session, tenant_id).all_of(dataset.id)
    kind = KINDS[dataset.dataset_type]
    storage = runtime.tenant_storage(tenant_id)
    folder = version_folder(storage, dataset, version.name)
    ratio = float(version.train_ratio)
    if kind.is_table:
        result = await freeze_table(storage, dataset, samples, folder, ratio, version.id)
        usage: dict[str, str] = {}
    else:
        snapshot = await annotation_snapshot(runtime, tenant_id, dataset.id)
        result, usage = await _freeze_samples(storage, kind, samples, snapshot, folder, ratio, version.id)
    async with runtime.db.session() as session:
        version = await session.get_one(DatasetVersion, version_id)
        dataset = await session.get_one(Dataset, version.dataset_id)
        for key, value in result.items():
            setattr(version, key, value)
        version.status, version.updated_at = VersionStatus.NORMAL, utcnow()
        dataset.status = DatasetStatus.NORMAL
        if usage:
            await SampleRepository(session, tenant_id).set_usage(dataset.id, usage)
        await runtime.outbox.add(
            session,
            VersionPublished(
                dataset_id=dataset.id,
                version_id=version.id,
                version_name=version.name,
                dataset_type=kind.code,
                dataset_type_name=kind.name,
                manifest_uri=version.manifest_uri,
                train_ratio=ratio,
                sample_count=version.sample_count,
                train_count=version.train_count,
                eval_count=version.eval_count,
                labels=version.labels,
                statistics=version.statistics,
                label_column=version.label_column,
                table_schema=version.table_schema,
            ),
            subject=dataset.id,
            tenant_id=tenant_id,
        )
    log.info("version published", version_id=version_id, samples=result["sample_count"])


def labeled_annotations(kind: DatasetKind, snapshot: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The annotations of labeled samples in labeling's snapshot (a detection sample: by its rectangles)."""
    annotations: dict[str, list[dict[str, Any]]] = snapshot.get("annotations", {})
    if kind.is_detection:
        annotations = {k: [a for a in v if a.get("bndbox")] for k, v in annotations.items()}
    return {k: v for k, v in annotations.items() if v}


async def annotation_snapshot(runtime: ServiceRuntime[Settings], tenant_id: str, dataset_id: str) -> Any:
    """Labeling's snapshot of a dataset's annotations: everything labeling has acknowledged (ADR 0017)."""
    return await runtime.peers.get_json(
        "labeling", f"/internal/datasets/{dataset_id}/annotations", tenant_id=tenant_id
    )


async def _freeze_samples(
    storage: TenantStorage,
    kind: DatasetKind,
    samples: list[Sample],
    snapshot: dict[str, Any],
    folder: S3Uri,
    ratio: float,
    seed: str,
) -> tuple[dict[str, Any], dict[str, str]]:
    annotations = labeled_annotations(kind, snapshot)
    labeled = [s for s in samples if annotations.get(s.id)]
    names = [[a["name"] for a in annotations[s.id]] for s in labeled]
    is_train = stratified_split(rarest(names), ratio, seed)
    lines, usage = [], {}
    stats_labels: dict[str, dict[str, Any]] = {}
    for sample, labels, train in zip(labeled, names, is_train, strict=True):
        usage[sample.id] = "TRAIN" if train else "EVAL"
        anns = annotations[sample.id]
        lines.append(await _line(storage, kind, sample, anns, usage[sample.id], folder))
        for name, objects in Counter(labels).items():
            entry = stats_labels.setdefault(
                name, {"sample_count": 0, "object_count": 0, "train": 0, "eval": 0}
            )
            entry["sample_count"] += 1
            entry["object_count"] += objects
            entry["train" if train else "eval"] += 1
    if kind.code == 200:
        _add_durations(stats_labels, labeled, names)
    manifest = folder.join(f"{folder.key.rstrip('/').rsplit('/', 1)[-1]}.manifest")
    await storage.put(manifest, dump_lines(lines).encode(), content_type="application/jsonl")
    train_count = sum(is_train)
    statistics = {
        "labels": stats_labels,
        "usage": {"TRAIN": train_count, "EVAL": len(labeled) - train_count},
        "total_sample_count": len(labeled),
        "unlabeled_count": len(samples) - len(labeled),
        "multi_label_count": sum(1 for n in names if len(set(n)) > 1),
        "label_type": "multi" if any(len(set(n)) > 1 for n in names) else "single",
    }
    result = {
        "manifest_uri": str(manifest),
        "sample_count": len(labeled),
        "train_count": train_count,
        "eval_count": len(labeled) - train_count,
        "labels": sorted(stats_labels),
        "statistics": statistics,
    }
    return result, usage


def _add_durations(stats_labels: dict[str, Any], labeled: list[Sample], names: list[list[str]]) -> None:
    """Sound: each class's seconds of audio (the check warns under 5 minutes); a class holding a clip of unknown
    length (imported before lengths were recorded) gets none."""
    seconds: dict[str, float | None] = {}
    for sample, labels in zip(labeled, names, strict=True):
        for name in set(labels):
            known = seconds.get(name, 0.0)
            seconds[name] = None if known is None or sample.duration is None else known + sample.duration
    for name, total in seconds.items():
        if total is not None:
            stats_labels[name]["duration_seconds"] = round(total, 3)


async def _line(
    storage: TenantStorage,
    kind: DatasetKind,
    sample: Sample,
    anns: list[dict[str, Any]],
    usage: str,
    folder: S3Uri,
) -> ManifestLine:
    assert kind.annotation_type is not None
    created = anns[0].get("created_at") or utcnow().isoformat()
    ctime = format_time(_parse_time(created))
    source = f"content://{sample.text}" if sample.text is not None else sample.source
    line = ManifestLine(source=source, usage=usage, id=sample.id, sample_type=sample.sample_type)
    if not kind.is_detection:
        line.annotations = [
            ManifestAnnotation(
                type=kind.annotation_type,
                name=a["name"],
                annotated_by=a.get("annotated_by") or "human",
                creation_time=ctime,
            )
            for a in anns
        ]
        return line
    objects = [
        {
            "name": a["name"],
            "bndbox": a["bndbox"],
            "pose": a.get("pose", "Unspecified"),
            "truncated": int(a.get("truncated", 0)),
            "occluded": int(a.get("occluded", 0)),
            "difficult": int(a.get("difficult", 0)),
        }
        for a in anns
        if a.get("bndbox")
    ]
    size = {"width": sample.width or 0, "height": sample.height or 0, "depth": 3}
    xml_uri = folder.join("annotation", f"{sample.id}.xml")
    filename = sample.name.rsplit("/", 1)[-1]
    await storage.put(
        xml_uri, write_voc(filename, folder.key.rstrip("/"), size, objects), content_type="application/xml"
    )
    line.annotations = [
        ManifestAnnotation(
            type=kind.annotation_type,
            annotation_loc=str(xml_uri),
            annotation_format="PASCAL VOC",
            objects=objects,
            size=size,
            annotated_by=anns[0].get("annotated_by") or "human",
            creation_time=ctime,
        )
    ]
    return line


def _parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return utcnow()
