"""The object detection engine: see :mod:`.engine`."""
