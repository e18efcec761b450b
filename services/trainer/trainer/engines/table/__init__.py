"""The table engine: see :mod:`.engine`."""
