"""Deployable specifications (flavors): what ``config[].specification`` may name."""

from __future__ import annotations

from inference.schemas import Specification
from shared import flavors
from shared.errors import ErrorDetail, InvalidInput

__all__ = ["ALIASES", "SPECIFICATIONS", "canonical_specification", "specifications", "triton_kind"]

SPECIFICATIONS: dict[str, Specification] = {
    s.specification: s
    for s in (
        Specification(
            specification="modelarts.vm.cpu.2u",
            category="CPU",
            cpu=2,
            memory_gb=8,
            display_en="CPU: 2 vCPUs | 8 GiB",
            is_open=True,
        ),
        Specification(
            specification="modelarts.vm.cpu.8u",
            category="CPU",
            cpu=8,
            memory_gb=32,
            display_en="CPU: 8 vCPUs | 32 GiB",
            is_open=True,
        ),
        Specification(
            specification="modelarts.vm.gpu.t4",
            category="GPU",
            cpu=8,
            memory_gb=32,
            display_en="GPU: 1 x T4 (16 GiB) | CPU: 8 vCPUs | 32 GiB",
            is_open=False,
        ),
    )
}


# Other names clients may use: our short `cpu`/`gpu` and the guide's (`Free (CPU)`, `NV_P4`…), case-folded.
ALIASES = {f.name.casefold(): f.maps_to for f in flavors.SPECIFICATIONS if f.maps_to and f.name != f.maps_to}


def canonical_specification(name: str) -> str:
    return ALIASES.get(" ".join(name.split()).casefold(), name)


def specifications(gpu_available: bool) -> list[Specification]:
    return [
        s.model_copy(update={"is_open": s.is_open or (gpu_available and s.category == "GPU")})
        for s in SPECIFICATIONS.values()
    ]


def triton_kind(name: str, gpu_available: bool, index: int | str) -> str:
    """Triton's instance kind for a specification, refusing unknown or closed ones (``index``: the entry's
    place in ``config``, or the name of the field that holds it)."""
    name = canonical_specification(name)
    spec = next((s for s in specifications(gpu_available) if s.specification == name), None)
    if spec is None or not spec.is_open:
        rule = "specification_unknown" if spec is None else "specification_unavailable"
        raise InvalidInput(
            f"specification {name!r} is not available here; see GET /v1/services/specifications",
            details=[
                ErrorDetail(
                    rule=rule,
                    msg="not an open specification",
                    field=f"{_entry_field(index)}.specification",
                    value=name,
                )
            ],
        )
    return "KIND_GPU" if spec.category == "GPU" else "KIND_CPU"


def _entry_field(index: int | str) -> str:
    return f"config.{index}" if isinstance(index, int) else index
