"""Pieces of the Triton integration that need no server: process errors, model config, specifications."""

from __future__ import annotations

import pytest
from inference.specs import canonical_specification, triton_kind
from inference.triton.client import Batching, ModelFiles, model_config
from inference.triton.server import TritonProcess, TritonUnavailable

from shared.errors import InvalidInput


async def test_a_missing_triton_venv_names_the_fix(tmp_path) -> None:
    with pytest.raises(TritonUnavailable, match="make install"):
        await TritonProcess(tmp_path / "repo", tmp_path / "no-venv").start()


def test_model_config_carries_instances_and_kind() -> None:
    config = model_config("m", 3, "KIND_GPU")
    assert config["instance_group"] == [{"count": 3, "kind": "KIND_GPU"}]
    assert [(t["name"], t["data_type"]) for t in config["input"] + config["output"]] == [
        ("PAYLOAD", "TYPE_STRING"),
        ("RESPONSE", "TYPE_STRING"),
    ]


def test_model_config_batches_with_the_settings_queue_delay() -> None:
    config = model_config("m", 1, "KIND_CPU", Batching(max_batch_size=8, max_queue_delay_us=1500))
    assert config["max_batch_size"] == 8
    assert config["dynamic_batching"] == {"max_queue_delay_microseconds": 1500}
    assert [t["dims"] for t in config["input"] + config["output"]] == [[1], [1]]  # per row of the batch
    assert model_config("m", 1, "KIND_CPU")["max_batch_size"] > 0


def test_model_files_hold_model_py_the_predictors_and_the_package() -> None:
    files = ModelFiles.for_package({"manifest.json": b"{}", "model.onnx": b"x"}).files
    assert {
        "model.py",
        "exeml_lib/shared/__init__.py",
        "exeml_lib/shared/packages/__init__.py",
        "package/manifest.json",
        "package/model.onnx",
    } <= set(files)


def test_specifications_map_to_triton_kinds() -> None:
    assert triton_kind("modelarts.vm.cpu.2u", False, 0) == "KIND_CPU"
    assert (
        triton_kind("CPU", False, 0) == "KIND_CPU" and canonical_specification("cpu") == "modelarts.vm.cpu.2u"
    )
    assert triton_kind("modelarts.vm.gpu.t4", True, 0) == "KIND_GPU"
    with pytest.raises(InvalidInput) as closed:
        triton_kind("gpu", False, 1)
    assert closed.value.details[0].field == "config.1.specification"


def test_the_guides_specification_names_map_onto_ours() -> None:
    assert canonical_specification("Free (CPU)") == "modelarts.vm.cpu.2u"
    assert canonical_specification("compute-intensive 3 instance (CPU)") == "modelarts.vm.cpu.8u"
    assert triton_kind("Compute-intensive 3 instance (CPU)", False, 0) == "KIND_CPU"
    assert (
        triton_kind("NV_P4", True, 0)
        == triton_kind("Compute-intensive 2 instance (GPU)", True, 0)
        == "KIND_GPU"
    )
    with pytest.raises(InvalidInput) as closed:
        triton_kind("NV_P4", False, 0)
    assert closed.value.details[0].rule == "specification_unavailable"
    assert "not available here" in closed.value.error_msg
