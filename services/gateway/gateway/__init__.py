"""ExeML gateway service: The one public entry point: authenticates callers, issues internal tokens, routes `/v1/...` to the services, aggregates OpenAPI, streams events."""
