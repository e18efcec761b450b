"""The sound classification engine: see :mod:`.engine`."""
