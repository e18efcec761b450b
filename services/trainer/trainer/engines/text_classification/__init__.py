"""The text classification engine: see :mod:`.engine`."""
