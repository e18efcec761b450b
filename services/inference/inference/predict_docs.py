"""The OpenAPI description of ``POST /v1/infers/{service_id}``: request formats and answers per task type.

The route reads the raw request (:mod:`inference.predict`) because the format depends on the task type of
the service, so its request body is described here by hand, as ModelArts documents its predict calls:
a multipart file for images and sounds, JSON for text and tables. The answers are typed by
:data:`inference.schemas.PredictAnswer`.
"""

from __future__ import annotations

from typing import Any

from inference.schemas import (
    SERVICE_ID,
    ImageClassificationAnswer,
    ImageClassificationNumbersAnswer,
    LabelAnswer,
    LabelNumbersAnswer,
    ObjectDetectionAnswer,
    ObjectDetectionNumbersAnswer,
    TableAnswer,
)

__all__ = ["PREDICT_OPENAPI", "PREDICT_RESPONSES", "REQUEST_EXAMPLES"]

_URL = f"http://localhost:8000/v1/infers/{SERVICE_ID}"
_AUTH = '-H "Authorization: Bearer $KEY"'


def _file(description: str) -> dict[str, Any]:
    return {"type": "string", "format": "binary", "description": description}


MULTIPART_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Image classification and object detection: the image under `images` (or `file`). "
    "Sound classification: the WAV file under `sound` (or `file`, `audio`, `images`). One file.",
    "properties": {
        "images": _file("The image (JPEG, PNG, BMP, WebP) or, for sound services, the WAV file"),
        "sound": _file("Sound classification: the WAV file"),
        "file": _file("Any file-based service: the image or WAV file"),
        "audio": _file("Sound classification: the WAV file"),
    },
    "anyOf": [
        {"required": ["images"]},
        {"required": ["sound"]},
        {"required": ["file"]},
        {"required": ["audio"]},
    ],
}

TEXT_SCHEMA: dict[str, Any] = {
    "title": "TextPredictRequest",
    "type": "object",
    "description": "Text classification: the text under `text` (or `input`, as ModelArts' Python sample sends it)",
    "properties": {
        "text": {"type": "string", "description": "The text to classify (UTF-8)"},
        "input": {"type": "string", "description": "The text, when `text` is absent"},
    },
    "anyOf": [{"required": ["text"]}, {"required": ["input"]}],
}

TABLE_SCHEMA: dict[str, Any] = {
    "title": "TablePredictRequest",
    "type": "object",
    "description": "Predictive analytics: rows of feature values; `meta` is echoed in the answer",
    "required": ["data"],
    "properties": {
        "meta": {"type": "object", "description": 'Echoed in the answer, e.g. {"uuid": "…"}'},
        "data": {
            "type": "object",
            "required": ["req_data"],
            "properties": {
                "count": {"type": "integer", "description": "Number of rows (optional, ignored)"},
                "req_data": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "description": "Every feature column of the training table by "
                        "name (null = missing); the label column is ignored",
                    },
                },
            },
        },
    },
}

REQUEST_EXAMPLES: dict[str, Any] = {
    "text": {
        "summary": "Text classification",
        "value": {"text": "The delivery was fast and the product works"},
    },
    "table": {
        "summary": "Predictive analytics (bank marketing)",
        "value": {
            "meta": {"uuid": "10eb0091-887f-4839-9929-cbc884f1e20e"},
            "data": {
                "count": 1,
                "req_data": [
                    {
                        "age": 41,
                        "job": "technician",
                        "marital": "married",
                        "balance": 1270,
                        "housing": "yes",
                        "duration": 1389,
                    }
                ],
            },
        },
    },
}


def _example(model: type) -> Any:
    return model.model_config["json_schema_extra"]["examples"][0]  # type: ignore[attr-defined]  # every schema passed here sets one


ANSWER_EXAMPLES: dict[str, Any] = {
    "image_classification": {"summary": "Image classification", "value": _example(ImageClassificationAnswer)},
    "object_detection": {"summary": "Object detection", "value": _example(ObjectDetectionAnswer)},
    "sound_or_text": {"summary": "Sound or text classification", "value": _example(LabelAnswer)},
    "predictive_analytics": {"summary": "Predictive analytics", "value": _example(TableAnswer)},
    "image_classification_numbers": {
        "summary": "Image classification, ?numbers=true",
        "value": _example(ImageClassificationNumbersAnswer),
    },
    "object_detection_numbers": {
        "summary": "Object detection, ?numbers=true",
        "value": _example(ObjectDetectionNumbersAnswer),
    },
    "sound_or_text_numbers": {
        "summary": "Sound or text classification, ?numbers=true",
        "value": _example(LabelNumbersAnswer),
    },
}

_CODE_SAMPLES = [
    ("Image classification", f'curl -X POST {_URL} \\\n  {_AUTH} \\\n  -F "images=@sunflower.jpg"'),
    ("Object detection", f'curl -X POST {_URL} \\\n  {_AUTH} \\\n  -F "images=@street.png"'),
    (
        "Object detection, numbers as JSON numbers",
        f'curl -X POST "{_URL}?numbers=true" \\\n  {_AUTH} \\\n  -F "images=@street.png"',
    ),
    (
        "Sound classification",
        f'curl -X POST {_URL} \\\n  {_AUTH} \\\n  -F "sound=@doorbell.wav;type=audio/wav"',
    ),
    (
        "Text classification",
        (
            f'curl -X POST {_URL} \\\n  {_AUTH} \\\n  -H "Content-Type: application/json" \\\n'
            '  -d \'{"text": "The delivery was fast and the product works"}\''
        ),
    ),
    (
        "Predictive analytics",
        (
            f'curl -X POST {_URL} \\\n  {_AUTH} \\\n  -H "Content-Type: application/json" \\\n'
            '  -d \'{"meta": {"uuid": "10eb0091-887f-4839-9929-cbc884f1e20e"}, "data": '
            '{"req_data": [{"age": 41, "job": "technician", "marital": "married", '
            '"balance": 1270, "housing": "yes", "duration": 1389}]}}\''
        ),
    ),
]

PREDICT_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The format of the service's task type (its config's `task_type`)",
        "content": {
            "multipart/form-data": {"schema": MULTIPART_SCHEMA},
            "application/json": {
                "schema": {"anyOf": [TEXT_SCHEMA, TABLE_SCHEMA]},
                "examples": REQUEST_EXAMPLES,
            },
        },
    },
    "x-codeSamples": [{"lang": "curl", "label": label, "source": source} for label, source in _CODE_SAMPLES],
}

PREDICT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The model's answer, in the shape of the service's task type",
        "headers": {
            "X-ExeML-Model-Version": {
                "description": "The model version that answered (traffic is split by the config's weights)",
                "schema": {"type": "string", "examples": ["0.0.1"]},
            }
        },
        "content": {"application/json": {"examples": ANSWER_EXAMPLES}},
    },
}
