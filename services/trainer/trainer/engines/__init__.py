"""Engines by task type: ``task_type -> "module:Class"``, imported only in the training child process.

Adding an engine is one line here (the class follows :class:`trainer.engines.base.Engine`).
"""

from __future__ import annotations

import importlib

from trainer.engines.base import Engine

__all__ = ["ENGINES", "load_engine"]

ENGINES: dict[str, str] = {
    "image_classification": "trainer.engines.image_classification:ImageClassificationEngine",
    "object_detection": "trainer.engines.object_detection:ObjectDetectionEngine",
    "predictive_analytics": "trainer.engines.table:TableEngine",
    "sound_classification": "trainer.engines.sound_classification:SoundClassificationEngine",
    "text_classification": "trainer.engines.text_classification:TextClassificationEngine",
}


def load_engine(task_type: str) -> Engine:
    """A fresh engine for ``task_type`` (KeyError if none is registered)."""
    module_name, class_name = ENGINES[task_type].split(":")
    return getattr(importlib.import_module(module_name), class_name)()
