"""A service's answer as suggestions: the documented formats of each type, boxes clipped and filtered."""

from labeling.prelabel.answers import suggestion_from_answer


def test_classification_suggests_the_best_label_with_margin_uncertainty() -> None:
    preds, uncertainty = suggestion_from_answer(
        0, {"predicted_label": "cat", "scores": [["cat", 0.6], ["dog", 0.3]]}
    )
    assert preds == [{"name": "cat", "score": 0.6, "bndbox": None}] and uncertainty == 0.7
    sure, _ = suggestion_from_answer(
        200, {"predicted_label": "bark", "score": 0.99, "scores": [["bark", 0.99]]}
    )
    assert sure[0]["name"] == "bark"
    assert (
        suggestion_from_answer(100, {"predicted_label": "pos", "score": 0.99, "scores": [["pos", 0.99]]})[1]
        < 0.02
    )


def test_detection_boxes_become_xyxy_inside_the_image_and_weak_ones_are_dropped() -> None:
    answer = {
        "detection_classes": ["car", "bus", "car"],
        "detection_boxes": [[10, 20, 50, 140], [0, 0, 5, 5], [-4, 90, 70, 130]],
        "detection_scores": [0.9, 0.1, 0.7],
    }
    preds, uncertainty = suggestion_from_answer(1, answer, width=120, height=60, min_box_score=0.3)
    assert [p["bndbox"] for p in preds] == [
        {"xmin": 20, "ymin": 10, "xmax": 120, "ymax": 50},
        {"xmin": 90, "ymin": 0, "xmax": 120, "ymax": 60},
    ]
    assert abs(uncertainty - 0.2) < 1e-9
    assert suggestion_from_answer(
        1, {"detection_classes": [], "detection_boxes": [], "detection_scores": []}
    ) == ([], 1.0)
