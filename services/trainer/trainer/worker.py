"""Worker of the trainer service (outbox relay, event consumers): ``python -m trainer.worker``."""

from trainer.definition import SERVICE
from shared.service import run_worker


def main() -> None:
    run_worker(SERVICE)


if __name__ == "__main__":
    main()
