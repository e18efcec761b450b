"""The training process: one job run, started by a worker with ``multiprocessing`` (spawn).

It reads the dataset version (manifest + files from storage), runs the engine of the task type under the
deadline, completes the package manifest and uploads the package to
``s3://<bucket>/training/<tenant>/<job_id>/package/``. It talks to its worker through a queue (progress,
log lines) and an event (stop requested), and leaves its outcome in ``result.json`` in the work folder.
It dies with its worker: a worker killed with SIGKILL leaves no orphan training on.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.packages import MANIFEST_NAME
from shared.storage import ObjectStore, S3Uri, object_store_from_settings
from shared.storage.tenancy import StoragePolicy, TenantStorage
from trainer.config import Settings
from trainer.data import VersionReadError, load_version
from trainer.engines import load_engine
from trainer.engines.base import DataError, TrainContext, TrainingParams
from trainer.quality import QUALITY_ERROR, judge

__all__ = [
    "DATA_ERROR",
    "ENGINE_ERROR",
    "QUALITY_ERROR",
    "RESULT_FILE",
    "RunSpec",
    "run_training",
    "upload_reserve_seconds",
]

RESULT_FILE = "result.json"
DATA_ERROR = "ModelArts.2791"  # the version cannot be read or trained on: not retried
ENGINE_ERROR = "ModelArts.2792"  # the engine failed unexpectedly
TRANSFER_CONCURRENCY = 8
FINISH_SECONDS = 1.5  # manifest, result file, process exit, the job row written
DEFAULT_TRANSFER_BYTES_PER_SECOND = 20e6
# A first package's size, before this worker measured one of the type (what the engines write, rounded up).
TYPICAL_PACKAGE_BYTES = {
    "predictive_analytics": 2_000_000,
    "text_classification": 30_000_000,
    "image_classification": 50_000_000,
    "object_detection": 50_000_000,
    "sound_classification": 20_000_000,
}


@dataclass
class RunSpec:
    job_id: str
    tenant_id: str
    attempt: int
    task_type: str
    parameters: dict[str, Any]
    deadline_epoch: float  # time.time() by which the whole run, package uploaded, must be done
    packaging_margin_seconds: float
    version: dict[str, Any]
    package_uri: str
    work_dir: str
    settings: Settings
    incremental_package_uri: str | None = None
    started_epoch: float = 0.0  # time.time() when the budget started
    expected_package_bytes: int | None = None  # the last package of this task type on this worker
    upload_bytes_per_second: float | None = None  # the last upload rate measured on this worker


def run_training(spec: RunSpec, channel: Any, stop: Any) -> None:
    """Entry point of the child process."""
    _die_with_parent()
    outcome = asyncio.run(_run(spec, channel, stop))
    partial = Path(spec.work_dir) / f"{RESULT_FILE}.partial"
    partial.write_text(json.dumps(outcome, default=str), encoding="utf-8")
    partial.replace(Path(spec.work_dir) / RESULT_FILE)  # whole or absent for a supervisor that looks now
    # Everything is said: leave now. Tearing down an interpreter that loaded torch, LightGBM and scikit-learn
    # takes seconds on a loaded machine, and those seconds count against the job's budget.
    channel.close()
    channel.join_thread()
    os._exit(0)


def _die_with_parent() -> None:
    parent = os.getppid()
    with contextlib.suppress(Exception):  # Linux: the kernel kills us when the worker dies
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    def watch() -> None:  # elsewhere (and as a fallback): notice being re-parented
        while True:
            if os.getppid() != parent:
                os._exit(70)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


async def _run(spec: RunSpec, channel: Any, stop: Any) -> dict[str, Any]:
    def emit(kind: str, **data: Any) -> None:
        channel.put((kind, data))

    def log(line: str) -> None:
        emit("log", line=f"{datetime.now(UTC):%H:%M:%S} {line}")

    store = object_store_from_settings(spec.settings)
    work = Path(spec.work_dir)
    try:
        emit("progress", percent=0.0, phase="loading data", metric=None)
        params = _params(spec)
        # The engine's libraries (LightGBM, optuna, torch...) take seconds to import: overlap with the download.
        engine_loading = asyncio.create_task(asyncio.to_thread(load_engine, spec.task_type))
        # The manifest and every file it names are read as the tenant: a line naming anything else fails the job.
        tenant_storage = TenantStorage(store, StoragePolicy.from_settings(spec.settings), spec.tenant_id)
        loaded = time.monotonic()
        data = await load_version(
            tenant_storage, spec.version, spec.task_type, work, params.train_ratio, params.seed
        )
        download = _Throughput(_bytes_under(work / "data"), time.monotonic() - loaded)
        if spec.incremental_package_uri:
            params = _with_previous(
                params, await _download_prefix(store, spec.incremental_package_uri, work / "previous")
            )
            log(
                f"incremental training: the engine is given the model of training job "
                f"{spec.parameters.get('incremental_training_version')} ({spec.incremental_package_uri})"
            )
        emit("progress", percent=1.0, phase="preparing data", metric=None)
        engine = await engine_loading
        log(
            f"version {spec.version.get('version_name')}: {len(data.train)} train / {len(data.eval)} eval samples"
            if data.table is None
            else f"version {spec.version.get('version_name')}: table files downloaded"
        )
        if stop.is_set() and time.time() < spec.deadline_epoch:  # the user stopped the job before training
            return {"status": "stopped"}
        if time.time() >= spec.deadline_epoch:  # a loaded machine: better the cheapest model than none
            log(
                f"the budget was spent before training began ({time.time() - spec.started_epoch:.0f}s for the "
                "process start, the data and the engine's libraries): training the cheapest model only"
            )
        reserve = upload_reserve_seconds(spec, download)
        log(
            f"downloaded {download.bytes / 1e6:.1f} MB in {download.seconds:.1f}s; {reserve:.1f}s of the budget "
            "kept for the upload"
        )
        ctx = TrainContext(
            params=params,
            data=data,
            work_dir=work,
            package_dir=work / "package",
            deadline=time.monotonic() + (spec.deadline_epoch - time.time()) - reserve,
            packaging_margin_seconds=spec.packaging_margin_seconds,
            stop_requested=stop.is_set,
            on_progress=lambda p, phase, metric: emit("progress", percent=p, phase=phase, metric=metric),
            log=log,
        )
        result = await asyncio.to_thread(engine.train, ctx)
        verdict = judge(result.quality, (result.metrics or {}).get("eval_count"))
        log(
            f"quality gate: {verdict.message}"
            if verdict.gated
            else f"quality gate skipped: {verdict.message}"
        )
        details = {"quality": verdict.record, "plan": result.plan or None}
        if not verdict.passed:
            return {"status": "error", "error_code": QUALITY_ERROR, "error_msg": verdict.message, **details}
        _complete_manifest(ctx.package_dir, spec, result.metrics, details)
        emit("progress", percent=98.0, phase="uploading", metric=None)
        upload = await _upload(store, ctx.package_dir, spec.package_uri)
        log(f"package ({upload.bytes / 1e6:.1f} MB) uploaded in {upload.seconds:.1f}s to {spec.package_uri}")
        return {
            "status": "ok",
            "engine": result.engine,
            "candidate": result.candidate,
            "metrics": result.metrics,
            "candidates": result.candidates,
            "stopped_early": result.stopped_early,
            "curves": ctx.curves,
            "package_uri": spec.package_uri,
            "labels": _labels(ctx.package_dir),
            **details,
            "upload": {"bytes": upload.bytes, "seconds": round(upload.seconds, 3)},
        }
    except (VersionReadError, DataError) as exc:
        log(f"error: {exc}")
        return {"status": "error", "error_code": DATA_ERROR, "error_msg": str(exc)}
    except Exception as exc:  # noqa: BLE001  # the job fails with the message; the trace goes to the job's log
        for line in traceback.format_exc().splitlines()[-20:]:
            log(line)
        return {"status": "error", "error_code": ENGINE_ERROR, "error_msg": f"{type(exc).__name__}: {exc}"}


@dataclass(frozen=True)
class _Throughput:
    bytes: int
    seconds: float

    @property
    def per_second(self) -> float | None:
        # Below ~1 MB a transfer is all latency: its rate says nothing about a larger package.
        return self.bytes / self.seconds if self.bytes >= 1_000_000 and self.seconds > 0 else None


def upload_reserve_seconds(spec: RunSpec, download: _Throughput) -> float:
    """Seconds of the budget kept for the upload: the package size this worker last measured for the task
    type (else the type's typical size) at the last upload's rate (else this run's download rate), doubled
    for safety, plus the fixed cost of finishing; never more than a quarter of the budget."""
    size = spec.expected_package_bytes or TYPICAL_PACKAGE_BYTES.get(spec.task_type, 20_000_000)
    rate = spec.upload_bytes_per_second or download.per_second or DEFAULT_TRANSFER_BYTES_PER_SECOND
    budget = max(0.0, spec.deadline_epoch - spec.started_epoch) if spec.started_epoch else 0.0
    reserve = FINISH_SECONDS + 2.0 * size / rate
    return min(reserve, 0.25 * budget) if budget else reserve


def _bytes_under(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def _params(spec: RunSpec) -> TrainingParams:
    p = spec.parameters
    return TrainingParams(
        preference=p.get("training_preference", "balance"),
        max_training_seconds=max(0.0, spec.deadline_epoch - time.time()),
        max_inference_ms=p.get("max_inference_duration_ms"),
        inference_hardware=p.get("inference_hardware", "CPU"),
        train_ratio=float(p.get("train_ratio", 0.8)),
        problem=p.get("problem"),
    )


def _with_previous(params: TrainingParams, folder: Path) -> TrainingParams:
    from dataclasses import replace

    return replace(params, incremental_package_dir=folder)


def _complete_manifest(
    package_dir: Path, spec: RunSpec, metrics: dict[str, Any], details: dict[str, Any]
) -> None:
    """Add what only the run knows: job, dataset version, time, training parameters, quality gate, plan."""
    path = package_dir / MANIFEST_NAME
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["training_job_id"] = spec.job_id
    manifest["created_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest["dataset"] = {k: spec.version.get(k) for k in ("dataset_id", "version_id", "version_name")}
    manifest.setdefault("metrics", metrics or {})
    manifest.setdefault("parameters", {})["training"] = spec.parameters
    if spec.incremental_package_uri:  # the model this run was given to start from
        manifest["incremental_from"] = {
            "training_job_id": spec.parameters.get("incremental_training_version"),
            "package_uri": spec.incremental_package_uri,
        }
    manifest.update({k: v for k, v in details.items() if v is not None})
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8")


def _labels(package_dir: Path) -> list[str]:
    return list(json.loads((package_dir / MANIFEST_NAME).read_text(encoding="utf-8")).get("labels", []))


async def _upload(store: ObjectStore, folder: Path, prefix_uri: str) -> _Throughput:
    prefix = S3Uri.parse(prefix_uri)
    started = time.monotonic()
    with contextlib.suppress(Exception):  # leftovers of an earlier attempt of the same job
        await store.delete_prefix(prefix.bucket, prefix.key.rstrip("/") + "/")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    gate = asyncio.Semaphore(TRANSFER_CONCURRENCY)

    async def put(path: Path) -> None:
        content_type = "application/json" if path.suffix == ".json" else "application/octet-stream"
        async with gate:
            with path.open("rb") as fh:
                await store.put(
                    prefix.join(path.relative_to(folder).as_posix()),
                    fh,
                    length=path.stat().st_size,
                    content_type=content_type,
                )

    await asyncio.gather(*(put(p) for p in files))
    return _Throughput(sum(p.stat().st_size for p in files), time.monotonic() - started)


async def _download_prefix(store: ObjectStore, prefix_uri: str, folder: Path) -> Path:
    prefix = S3Uri.parse(prefix_uri)
    key = prefix.key.rstrip("/") + "/"
    gate = asyncio.Semaphore(TRANSFER_CONCURRENCY)

    async def get(info: Any) -> None:
        target = folder / info.key[len(key) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        async with gate:
            target.write_bytes(await store.get(info.uri))

    await asyncio.gather(*(get(info) for info in await store.list(prefix.bucket, key)))
    return folder
