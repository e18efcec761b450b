"""Pieces every engine uses, written once: torch set-up, ONNX export and check, latency measurement,
pretrained weights from the operator's folder.

Engines import from the modules here and never write their own copy of these jobs.
"""
