"""Serving on Triton: the child server, the client, and the python-backend model.py written into model folders."""
