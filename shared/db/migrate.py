"""Command line: ``python -m shared.db.migrate SERVICE upgrade [REV] | downgrade [REV] | check``.

Run before a service starts (compose runs it as a one-shot container); settings come from the
service's environment variables.
"""

from __future__ import annotations

import argparse
import sys

from shared.db import migrations

ACTIONS = {"upgrade": "head", "downgrade": "base"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.db.migrate", description=__doc__)
    parser.add_argument("service")
    parser.add_argument("action", choices=[*ACTIONS, "check"])
    parser.add_argument("revision", nargs="?")
    args = parser.parse_args(argv)
    if args.action == "check":
        migrations.check(args.service)
    else:
        getattr(migrations, args.action)(args.service, revision=args.revision or ACTIONS[args.action])
    print(f"{args.service}: {args.action} {args.revision or ACTIONS.get(args.action, '')} done".strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
