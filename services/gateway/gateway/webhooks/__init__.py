"""Webhooks: integrations register a URL and the event types they want; each matching event is posted to it,
signed, and retried with backoff (``delivery``)."""
