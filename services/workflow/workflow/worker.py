"""Worker of the workflow service (outbox relay, event consumers): ``python -m workflow.worker``."""

from shared.service import run_worker
from workflow.definition import SERVICE


def main() -> None:
    run_worker(SERVICE)


if __name__ == "__main__":
    main()
