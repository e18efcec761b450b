"""Training jobs: the ``/v1/training-jobs`` resource."""
