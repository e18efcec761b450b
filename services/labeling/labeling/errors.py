"""The labeling service's errors, each with its ModelArts code (raise these, never a bare code)."""

from shared.errors import Conflict, NotFound

__all__ = ["LabelExists", "LabelNotFound", "SampleNotFound", "ShortcutTaken"]


class LabelNotFound(NotFound):
    default_code = "ModelArts.4410"


class LabelExists(Conflict):
    default_code = "ModelArts.4411"


class ShortcutTaken(Conflict):
    """Another label of the dataset already has this one-key shortcut."""

    default_code = "ModelArts.4412"


class SampleNotFound(NotFound):
    default_code = "ModelArts.4420"
