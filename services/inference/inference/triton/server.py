"""A Triton server started as a child process (embedded mode and tests).

The ``nvidia-pytriton`` wheel bundles a real ``tritonserver`` with the python backend; it lives in its own
venv (``.venv-triton``, numpy 1.26, made by ``make install``). The server runs in explicit model-control
mode on free local ports; :meth:`TritonProcess.start` waits until it is ready, :meth:`stop` ends it.
In compose the official Triton container runs instead and ``triton_url`` points at it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from shared.logging import get_logger

__all__ = ["TritonProcess", "TritonUnavailable", "default_triton_venv"]

log = get_logger(__name__)


class TritonUnavailable(RuntimeError):
    """The bundled Triton cannot be started (venv missing, server exited, not ready in time)."""


def default_triton_venv() -> Path:
    """``.venv-triton`` at the repository root (where ``make install`` creates it)."""
    return Path(__file__).resolve().parents[4] / ".venv-triton"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TritonProcess:
    """One ``tritonserver`` child process serving ``repository`` (a local folder)."""

    def __init__(self, repository: Path, venv: Path | None = None, *, ready_timeout: float = 60.0) -> None:
        self.repository = Path(repository)
        self.venv = Path(venv or default_triton_venv())
        self.ready_timeout = ready_timeout
        self.http_port = 0
        self._process: asyncio.subprocess.Process | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    def _paths(self) -> tuple[Path, Path]:
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        site = self.venv / "lib" / version / "site-packages"
        server = site / "pytriton" / "tritonserver"
        if not (server / "bin" / "tritonserver").is_file():
            raise TritonUnavailable(
                f"no tritonserver in {self.venv}: run `make install` to create .venv-triton"
            )
        return site, server

    def command(self) -> list[str]:
        _site, server = self._paths()
        return [
            str(server / "bin" / "tritonserver"),
            f"--model-repository={self.repository}",
            f"--backend-directory={server / 'backends'}",
            "--model-control-mode=explicit",
            "--http-address=127.0.0.1",
            f"--http-port={self.http_port}",
            f"--grpc-port={_free_port()}",
            "--allow-grpc=false",
            "--allow-metrics=false",
            "--log-verbose=0",
        ]

    def environment(self) -> dict[str, str]:
        site, _server = self._paths()
        env = dict(os.environ)
        # The python backend stub runs the first `python3` on PATH: it must be the Triton venv's.
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '')}"
        env["LD_LIBRARY_PATH"] = f"{site / 'nvidia_pytriton.libs'}:{env.get('LD_LIBRARY_PATH', '')}"
        # Parallelism comes from model instances (compute nodes); runtimes' own thread pools would only
        # fight over the same cores (LightGBM with OpenMP is 5-10x slower per request that way).
        env.setdefault("OMP_NUM_THREADS", "1")
        env.pop("PYTHONPATH", None)
        env.pop("VIRTUAL_ENV", None)
        return env

    async def start(self) -> str:
        """Start the server and wait until it is ready; returns its ``host:port``."""
        self.repository.mkdir(parents=True, exist_ok=True)
        self.http_port = _free_port()
        # Opened once at start (a local file, instantly), closed in stop(): the child writes to it.
        self._log_file = open(self.repository.parent / f"tritonserver-{self.http_port}.log", "ab")  # noqa: SIM115, ASYNC230  # open while the child runs (above)
        self._process = await asyncio.create_subprocess_exec(
            *self.command(),
            env=self.environment(),
            stdout=self._log_file,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        await self._wait_ready()
        log.info("triton started", url=self.url, pid=self._process.pid, repository=str(self.repository))
        return self.url

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self._process is not None and self._process.returncode is not None:
                    raise TritonUnavailable(
                        f"tritonserver exited with {self._process.returncode}: {self.log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://{self.url}/v2/health/ready")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        await self.stop()
        raise TritonUnavailable(f"tritonserver not ready after {self.ready_timeout:.0f}s: {self.log_tail()}")

    def log_tail(self, size: int = 2000) -> str:
        path = self.repository.parent / f"tritonserver-{self.http_port}.log"
        return path.read_bytes()[-size:].decode(errors="replace") if path.exists() else ""

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
