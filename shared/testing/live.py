"""``make run``'s process for tests that speak real HTTP to it: ``python -m gateway.embedded`` on a free port
of 127.0.0.1 with its own data folder, until it answers ``/readyz``; stopped afterwards, and its log must hold no
unhandled error."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["embedded_process", "free_port", "stop_process", "wait_ready"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def embedded_process(data_dir: Path, env: dict[str, str], *, ready_timeout: float = 180) -> Iterator[str]:
    """Yield the base URL of the platform started with ``env`` (on top of this process's environment)."""
    port = free_port()
    full_env = {
        **os.environ,
        "EXEML_DATA_DIR": str(data_dir),
        "EXEML_HOST": "127.0.0.1",
        "EXEML_PORT": str(port),
        **env,
    }
    log_path = data_dir / "platform.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.embedded"], env=full_env, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, process, log_path, ready_timeout)
            yield base
        finally:
            stop_process(process)
    errors = [
        line for line in log_path.read_text(errors="replace").splitlines() if '"unhandled error"' in line
    ]
    assert not errors, "the platform logged unhandled errors:\n" + "\n".join(errors[:20])


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a child process, killing it if it has not exited within 30 s."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_ready(base: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    """Until ``base``/readyz answers 200; fails with the end of the log if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"the platform exited with {process.returncode}:\n{log_path.read_text()[-4000:]}"
            )
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(
        f"the platform did not become ready in {timeout:.0f} s:\n{log_path.read_text()[-4000:]}"
    )
