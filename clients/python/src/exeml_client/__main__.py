"""``python -m exeml_client …`` is the ``exeml`` command."""

from exeml_client.cli import main

main()
