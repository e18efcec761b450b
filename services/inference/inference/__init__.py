"""ExeML inference service: Real-time services on Triton: deploy, traffic ratios between versions, compute nodes, auto stop, predictions."""
