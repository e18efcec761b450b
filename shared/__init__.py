"""ExeML's common library: settings, database, messaging, storage, errors, auth, logging.

Every service builds on these pieces; each submodule documents its public API in ``__all__``.
"""

__version__ = "0.1.0"
