"""ExeML trainer service: Training jobs under a time budget, dispatched to workers that claim them under a lease; metrics, logs and model packages."""
