"""Engines by task type: ``task_type -> "module:Class"``, imported only in the training child process.

Adding an engine is one line here (the class follows :class:`trainer.engines.base.Engine`).
"""

from __future__ import annotations

import importlib
import os

from trainer.engines.base import Engine

__all__ = ["ENGINES", "load_engine"]

# No engine may reach a model hub, whatever a library decides to do on its own (timm, transformers →
# huggingface_hub): every engine module is imported through this package, so this runs first.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ENGINES: dict[str, str] = {
    "image_classification": "trainer.engines.image_classification.engine:ImageClassificationEngine",
    "object_detection": "trainer.engines.object_detection.engine:ObjectDetectionEngine",
    "predictive_analytics": "trainer.engines.table.engine:TableEngine",
    "sound_classification": "trainer.engines.sound_classification.engine:SoundClassificationEngine",
    "text_classification": "trainer.engines.text_classification.engine:TextClassificationEngine",
}


def load_engine(task_type: str) -> Engine:
    """A fresh engine for ``task_type`` (KeyError if none is registered)."""
    module_name, class_name = ENGINES[task_type].split(":")
    return getattr(importlib.import_module(module_name), class_name)()
