"""ExeML registry service: AI applications (models) and their versions 0.0.1, 0.0.2, …, model packages and lineage."""
