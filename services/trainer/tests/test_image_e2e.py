"""An image classification version trained end to end by a worker process (tiny timm model, random init)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from trainer.models import PublishedVersion

from shared.events.dataset import VersionPublished
from shared.manifest import ManifestAnnotation, ManifestLine, dump_lines
from shared.packages import load_predictor
from shared.testing.datagen import IMAGE_CLASSES, image_classification_files
from shared.testing.model_packages import download_package, watch_job
from shared.testing.platform import wait_until


async def _publish_images(platform, tenant_id: str = "tenant-a") -> tuple[dict, dict[str, tuple[bytes, str]]]:
    """Images in S3, a manifest with TRAIN/EVAL usages and classification annotations, the event."""
    dataset = platform.runtimes["dataset"]
    store = dataset.store
    files = image_classification_files(per_class=16, size=32, seed=3)
    lines, evaluation = [], {}
    for i, name in enumerate(sorted(n for n in files if n.endswith(".png"))):
        label = files[name.replace(".png", ".txt")].decode().strip()
        uri = store.uri(store.default_bucket, f"datasets/{tenant_id}/ds-img/{name}")
        await store.put(uri, files[name], content_type="image/png")
        usage = "EVAL" if i % 4 == 0 else "TRAIN"
        if usage == "EVAL":
            evaluation[str(uri)] = (files[name], label)
        lines.append(
            ManifestLine(
                source=str(uri),
                usage=usage,
                id=f"s{i}",
                sample_type=0,
                annotations=[ManifestAnnotation(type="modelarts/image_classification", name=label)],
            )
        )
    manifest = store.uri(store.default_bucket, f"datasets/{tenant_id}/ds-img/versions/V001.manifest")
    await store.put(manifest, dump_lines(lines).encode())
    event = VersionPublished(
        dataset_id="ds-img",
        version_id="v-img",
        version_name="V001",
        dataset_type=0,
        dataset_type_name="image_classification",
        manifest_uri=str(manifest),
        train_ratio=0.75,
        sample_count=len(lines),
        train_count=len(lines) - len(evaluation),
        eval_count=len(evaluation),
        labels=sorted(IMAGE_CLASSES),
    )
    async with dataset.db.session() as session:
        await dataset.outbox.add(session, event, tenant_id=tenant_id)
    trainer = platform.runtimes["trainer"]

    async def known() -> bool:
        async with trainer.db.session() as session:
            stmt = sa.select(PublishedVersion.id).where(PublishedVersion.version_id == "v-img")
            return (await session.execute(stmt)).scalar_one_or_none() is not None

    await wait_until(known, timeout=20, what="the trainer to record the image version")
    return {"dataset_id": "ds-img", "version_id": "v-img"}, evaluation


async def test_image_job_trained_by_a_worker_process(platform_factory, workers, tmp_path) -> None:
    platform = await platform_factory(
        ["dataset", "trainer"], overrides={"trainer": {"budget_cap_seconds": 60}}
    )
    version, evaluation = await _publish_images(platform)
    await workers(platform, "worker-img", EXEML_IMAGE_CANDIDATES="test_efficientnet@32")
    client = platform.client("trainer")
    created = await client.post(
        "/v1/training-jobs",
        json={
            "dataset_id": version["dataset_id"],
            "dataset_version_id": version["version_id"],
            "task_type": "image_classification",
            "parameters": {"training_preference": "performance_first"},
        },
    )
    assert created.status_code == 201, created.text

    job = await watch_job(client, created.json()["id"], {"completed", "failed", "abnormal"}, timeout=150)
    assert job["status"] == "completed", (job["error_msg"], job["logs"][-15:])
    assert job["metrics"]["eval_count"] == len(evaluation)

    # The package's predictor on the EVAL images gives the reported accuracy.
    store = platform.runtimes["trainer"].store
    folder = await download_package(store, job["package_uri"], tmp_path / "package")
    predictor = load_predictor(folder)
    answers = predictor.predict_batch([image for image, _ in evaluation.values()])
    accuracy = sum(
        a["predicted_label"] == label for a, (_, label) in zip(answers, evaluation.values())
    ) / len(answers)
    assert abs(accuracy - job["metrics"]["accuracy"]) < 1e-9, (accuracy, job["metrics"])
    assert json.loads((folder / "manifest.json").read_text())["dataset"]["version_id"] == "v-img"
