"""The image classification engine: see :mod:`.engine`."""
