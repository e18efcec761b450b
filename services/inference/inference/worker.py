"""Worker of the inference service (outbox relay, event consumers): ``python -m inference.worker``."""

from inference.definition import SERVICE
from shared.service import run_worker


def main() -> None:
    run_worker(SERVICE)


if __name__ == "__main__":
    main()
