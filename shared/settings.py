"""Settings every service shares, read from the environment.

Each service subclasses :class:`ServiceSettings` and sets ``service_name``. A value is looked up first
under the service's own prefix (``EXEML_DATASET_DATABASE_URL``), then under the platform prefix
(``EXEML_DATABASE_URL``), then falls back to the mode's default. The **embedded** mode (the default) needs
no configuration at all: SQLite files and a local object store under ``EXEML_DATA_DIR`` (``.exeml``), an
in-memory bus. The **distributed** mode has no defaults for anything that points at infrastructure or is
a secret, so a misconfigured deployment fails at start with the name of the missing variable.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

__all__ = ["RuntimeMode", "ServiceSettings", "SettingsError"]

RuntimeMode = Literal["embedded", "distributed"]
PLATFORM_PREFIX = "EXEML_"


class SettingsError(ValueError):
    """A required setting is missing or inconsistent; the message names the environment variable."""


class ServiceSettings(BaseSettings):
    """Base settings of one service. Subclasses set ``service_name`` and add their own fields."""

    service_name: ClassVar[str] = "service"

    model_config = SettingsConfigDict(extra="ignore", validate_default=True)

    mode: RuntimeMode = "embedded"
    data_dir: Path = Path(".exeml")
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = True

    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; embedded default: a SQLite file per service"
    )
    db_schema: str | None = Field(
        default=None, description="PostgreSQL schema owning this service's tables (default: service name)"
    )
    db_echo: bool = False

    bus: Literal["memory", "rabbitmq"] | None = None
    amqp_url: str | None = None
    bus_delivery_limit: int = Field(default=5, ge=1, le=100)
    bus_prefetch: int = Field(default=16, ge=1, le=1000)
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    bus_namespace: str = Field(
        default="exeml",
        pattern=r"^[a-z][a-z0-9_-]{0,40}$",
        description="Prefix of exchanges (<ns>.events) and queues; only tests change it, to isolate runs",
    )

    storage: Literal["local", "s3"] | None = None
    storage_root: Path | None = None
    storage_bucket: str = "exeml"
    s3_endpoint: str | None = None
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    storage_grants: dict[str, list[str]] = Field(
        default={},
        description="Operator grants (JSON): tenant id -> s3:// buckets or prefixes it may name besides its own "
        'areas of the platform bucket, e.g. {"acme": ["s3://acme-data/"]} (docs/adr/0008-storage-tenancy.md)',
    )
    storage_platform_areas: list[str] = Field(
        default=[],
        description="s3:// prefixes the platform keeps for itself besides models/, training/, triton/, manifests/ "
        "and internal/ of the platform bucket (e.g. a Triton repository in its own bucket): no path reaches them",
    )
    max_json_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Largest JSON request body (413 above)"
    )
    max_json_depth: int = Field(
        default=64, ge=4, le=500, description="Deepest nesting of a JSON body (400 above)"
    )

    internal_token_secret: SecretStr | None = None
    internal_token_ttl_seconds: int = Field(default=900, ge=10)
    public_base_url: str = "http://127.0.0.1:8000"

    # Peers: base URLs of the other services (distributed mode). In the embedded mode the apps are
    # reached in-process and these stay unset.
    dataset_url: str | None = Field(default=None, description="Base URL of the dataset service")
    labeling_url: str | None = Field(default=None, description="Base URL of the labeling service")
    trainer_url: str | None = Field(default=None, description="Base URL of the trainer service")
    registry_url: str | None = Field(default=None, description="Base URL of the registry service")
    inference_url: str | None = Field(default=None, description="Base URL of the inference service")
    workflow_url: str | None = Field(default=None, description="Base URL of the workflow service")
    request_timeout_seconds: float = Field(
        default=60.0, gt=0, description="Timeout of calls to other services"
    )

    @classmethod
    def env_prefix(cls) -> str:
        return f"{PLATFORM_PREFIX}{cls.service_name.upper()}_"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        service_env = EnvSettingsSource(settings_cls, env_prefix=cls.env_prefix())
        platform_env = EnvSettingsSource(settings_cls, env_prefix=PLATFORM_PREFIX)
        return init_settings, service_env, platform_env, file_secret_settings

    @model_validator(mode="after")
    def _fill_mode_defaults(self) -> ServiceSettings:
        if self.mode == "embedded":
            self._fill_embedded_defaults()
        else:
            self._require_distributed()
        if self.db_schema is None:
            self.db_schema = self.service_name
        return self

    def _fill_embedded_defaults(self) -> None:
        data_dir = self.data_dir
        self.database_url = (
            self.database_url or f"sqlite+aiosqlite:///{data_dir / (self.service_name + '.db')}"
        )
        self.bus = self.bus or "memory"
        self.storage = self.storage or "local"
        self.storage_root = self.storage_root or data_dir / "objects"
        if self.bus == "rabbitmq" and not self.amqp_url:
            self.amqp_url = "amqp://guest:guest@127.0.0.1:5672/"

    def _require_distributed(self) -> None:
        self.bus = self.bus or "rabbitmq"
        self.storage = self.storage or "s3"
        required: dict[str, Any] = {
            "DATABASE_URL": self.database_url,
            "INTERNAL_TOKEN_SECRET": self.internal_token_secret,
        }
        if self.bus == "rabbitmq":
            required["AMQP_URL"] = self.amqp_url
        if self.storage == "s3":
            required |= {
                "S3_ENDPOINT": self.s3_endpoint,
                "S3_ACCESS_KEY": self.s3_access_key,
                "S3_SECRET_KEY": self.s3_secret_key,
            }
        elif self.storage_root is None:
            required["STORAGE_ROOT"] = None
        missing = [
            f"{PLATFORM_PREFIX}{name} (or {self.env_prefix()}{name})"
            for name, v in required.items()
            if v in (None, "")
        ]
        if missing:
            raise SettingsError(f"{self.service_name}: distributed mode needs " + ", ".join(missing))

    def ensure_token_secret(self) -> SecretStr:
        """The internal-token secret; in the embedded mode without one configured, the installation's own,
        kept under the data dir (created on the first start, so tokens survive a restart of ``make run``).

        Called when a runtime is built, not while validating: reading settings has no side effect."""
        if self.internal_token_secret is None:
            if not self.is_embedded:  # the validator already refused this; a caller cleared it
                raise SettingsError(f"{self.service_name}: {PLATFORM_PREFIX}INTERNAL_TOKEN_SECRET is not set")
            self.internal_token_secret = SecretStr(_embedded_secret(self.data_dir))
        return self.internal_token_secret

    def bus_queue(self, base: str) -> str:
        """The broker name of queue ``base`` (``dataset.events``, ``trainer.jobs.cpu``) in this namespace."""
        return base if self.bus_namespace == "exeml" else f"{self.bus_namespace}.{base}"

    @property
    def is_embedded(self) -> bool:
        return self.mode == "embedded"


def _embedded_secret(data_dir: Path) -> str:
    """A per-installation secret kept under the data dir, so tokens survive a restart of ``make run``."""
    path = data_dir / "internal-token-secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value
