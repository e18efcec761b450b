"""The guide's training flavors and deployment specifications for a project type, and their mapping here."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import flavors
from workflow.schemas import DeployRequest, ProjectCreate, ProjectType

__all__ = ["FlavorCatalog", "FlavorRead", "flavor_catalog", "map_deploy_request", "map_project_flavor"]


class FlavorRead(BaseModel):
    """One name a request may give and what this installation runs it as."""

    name: str = Field(description="The name to send: the guide's (`Free (GPU)`, `NV_P4`) or ours (`cpu`)")
    category: Literal["CPU", "GPU", "NPU"]
    maps_to: str | None = Field(
        description="What it runs as here: a training queue or a `modelarts.vm.*` spec"
    )
    description: str
    available: bool = Field(description="false: refused on this installation (hardware it does not have)")


class FlavorCatalog(BaseModel):
    """What a project type may name: training flavors (`flavor`), deployment specifications
    (`specification`) and the expected inference hardware (`training_params.inference_hardware`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "project_type": "image_classification",
                    "gpu_available": False,
                    "training_flavors": [
                        {
                            "name": "cpu",
                            "category": "CPU",
                            "maps_to": "cpu",
                            "description": "This installation's CPU training workers",
                            "available": True,
                        },
                        {
                            "name": "Free (GPU)",
                            "category": "GPU",
                            "maps_to": "gpu",
                            "description": "The guide's free GPU flavor; runs on this installation's GPU workers",
                            "available": False,
                        },
                    ],
                    "specifications": [
                        {
                            "name": "Free (CPU)",
                            "category": "CPU",
                            "maps_to": "modelarts.vm.cpu.2u",
                            "description": "The guide's free CPU specification: 2 vCPUs | 8 GiB",
                            "available": True,
                        },
                        {
                            "name": "NV_P4",
                            "category": "GPU",
                            "maps_to": "modelarts.vm.gpu.t4",
                            "description": "The guide's P4 GPU; served on this installation's GPU",
                            "available": False,
                        },
                    ],
                    "inference_hardware": [
                        {
                            "name": "CPU",
                            "category": "CPU",
                            "maps_to": "CPU",
                            "description": "The model is chosen to answer within the time limit on CPU",
                            "available": True,
                        }
                    ],
                }
            ]
        }
    )

    project_type: ProjectType
    gpu_available: bool = Field(description="This installation has GPUs")
    training_flavors: list[FlavorRead]
    specifications: list[FlavorRead]
    inference_hardware: list[FlavorRead]


def _listed(catalog: tuple[flavors.Flavor, ...], project_type: str, gpu: bool) -> list[FlavorRead]:
    return [
        FlavorRead(
            name=f.name,
            category=f.category,
            maps_to=f.maps_to,
            description=f.description,
            available=available,
        )
        for f, available in flavors.available_flavors(catalog, project_type, gpu)
    ]


def flavor_catalog(project_type: ProjectType, gpu_available: bool) -> FlavorCatalog:
    return FlavorCatalog(
        project_type=project_type,
        gpu_available=gpu_available,
        training_flavors=_listed(flavors.TRAINING_FLAVORS, project_type, gpu_available),
        specifications=_listed(flavors.SPECIFICATIONS, project_type, gpu_available),
        inference_hardware=_listed(flavors.INFERENCE_HARDWARE, project_type, gpu_available),
    )


def map_project_flavor(body: ProjectCreate, gpu_available: bool) -> ProjectCreate:
    """The body with its flavor as the training queue it runs on here (400 naming `flavor` otherwise)."""
    flavor = flavors.resolve_training_flavor(
        body.flavor, project_type=body.project_type, gpu_available=gpu_available
    )
    return body.model_copy(update={"flavor": flavor})


def map_deploy_request(body: DeployRequest, project_type: str, gpu_available: bool) -> DeployRequest:
    """The body with each specification as the one served here (400 naming the field otherwise)."""

    def served(name: str, field: str) -> str:
        return flavors.resolve_specification(
            name, project_type=project_type, gpu_available=gpu_available, field=field
        )

    config = [
        entry.model_copy(update={"specification": served(entry.specification, f"config.{i}.specification")})
        for i, entry in enumerate(body.config or [])
    ]
    return body.model_copy(
        update={
            "specification": served(body.specification, "specification"),
            "config": config or body.config,
        }
    )
