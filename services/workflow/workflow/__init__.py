"""ExeML workflow service: ExeML projects and their phase DAG (label, publish, check, train, register, deploy): the saga that drives the other services."""
