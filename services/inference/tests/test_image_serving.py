"""An image classifier (ONNX) served through the real Triton: multipart ``images``, the seed's response
shape, equal to the package's own predictor, corrupt files refused with the predictor's rule."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from shared.packages import load_predictor
from shared.testing.model_packages import deploy_version, image_package, png_bytes, upload_version
from shared.testing.platform import wait_until

pytestmark = pytest.mark.infra
TENANT = "tenant-a"


async def test_image_classification_through_triton(serving_platform) -> None:
    platform = await serving_platform(health_interval_seconds=0.3)
    registry, inference = platform.client("registry", TENANT), platform.client("inference", TENANT)
    files = image_package(0)
    version = await upload_version(registry, "flowers", files)
    service_id = await deploy_version(inference, version, "flowers", timeout=60, specification="cpu")
    image = png_bytes(48, 40, seed=3)
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            Path(tmp, name).write_bytes(data)
        expected = load_predictor(tmp).predict(image)
    for field in ("images", "file"):
        answer = await inference.post(
            f"/v1/infers/{service_id}", files={field: ("a.png", image, "image/png")}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == expected
    body = answer.json()
    assert set(body) == {"predicted_label", "scores"} and body["predicted_label"] == body["scores"][0][0]
    assert [label for label, _ in body["scores"]] and len(body["scores"]) <= 5
    assert all(isinstance(score, str) for _, score in body["scores"])  # "0.972", as the guide (ADR 0022)
    # ?numbers=true: the same answer, its scores JSON numbers of the same values
    numbers = await inference.post(
        f"/v1/infers/{service_id}",
        params={"numbers": "true"},
        files={"images": ("a.png", image, "image/png")},
    )
    assert numbers.status_code == 200, numbers.text
    assert numbers.json() == {
        "predicted_label": body["predicted_label"],
        "scores": [[label, float(score)] for label, score in body["scores"]],
    }
    assert all(type(score) is float for _, score in numbers.json()["scores"])
    assert numbers.headers["X-ExeML-Model-Version"] == answer.headers["X-ExeML-Model-Version"]

    corrupt = await inference.post(
        f"/v1/infers/{service_id}", files={"images": ("a.png", b"\x89PNGbroken", "image/png")}
    )
    assert corrupt.status_code == 400 and corrupt.json()["details"][0]["rule"].startswith("image_")
    as_json = await inference.post(f"/v1/infers/{service_id}", json={"images": "x"})
    assert as_json.status_code == 400 and as_json.json()["details"][0]["rule"] == "content_type"
    detail = (await inference.get(f"/v1/services/{service_id}")).json()
    assert detail["config"][0]["specification"] == "modelarts.vm.cpu.2u"

    # A model that disappears from Triton behind the service's back: concerning, and a 503, not a 500.
    triton = platform.runtimes["inference"].state["triton"]
    (name,) = await triton.loaded_models()
    await triton.unload(name)

    async def concerning():
        return (await inference.get(f"/v1/services/{service_id}")).json()["status"] == "concerning"

    await wait_until(concerning, timeout=45, what="service concerning")
    lost = await inference.post(f"/v1/infers/{service_id}", files={"images": ("a.png", image, "image/png")})
    assert lost.status_code == 503
    events = (await inference.get(f"/v1/services/{service_id}/events")).json()["items"]
    assert events[0]["event_type"] == "abnormal"
    assert (await inference.put(f"/v1/services/{service_id}", json={"status": "stopped"})).status_code == 200
