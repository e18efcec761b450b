"""The guide's flavor and specification names, mapped onto what an installation runs."""

from __future__ import annotations

import pytest

from shared.errors import InvalidInput
from shared.flavors import (
    TRAINING_FLAVORS,
    available_flavors,
    inference_hardware,
    resolve_specification,
    resolve_training_flavor,
)


def test_gpu_names_run_on_an_installation_with_gpus() -> None:
    assert (
        resolve_training_flavor("Free (GPU)", project_type="sound_classification", gpu_available=True)
        == "gpu"
    )
    assert resolve_specification("NV_P4", project_type="object_detection", gpu_available=True) == (
        "modelarts.vm.gpu.t4"
    )
    listed = {f.name: ok for f, ok in available_flavors(TRAINING_FLAVORS, "image_classification", True)}
    assert listed["ExeML (GPU)"] and not listed["Compute-intensive 2 instance (NPU)"]


def test_cpu_names_and_our_own_names_keep_working() -> None:
    assert resolve_training_flavor("cpu", project_type="predictive_analytics", gpu_available=False) == "cpu"
    for name, served in (
        ("cpu", "modelarts.vm.cpu.2u"),
        ("modelarts.vm.cpu.8u", "modelarts.vm.cpu.8u"),
        ("  free  (cpu) ", "modelarts.vm.cpu.2u"),
        ("Compute-intensive 3 instance (CPU)", "modelarts.vm.cpu.8u"),
    ):
        assert resolve_specification(name, project_type="predictive_analytics", gpu_available=False) == served
    assert inference_hardware("NV_P4") == "GPU" and inference_hardware("cpu") == "CPU"


@pytest.mark.parametrize(
    ("name", "project_type", "gpu", "rule"),
    [
        ("NV_P4", "text_classification", False, "specification_unavailable"),
        ("NV_P4", "predictive_analytics", True, "specification_unavailable"),
        ("huge", "text_classification", True, "specification_unknown"),
    ],
)
def test_refusals_name_the_field_and_say_why(name, project_type, gpu, rule) -> None:
    with pytest.raises(InvalidInput) as refused:
        resolve_specification(
            name, project_type=project_type, gpu_available=gpu, field="config.1.specification"
        )
    detail = refused.value.details[0]
    assert (detail.field, detail.rule, detail.value) == ("config.1.specification", rule, name)
    assert name in refused.value.error_msg
