"""Settings of the inference service (env prefix ``EXEML_INFERENCE_``, then ``EXEML_``)."""

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "inference"

    triton_url: str | None = Field(
        default=None,
        description="host:port of Triton's HTTP endpoint (compose: the official container). Unset: the service "
        "starts the Triton server bundled in .venv-triton as a child process",
    )
    triton_model_repository: Path | None = Field(
        default=None,
        description="Local folder Triton serves (explicit model control). With triton_url set and this unset, "
        "model files travel inside the load request; unset without triton_url: <data_dir>/triton-models",
    )
    triton_venv: Path | None = Field(
        default=None, description="venv holding nvidia-pytriton (default .venv-triton)"
    )
    gpu_available: bool = Field(
        default=False, description="Offer GPU specifications (Triton instance kind GPU)"
    )
    reconcile_interval_seconds: float = Field(
        default=1.0, gt=0, description="How often deployments, stops and auto stops are checked"
    )
    health_interval_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often running services' models are checked on Triton (concerning)",
    )
    unload_grace_seconds: float = Field(
        default=2.0,
        ge=0,
        description="Wait after moving traffic off a model before unloading it (in-flight calls)",
    )
    max_payload_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Largest predict request body"
    )
    triton_max_batch_size: int = Field(
        default=32,
        ge=1,
        le=1024,
        description="Most payloads Triton's dynamic batcher serves with one predictor call (one model run)",
    )
    triton_max_queue_delay_us: int = Field(
        default=0,
        ge=0,
        le=100_000,
        description="How long (microseconds) Triton's dynamic batcher waits for more requests to batch together. "
        "0: no wait, a batch is what queued while the instances were busy (bench_serving: 1000 added 2 ms to "
        "every request at concurrency 1 and cost 40 % of the image throughput at 8)",
    )
    batch_slots: int = Field(
        default=1,
        ge=0,
        le=16,
        description="Batch services this process works on at once (0: none; another worker runs them)",
    )
    batch_chunk_inputs: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="Inputs per chunk of a new batch service: a chunk's answers are one object and one "
        "checkpoint, the most a worker that dies redoes",
    )
    batch_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Lease of a worker on a batch service (renewed at each chunk and every fifth of it); a "
        "dead worker's batch service is resumed by another once it runs out",
    )
