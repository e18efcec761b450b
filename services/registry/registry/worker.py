"""Worker of the registry service (outbox relay, event consumers): ``python -m registry.worker``."""

from registry.definition import SERVICE
from shared.service import run_worker


def main() -> None:
    run_worker(SERVICE)


if __name__ == "__main__":
    main()
