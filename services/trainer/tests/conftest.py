"""Fixtures of the trainer tests: generated tables (numeric, categorical and missing values, a learnable
label)."""

from __future__ import annotations

import csv
import io
import time
from types import SimpleNamespace

import numpy as np
import pytest

from shared.testing.processes import ModuleProcess

COLUMNS = ["age", "income", "city", "plan", "visits", "class"]
SCHEMA = [
    {"name": "age", "type": "int"},
    {"name": "income", "type": "float"},
    {"name": "city", "type": "string"},
    {"name": "plan", "type": "string"},
    {"name": "visits", "type": "int"},
    {"name": "class", "type": "string"},
]


def make_rows(n: int, seed: int = 0, regression: bool = False) -> list[list[str]]:
    """Rows as CSV cells; the label depends on income, city and plan (learnable, not trivial)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        age = int(rng.integers(18, 80))
        income = float(rng.normal(50, 15))
        city = str(rng.choice(["paris", "lyon", "nice", "lille"]))
        plan = str(rng.choice(["free", "pro", "team"]))
        visits = int(rng.poisson(5))
        score = (
            0.05 * (income - 50)
            + (1.2 if city in ("paris", "nice") else -0.8)
            + {"free": -1, "pro": 0.5, "team": 1.0}[plan]
        )
        score += rng.normal(0, 0.5)
        label = f"{score * 10 + 100:.3f}" if regression else ("yes" if score > 0 else "no")
        cells = [str(age), f"{income:.2f}", city, plan, str(visits), label]
        if rng.random() < 0.08:
            cells[1] = ""  # missing income
        if rng.random() < 0.05:
            cells[2] = "NA"  # missing city
        rows.append(cells)
    return rows


def to_csv(rows: list[list[str]], header: bool = True) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue().encode()


def as_request_rows(rows: list[list[str]]) -> list[dict[str, str]]:
    """Rows as prediction request objects (label column left out)."""
    return [dict(zip(COLUMNS[:-1], r[:-1])) for r in rows]


def train_context(data, work_dir, budget: float, **params):
    """An engine test's ``TrainContext``: ``params`` as its ``TrainingParams``, ``budget`` seconds from now,
    the package in ``work_dir/package``."""
    from trainer.engines.base import TrainContext, TrainingParams

    return TrainContext(
        params=TrainingParams(**params),
        data=data,
        work_dir=work_dir,
        package_dir=work_dir / "package",
        deadline=time.monotonic() + budget,
        packaging_margin_seconds=2.0,
        log=lambda line: None,
    )


@pytest.fixture(name="train_context", scope="session")
def train_context_fixture():
    """``train_context(data, work_dir, budget, **params)``: see :func:`train_context`."""
    return train_context


# -- platform helpers ------------------------------------------------------------------------------------

WORKER_ENV = {  # short leases so that crash tests take seconds, not minutes
    "EXEML_TRAINER_LEASE_SECONDS": "3",
    "EXEML_TRAINER_HEARTBEAT_SECONDS": "0.5",
    "EXEML_TRAINER_SWEEP_SECONDS": "0.5",
    "EXEML_TRAINER_WORKER_POLL_SECONDS": "0.2",
    "EXEML_TRAINER_LOG_JSON": "false",
}


async def announce_version(platform, event, tenant_id: str) -> None:
    """Publish ``dataset.version.published.v1`` through the dataset service's outbox and wait until the
    trainer's read model knows the version."""
    import sqlalchemy as sa
    from trainer.models import PublishedVersion

    from shared.testing.platform import wait_until

    dataset = platform.runtimes["dataset"]
    async with dataset.db.session() as session:
        await dataset.outbox.add(session, event, tenant_id=tenant_id)
    trainer = platform.runtimes["trainer"]

    async def known() -> bool:
        async with trainer.db.session() as session:
            stmt = sa.select(PublishedVersion.id).where(PublishedVersion.version_id == event.version_id)
            return (await session.execute(stmt)).scalar_one_or_none() is not None

    await wait_until(known, timeout=20, what=f"the trainer to record version {event.version_id}")


async def publish_manifest_version(
    platform,
    tenant_id: str,
    lines: list,
    *,
    dataset_id: str,
    version_id: str,
    dataset_type: int,
    train_ratio: float,
    labels: list[str],
) -> None:
    """Write a version's manifest (``lines``, their usages TRAIN or EVAL) to S3 and announce it as published
    (:func:`announce_version`)."""
    from shared.events.dataset import DATASET_TYPES, VersionPublished
    from shared.manifest import dump_lines

    store = platform.runtimes["dataset"].store
    manifest = store.uri(store.default_bucket, f"datasets/{tenant_id}/{dataset_id}/versions/V001.manifest")
    await store.put(manifest, dump_lines(lines).encode())
    eval_count = sum(line.usage == "EVAL" for line in lines)
    event = VersionPublished(
        dataset_id=dataset_id,
        version_id=version_id,
        version_name="V001",
        dataset_type=dataset_type,
        dataset_type_name=DATASET_TYPES[dataset_type],
        manifest_uri=str(manifest),
        train_ratio=train_ratio,
        sample_count=len(lines),
        train_count=len(lines) - eval_count,
        eval_count=eval_count,
        labels=labels,
    )
    await announce_version(platform, event, tenant_id)


@pytest.fixture
def publish_manifest():
    """``await publish_manifest(platform, tenant_id, lines, ...)``: see :func:`publish_manifest_version`."""
    return publish_manifest_version


async def publish_table_version(
    platform,
    tenant_id: str = "tenant-a",
    *,
    n_train: int = 400,
    n_eval: int = 100,
    dataset_id: str = "ds-table",
    version_id: str | None = None,
) -> dict:
    """Write train.csv/eval.csv and a manifest to S3, announce the version through the dataset service's
    outbox (``dataset.version.published.v1``) and wait until the trainer's read model knows it."""
    from shared.context import new_id
    from shared.events.dataset import VersionPublished
    from shared.manifest import ManifestLine, dump_lines

    version_id = version_id or new_id()
    dataset = platform.runtimes["dataset"]
    store = dataset.store
    prefix = f"datasets/{tenant_id}/{dataset_id}/versions/{version_id}"
    train_rows, eval_rows = make_rows(n_train, seed=1), make_rows(n_eval, seed=2)
    train_uri = store.uri(store.default_bucket, f"{prefix}/train.csv")
    eval_uri = store.uri(store.default_bucket, f"{prefix}/eval.csv")
    await store.put(train_uri, to_csv(train_rows), content_type="text/csv")
    await store.put(eval_uri, to_csv(eval_rows), content_type="text/csv")
    manifest_uri = store.uri(store.default_bucket, f"{prefix}/V001.manifest")
    lines = [
        ManifestLine(source=str(train_uri), usage="TRAIN", sample_type=4),
        ManifestLine(source=str(eval_uri), usage="EVAL", sample_type=4),
    ]
    await store.put(manifest_uri, dump_lines(lines).encode(), content_type="application/jsonl")
    event = VersionPublished(
        dataset_id=dataset_id,
        version_id=version_id,
        version_name="V001",
        dataset_type=400,
        dataset_type_name="table",
        manifest_uri=str(manifest_uri),
        train_ratio=0.8,
        sample_count=n_train + n_eval,
        train_count=n_train,
        eval_count=n_eval,
        labels=["no", "yes"],
        label_column="class",
        table_schema=SCHEMA,
    )
    await announce_version(platform, event, tenant_id)
    return {
        "dataset_id": dataset_id,
        "version_id": version_id,
        "eval_rows": eval_rows,
        "train_rows": train_rows,
    }


class WorkerProcess(ModuleProcess):
    """``python -m trainer.worker`` started separately, as a deployment runs it."""

    def __init__(self, platform, worker_id: str, log_dir, extra_env: dict | None = None) -> None:
        import os

        env = {
            **os.environ,
            **platform.env("trainer"),
            **WORKER_ENV,
            "EXEML_TRAINER_WORKER_ID": worker_id,
            **(extra_env or {}),
        }
        self.worker_id = worker_id
        super().__init__("trainer.worker", env, log_dir / f"{worker_id}.log")

    def children(self) -> list[int]:
        from pathlib import Path

        pids: list[int] = []
        for task in Path(f"/proc/{self.pid}/task").glob("*"):
            text = (task / "children").read_text() if (task / "children").exists() else ""
            pids += [int(p) for p in text.split()]
        return pids


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as dead)."""
    from pathlib import Path

    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(")")[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.fixture
def workers(tmp_path, platform_factory):
    """Start worker processes for a platform; all are stopped after the test, before the platform."""
    started: list[WorkerProcess] = []

    async def start(platform, worker_id: str, **extra_env: str) -> WorkerProcess:
        from trainer.dispatch import job_queue_spec

        settings = platform.settings["trainer"]
        spec = job_queue_spec(settings, "cpu")
        if spec.name not in platform.cleanup_queues:
            platform.cleanup_queues.append(spec.name)
            # Declared now, as the worker will on start: a job created before then must not be unroutable.
            await platform.runtimes["trainer"].transport.declare_queue(spec)
        worker = WorkerProcess(platform, worker_id, tmp_path, extra_env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def tables() -> SimpleNamespace:
    """The helpers of this module (test modules cannot import a conftest under --import-mode=importlib)."""
    return SimpleNamespace(
        COLUMNS=COLUMNS,
        SCHEMA=SCHEMA,
        make_rows=make_rows,
        to_csv=to_csv,
        as_request_rows=as_request_rows,
        publish=publish_table_version,
        process_alive=process_alive,
        train_context=train_context,
    )
