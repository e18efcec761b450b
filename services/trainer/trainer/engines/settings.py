"""What an operator sets for the engines, read from the environment (``EXEML_…``) as one settings class.

Engines run in the worker's child process (and directly in tests and benches), so they read these where they
need them, through :func:`engine_settings`, rather than from ``os.environ`` here and there: the names, types
and defaults are declared once, here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["EngineSettings", "engine_settings"]


class EngineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXEML_", extra="ignore")

    pretrained_dir: Path | None = Field(
        default=None,
        description="Folder of pretrained weights (timm/safetensors files); never downloaded. Unset: random init",
    )
    torch_threads: int | None = Field(
        default=None,
        ge=1,
        description="Torch intra-op threads of a training (default: half the cores, at most 8)",
    )
    detection_candidates: str | None = Field(
        default=None,
        description="Object detection: the candidates to try instead of the plan's, e.g. 'resnet10t@128,scratch@96'",
    )
    image_candidates: str | None = Field(
        default=None,
        description="Image classification: the candidates to try instead of the plan's, e.g. 'resnet18@224'",
    )


def engine_settings() -> EngineSettings:
    """The engines' settings as the environment holds them now (read on each call: cheap, and a test's
    ``monkeypatch.setenv`` applies)."""
    return EngineSettings()
