"""Worker of the gateway service (outbox relay, event consumers): ``python -m gateway.worker``."""

from gateway.definition import SERVICE
from shared.service import run_worker


def main() -> None:
    run_worker(SERVICE)


if __name__ == "__main__":
    main()
