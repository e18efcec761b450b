"""Batch services: one model version over every input of a folder, answers as JSON Lines (ADR 0021)."""
