"""ExeML dataset service: Datasets, samples in object storage, import tasks, published dataset versions with their manifests, data checks."""
