"""Worker of the labeling service (outbox relay, event consumers): ``python -m labeling.worker``."""

from labeling.definition import SERVICE
from shared.service import run_worker


def main() -> None:
    run_worker(SERVICE)


if __name__ == "__main__":
    main()
