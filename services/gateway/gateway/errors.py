"""The gateway's own errors (raise these, never a bare code)."""

from shared.errors import NotFound

__all__ = ["WebhookNotFound"]


class WebhookNotFound(NotFound):
    """No webhook of the caller's tenant has this id."""
