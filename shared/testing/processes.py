"""Child processes of tests: a service's process started as a deployment runs it (``python -m <module>``),
for tests that kill or stop workers, its output in a log file the test can read; and code run in a fresh
interpreter (what a serving process imports)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["REPO_ROOT", "ModuleProcess", "python_output"]

REPO_ROOT = Path(__file__).resolve().parents[2]


class ModuleProcess:
    """``python -m module`` with ``env``, its stdout and stderr in ``log_path``."""

    def __init__(self, module: str, env: Mapping[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", module], env=dict(env), stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no clean-up, no lease given back."""
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s; the log is closed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def python_output(code: str, *, python: str | Path = sys.executable, timeout: float = 60) -> str:
    """The standard output of ``code`` run by a fresh ``python -c`` at the repository's root; fails the test
    with its standard error unless it exits 0."""
    done = subprocess.run(
        [str(python), "-c", code], check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
