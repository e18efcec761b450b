"""ExeML labeling service: Label sets and annotations of dataset samples, label statistics."""
