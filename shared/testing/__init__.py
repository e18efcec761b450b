"""Test support shared by every service's tests: real infrastructure fixtures and factories.

Loaded as a pytest plugin from the root ``conftest.py``. Tests that need PostgreSQL, RabbitMQ or S3
**fail** with a message naming the missing server and how to start it; they never skip.
"""
