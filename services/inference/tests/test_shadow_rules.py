"""The shadow's agreement rules per task type and its sampling, without Triton."""

from __future__ import annotations

import asyncio
from typing import Any

from inference.shadow import ShadowMirror, agrees

SHADOW = {"model_id": "m", "model_version": "0.0.2", "triton_model": "svc-x-g1-1", "share": 30}


def table(*predicts: Any) -> dict[str, Any]:
    return {"data": {"resp_data": [{"predict": p} for p in predicts]}}


def test_agreement_rules_per_task_type() -> None:
    assert agrees("image_classification", {"predicted_label": "cat"}, {"predicted_label": "cat"})
    assert not agrees("text_classification", {"predicted_label": "pos"}, {"predicted_label": "neg"})
    # detection scores are the answers' decimal strings (ADR 0022)
    live = {"detection_classes": ["face", "arm"], "detection_scores": ["0.900", "0.600"]}
    assert agrees(
        "object_detection",
        live,
        {"detection_classes": ["arm", "face", "leg"], "detection_scores": ["0.700", "0.800", "0.200"]},
    )
    assert not agrees(
        "object_detection", live, {"detection_classes": ["face"], "detection_scores": ["0.900"]}
    )
    assert not agrees(  # "0.499" < 0.5 <= "0.500": compared as numbers
        "object_detection",
        live,
        {"detection_classes": ["face", "arm"], "detection_scores": ["0.900", "0.499"]},
    )
    assert agrees(
        "object_detection", live, {"detection_classes": ["face", "arm"], "detection_scores": [0.9, 0.5]}
    )
    assert agrees("predictive_analytics", table("yes", 12.3441), table("yes", 12.3402))
    assert not agrees("predictive_analytics", table("yes", 12.3441), table("yes", 12.41))
    assert not agrees("predictive_analytics", table("yes", "no"), table("yes"))


async def test_a_share_of_requests_is_mirrored_and_failures_are_only_counted() -> None:
    draws = iter([0.1, 0.5, 0.29, 0.95] * 5)
    calls: list[str] = []

    async def infer(name: str, payload: bytes) -> dict[str, Any]:
        calls.append(name)
        if payload == b"broken":
            raise OSError("model gone")
        return {"ok": {"predicted_label": payload.decode()}}

    mirror = ShadowMirror(infer, chance=lambda: next(draws))
    shadow = SHADOW | {"task_type": "image_classification"}
    for payload in [b"cat", b"dog", b"broken", b"cat"] * 5:
        mirror.observe("svc", shadow, payload, {"predicted_label": "cat"}, 5.0)
    await asyncio.sleep(0.01)
    stats = mirror.stats("svc", ("m", "0.0.2")).summary()
    assert len(calls) == 10  # draws under 0.30: 0.1 and 0.29, on "cat" and "broken"
    assert (stats["requests"], stats["agreements"], stats["errors"]) == (5, 5, 5)
    assert stats["live_latency_ms"] == {"p50": 5.0, "p95": 5.0}
    assert mirror.stats("svc", ("m", "0.0.3")).requests == 0  # another shadow starts at zero
    await mirror.close()
