"""A service's answer as suggestions: the documented formats of each type (confidences and box coordinates
as the guide's decimal strings, ADR 0022; numbers read too), boxes clipped and filtered."""

from labeling.prelabel.answers import suggestion_from_answer


def test_classification_suggests_the_best_label_with_margin_uncertainty() -> None:
    preds, uncertainty = suggestion_from_answer(
        0, {"predicted_label": "cat", "scores": [["cat", "0.600"], ["dog", "0.300"]]}
    )
    assert preds == [{"name": "cat", "score": 0.6, "bndbox": None}] and uncertainty == 0.7
    sure, _ = suggestion_from_answer(
        200, {"predicted_label": "bark", "score": "0.990", "scores": [["bark", "0.990"]]}
    )
    assert sure == [{"name": "bark", "score": 0.99, "bndbox": None}]
    assert (
        suggestion_from_answer(
            100, {"predicted_label": "pos", "score": "0.990", "scores": [["pos", "0.990"]]}
        )[1]
        < 0.02
    )
    numbers = {"predicted_label": "cat", "scores": [["cat", 0.6], ["dog", 0.3]]}  # ?numbers=true
    assert suggestion_from_answer(0, numbers) == (preds, uncertainty)


def test_detection_boxes_become_xyxy_inside_the_image_and_weak_ones_are_dropped() -> None:
    answer = {
        "detection_classes": ["car", "bus", "car"],
        "detection_boxes": [
            ["10.00", "20.00", "50.00", "140.00"],
            ["0.00", "0.00", "5.00", "5.00"],
            ["-4.00", "90.00", "70.00", "130.00"],
        ],
        "detection_scores": ["0.900", "0.100", "0.700"],
    }
    preds, uncertainty = suggestion_from_answer(1, answer, width=120, height=60, min_box_score=0.3)
    assert [p["bndbox"] for p in preds] == [
        {"xmin": 20, "ymin": 10, "xmax": 120, "ymax": 50},
        {"xmin": 90, "ymin": 0, "xmax": 120, "ymax": 60},
    ]
    assert [p["score"] for p in preds] == [0.9, 0.7]
    assert abs(uncertainty - 0.2) < 1e-9
    numbers = {  # ?numbers=true
        **answer,
        "detection_boxes": [[float(v) for v in box] for box in answer["detection_boxes"]],
        "detection_scores": [float(s) for s in answer["detection_scores"]],
    }
    assert suggestion_from_answer(1, numbers, width=120, height=60, min_box_score=0.3) == (preds, uncertainty)
    assert suggestion_from_answer(
        1, {"detection_classes": [], "detection_boxes": [], "detection_scores": []}
    ) == ([], 1.0)
