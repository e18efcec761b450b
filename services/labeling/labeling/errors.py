"""The labeling service's errors, each with its ModelArts code (raise these, never a bare code)."""

from shared.errors import Conflict, NotFound

__all__ = [
    "LabelExists",
    "LabelNotFound",
    "PrelabelTaskNotFound",
    "SampleNotFound",
    "ServiceUnfit",
    "ShortcutTaken",
    "SuggestionNotFound",
]


class LabelNotFound(NotFound):
    default_code = "ModelArts.4410"


class LabelExists(Conflict):
    default_code = "ModelArts.4411"


class ShortcutTaken(Conflict):
    """Another label of the dataset already has this one-key shortcut."""

    default_code = "ModelArts.4412"


class SampleNotFound(NotFound):
    default_code = "ModelArts.4420"


class PrelabelTaskNotFound(NotFound):
    default_code = "ModelArts.4430"


class SuggestionNotFound(NotFound):
    default_code = "ModelArts.4431"


class ServiceUnfit(Conflict):
    """The inference service asked to pre-label cannot label this dataset (not running, other task type...)."""

    default_code = "ModelArts.4432"
