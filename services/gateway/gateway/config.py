"""Settings of the gateway service (env prefix ``EXEML_GATEWAY_``, then ``EXEML_``)."""

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "gateway"

    bootstrap_api_key: SecretStr | None = Field(
        default=None, description="First admin API key, registered at start"
    )
    cors_origins: list[str] = Field(
        default=[],
        description='Origins a separate web frontend is served from (JSON list), e.g. ["http://localhost:5173"]',
    )
    # Tables may be 100 MB (seed); multipart framing adds a little.
    max_request_bytes: int = Field(
        default=101 * 1024 * 1024, ge=1024, description="Largest request body accepted"
    )
    key_cache_size: int = Field(
        default=10_000,
        ge=0,
        description="API keys kept verified in memory (least recently used leave; 0: off)",
    )
    key_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a verified API key is trusted without a query; a revocation drops it at once "
        "in every gateway process connected to the bus, others see it within this time",
    )
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_backoff_seconds: float = Field(
        default=2.0, gt=0, description="First retry delay; doubles each attempt"
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_allowed_destinations: list[str] = Field(
        default=[],
        description="CIDRs and host names webhooks may reach although they are internal (JSON list), "
        'e.g. ["10.20.0.0/16", "hooks.corp"]; by default only public internet addresses are destinations',
    )
    sse_keepalive_seconds: float = Field(default=15.0, gt=0)
    console_dir: Path | None = Field(
        default=None,
        description="Built web console served at / in the embedded mode (default: frontend/dist)",
    )
