"""Worker of the dataset service (outbox relay, event consumers): ``python -m dataset.worker``."""

from dataset.definition import SERVICE
from shared.service import run_worker


def main() -> None:
    run_worker(SERVICE)


if __name__ == "__main__":
    main()
