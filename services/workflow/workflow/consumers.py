"""The events that move a project's round forward (each handled once, in the inbox's transaction)."""

from __future__ import annotations

from typing import Any

from shared.messaging import EventConsumer
from shared.messaging.envelope import Envelope
from workflow.engine import WorkflowEngine


def register_consumers(consumer: EventConsumer) -> None:
    def engine(session: Any, envelope: Envelope[dict[str, Any]]) -> WorkflowEngine:
        return WorkflowEngine(session, consumer.runtime, envelope.tenantid)

    @consumer.handler("dataset.version.published.v1")
    async def version_published(session, envelope) -> None:
        data = envelope.data
        await engine(session, envelope).on_instance_done("dataset_version", data["version_id"], {
            "version_name": data.get("version_name"), "train_count": data.get("train_count"),
            "eval_count": data.get("eval_count"), "statistics": data.get("statistics", {}),
        })

    @consumer.handler("dataset.version.checked.v1")
    async def version_checked(session, envelope) -> None:
        data = envelope.data
        violations = data.get("violations", [])
        if data.get("passed"):
            await engine(session, envelope).on_instance_done("dataset_check", data["version_id"],
                                                             {"violations": violations})
            return
        errors = [v.get("msg", v.get("rule", "")) for v in violations if v.get("level") == "error"]
        await engine(session, envelope).on_instance_failed(
            "dataset_check", data["version_id"], "data check failed: " + "; ".join(errors)[:2000])

    @consumer.handler("training.job.progressed.v1")
    async def job_progressed(session, envelope) -> None:
        data = envelope.data
        await engine(session, envelope).on_progress(data["job_id"], float(data.get("progress", 0)), data.get("best_metric"))

    @consumer.handler("training.job.succeeded.v1")
    async def job_succeeded(session, envelope) -> None:
        data = envelope.data
        await engine(session, envelope).on_instance_done("training_job", data["job_id"], {
            "metrics": data.get("metrics", {}), "engine": data.get("engine"), "package_uri": data.get("package_uri"),
            "stopped_early": data.get("stopped_early", False),
        })

    @consumer.handler("training.job.failed.v1")
    async def job_failed(session, envelope) -> None:
        data = envelope.data
        await engine(session, envelope).on_instance_failed("training_job", data["job_id"],
                                                           f"{data.get('error_code')}: {data.get('error_msg')}")

    @consumer.handler("training.job.stopped.v1")
    async def job_stopped(session, envelope) -> None:
        await engine(session, envelope).on_instance_failed("training_job", envelope.data["job_id"],
                                                           "training stopped", stopped=True)

    @consumer.handler("registry.model.version.registered.v1")
    async def model_registered(session, envelope) -> None:
        data = envelope.data
        if data.get("training_job_id"):
            await engine(session, envelope).on_model_registered(data["training_job_id"], {
                "model_id": data.get("model_id"), "model_name": data.get("model_name"),
                "model_version": data.get("version") or data.get("model_version"),
                "version_id": data.get("version_id"),
            })

    @consumer.handler("inference.service.running.v1")
    async def service_running(session, envelope) -> None:
        await engine(session, envelope).on_instance_done("service", envelope.data["service_id"], {"status": "running"})

    @consumer.handler("inference.service.failed.v1")
    async def service_failed(session, envelope) -> None:
        data = envelope.data
        await engine(session, envelope).on_instance_failed("service", data["service_id"],
                                                           data.get("error_msg") or "deployment failed")
