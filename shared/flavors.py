"""The guide's training flavors, deployment specifications and inference hardware, mapped onto an installation.

The guide names them as the ModelArts console shows them ("Free (GPU)", "Compute-intensive 3 instance (CPU)",
the expected inference hardware ``NV_P4``); an installation runs training workers of the flavors ``cpu`` and
``gpu`` and Triton instances of the specifications ``modelarts.vm.*``. Each name here maps onto one of those,
and is available where the installation has that hardware: GPU names only where it has GPUs, NPU names never.
Tables (predictive analytics) train and serve on CPU only, as the guide's deployment table says.

A name is matched case-insensitively; an unknown name and a name this installation cannot run are both
``InvalidInput`` naming the field, the second saying so (``rule`` ``flavor_unavailable`` /
``specification_unavailable``) rather than calling the name unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from shared.errors import InvalidInput

__all__ = [
    "INFERENCE_HARDWARE",
    "SPECIFICATIONS",
    "TRAINING_FLAVORS",
    "Flavor",
    "InferenceHardware",
    "available_flavors",
    "inference_hardware",
    "resolve_specification",
    "resolve_training_flavor",
]

Category = Literal["CPU", "GPU", "NPU"]
CPU_ONLY_TYPES = frozenset({"predictive_analytics"})


@dataclass(frozen=True)
class Flavor:
    """One name a request may give, what it runs as here (``maps_to``) and the hardware it needs."""

    name: str
    maps_to: str | None  # None: nothing on any installation runs it
    category: Category
    description: str

    def available(self, project_type: str | None, gpu_available: bool) -> bool:
        if self.maps_to is None or (self.category != "CPU" and project_type in CPU_ONLY_TYPES):
            return False
        return self.category == "CPU" or (self.category == "GPU" and gpu_available)


TRAINING_FLAVORS: tuple[Flavor, ...] = (
    Flavor("cpu", "cpu", "CPU", "This installation's CPU training workers"),
    Flavor("gpu", "gpu", "GPU", "This installation's GPU training workers"),
    Flavor(
        "Free (GPU)", "gpu", "GPU", "The guide's free GPU flavor; runs on this installation's GPU workers"
    ),
    Flavor(
        "Compute-intensive 1 instance (GPU)",
        "gpu",
        "GPU",
        "The guide's pay-per-use GPU flavor; runs on this installation's GPU workers",
    ),
    Flavor(
        "ExeML (GPU)", "gpu", "GPU", "The guide's ExeML GPU flavor; runs on this installation's GPU workers"
    ),
    Flavor(
        "Compute-intensive 2 instance (NPU)", None, "NPU", "The guide's NPU flavor; no installation has NPUs"
    ),
)

SPECIFICATIONS: tuple[Flavor, ...] = (
    Flavor("modelarts.vm.cpu.2u", "modelarts.vm.cpu.2u", "CPU", "CPU: 2 vCPUs | 8 GiB"),
    Flavor("cpu", "modelarts.vm.cpu.2u", "CPU", "CPU: 2 vCPUs | 8 GiB (short name)"),
    Flavor("Free (CPU)", "modelarts.vm.cpu.2u", "CPU", "The guide's free CPU specification: 2 vCPUs | 8 GiB"),
    Flavor("modelarts.vm.cpu.8u", "modelarts.vm.cpu.8u", "CPU", "CPU: 8 vCPUs | 32 GiB"),
    Flavor(
        "Compute-intensive 3 instance (CPU)",
        "modelarts.vm.cpu.8u",
        "CPU",
        "The guide's compute-intensive CPU specification: 8 vCPUs | 32 GiB",
    ),
    Flavor(
        "modelarts.vm.gpu.t4", "modelarts.vm.gpu.t4", "GPU", "GPU: 1 x T4 (16 GiB) | CPU: 8 vCPUs | 32 GiB"
    ),
    Flavor("gpu", "modelarts.vm.gpu.t4", "GPU", "GPU: 1 x T4 (16 GiB) (short name)"),
    Flavor(
        "Compute-intensive 2 instance (GPU)",
        "modelarts.vm.gpu.t4",
        "GPU",
        "The guide's GPU specification; served on this installation's GPU (modelarts.vm.gpu.t4)",
    ),
    Flavor("NV_P4", "modelarts.vm.gpu.t4", "GPU", "The guide's P4 GPU; served on this installation's GPU"),
    Flavor("modelarts.vm.gpu.pnt004", "modelarts.vm.gpu.t4", "GPU", "ModelArts' P4 GPU specification"),
)

INFERENCE_HARDWARE: tuple[Flavor, ...] = (
    Flavor("CPU", "CPU", "CPU", "The model is chosen to answer within the time limit on CPU"),
    Flavor("GPU", "GPU", "GPU", "The model is chosen to answer within the time limit on a GPU"),
    Flavor("NV_P4", "GPU", "GPU", "The guide's name for a P4 GPU: as GPU"),
)


def _find(catalog: tuple[Flavor, ...], name: str) -> Flavor | None:
    wanted = " ".join(name.split()).casefold()
    return next((f for f in catalog if f.name.casefold() == wanted), None)


def available_flavors(
    catalog: tuple[Flavor, ...], project_type: str | None, gpu_available: bool
) -> list[tuple[Flavor, bool]]:
    """The names a project type may give, each with whether this installation runs it (tables: CPU only)."""
    return [
        (f, f.available(project_type, gpu_available))
        for f in catalog
        if project_type not in CPU_ONLY_TYPES or f.category == "CPU"
    ]


def _resolve(
    catalog: tuple[Flavor, ...], kind: str, name: str, *, field: str, project_type: str | None, gpu: bool
) -> str:
    flavor = _find(catalog, name)
    if flavor is None:
        names = ", ".join(f.name for f, _ in available_flavors(catalog, project_type, gpu))
        raise InvalidInput.for_field(
            field, f"{kind}_unknown", f"{field}: unknown {kind} {name!r}; one of: {names}", value=name
        )
    if not flavor.available(project_type, gpu) or flavor.maps_to is None:
        where = f"{project_type} projects" if project_type in CPU_ONLY_TYPES else "this installation"
        raise InvalidInput.for_field(
            field,
            f"{kind}_unavailable",
            f"{field}: {kind} {name!r} needs {flavor.category} hardware, unavailable on {where}",
            value=name,
        )
    return flavor.maps_to


def resolve_training_flavor(
    name: str, *, project_type: str | None, gpu_available: bool, field: str = "flavor"
) -> str:
    """The training queue (``cpu``/``gpu``) a flavor name runs on here; ``InvalidInput`` naming ``field``."""
    return _resolve(
        TRAINING_FLAVORS, "flavor", name, field=field, project_type=project_type, gpu=gpu_available
    )


def resolve_specification(
    name: str, *, project_type: str | None, gpu_available: bool, field: str = "specification"
) -> str:
    """The ``modelarts.vm.*`` specification a name is served on here; ``InvalidInput`` naming ``field``."""
    return _resolve(
        SPECIFICATIONS, "specification", name, field=field, project_type=project_type, gpu=gpu_available
    )


def inference_hardware(name: str) -> str:
    """``CPU`` or ``GPU`` for the guide's names (``NV_P4`` is GPU); an unknown name comes back unchanged.

    Expected inference hardware only steers the choice of model (its latency is measured on CPU where no
    GPU is present), so it is not refused on a CPU-only installation."""
    flavor = _find(INFERENCE_HARDWARE, name)
    return flavor.maps_to if flavor is not None and flavor.maps_to else name


InferenceHardware = Annotated[
    Literal["CPU", "GPU"],
    BeforeValidator(lambda v: inference_hardware(v) if isinstance(v, str) else v),
    Field(description="Expected inference hardware: `CPU`, `GPU`, or the guide's `NV_P4` (taken as `GPU`)"),
]
"""A request field of expected inference hardware that takes the guide's names too."""
