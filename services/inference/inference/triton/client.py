"""Loading, unloading and calling ExeML models on Triton (explicit model control, ``tritonclient``).

One Triton model per deployed (service, generation, version): its version folder ``1/`` holds the generic
``model.py``, the model package under ``package/`` and a copy of ``shared/packages`` under ``exeml_lib/``.
With a local model repository (the bundled server) the files are written there and Triton is asked to load
the model; with a remote Triton (compose) they travel in the load request itself (``files=``).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import tritonclient.http.aio as triton_http
from tritonclient.utils import InferenceServerException

import shared.packages
from inference.triton.coalescing import Coalescer
from shared.storage import ObjectStore, S3Uri

__all__ = ["Batching", "ModelFiles", "TritonError", "TritonModels", "model_config"]

MODEL_PY = Path(__file__).with_name("model.py")
PACKAGES_DIR = Path(shared.packages.__file__).parent
INPUT, OUTPUT = "PAYLOAD", "RESPONSE"
# aiohttp asks for gzip by default, and Triton then compresses every answer (and we decompress it): answers
# are a few hundred bytes on a local network, so that was CPU spent on both sides for nothing.
_PLAIN_ANSWER = {"Accept-Encoding": "identity"}
# KServe v2 inference request of an [n, 1] BYTES input sent as binary data, and its one output asked for as
# binary data; the two %d are n and the binary size (each payload as a 4-byte length, then its bytes).
_INFER_HEADER = (
    b'{"inputs":[{"name":"%s","shape":[%%d,1],"datatype":"BYTES","parameters":{"binary_data_size":%%d}}],'
    b'"outputs":[{"name":"%s","parameters":{"binary_data":true}}]}' % (INPUT.encode(), OUTPUT.encode())
)
# The most payload bytes one coalesced request carries (a single larger payload still goes, alone).
MAX_COALESCED_BYTES = 16 * 1024 * 1024


def _error_text(answer: bytes) -> str:
    try:
        return str(json.loads(answer)["error"])
    except (ValueError, KeyError, TypeError):
        return answer[:500].decode("utf-8", "replace")


def _output_elements(answer: bytes, header_length: str | None, count: int) -> list[bytes]:
    """The ``count`` elements of the answer's BYTES output: after the JSON header as binary data (each a 4-byte
    length, then the bytes), or in the header's ``data`` when Triton sent it as JSON."""
    if header_length is None:
        return [str(value).encode() for value in json.loads(answer)["outputs"][0]["data"][:count]]
    elements, start = [], int(header_length)
    for _ in range(count):
        size = int.from_bytes(answer[start : start + 4], "little")
        elements.append(answer[start + 4 : start + 4 + size])
        start += 4 + size
    return elements


class TritonError(RuntimeError):
    """Triton refused or failed a load, unload or inference."""


@dataclass(frozen=True)
class Batching:
    """Triton's dynamic batcher: the requests queued when an instance is free (after waiting up to
    ``max_queue_delay_us`` for more) are served together, up to ``max_batch_size`` payloads, by one predictor
    call (one model run)."""

    max_batch_size: int = 32
    max_queue_delay_us: int = 0


@dataclass(frozen=True)
class ModelFiles:
    """The files of one model version folder: relative path -> bytes."""

    files: dict[str, bytes]

    @classmethod
    def for_package(cls, package: dict[str, bytes]) -> ModelFiles:
        files = {"model.py": MODEL_PY.read_bytes(), "exeml_lib/shared/__init__.py": b""}
        for source in sorted(PACKAGES_DIR.glob("*.py")):
            files[f"exeml_lib/shared/packages/{source.name}"] = source.read_bytes()
        files |= {f"package/{name}": data for name, data in package.items()}
        return cls(files)

    @classmethod
    async def from_store(cls, store: ObjectStore, package_uri: str) -> ModelFiles:
        """The model folder of the package stored under ``package_uri`` (an ``s3://`` prefix)."""
        prefix = S3Uri.parse(package_uri)
        base = prefix.key.rstrip("/") + "/"
        package = {
            info.key[len(base) :]: await store.get(info.uri) for info in await store.list(prefix.bucket, base)
        }
        return cls.for_package(package)


def model_config(
    name: str, instance_count: int, kind: str, batching: Batching | None = None
) -> dict[str, Any]:
    """Triton model configuration (JSON form of config.pbtxt): one BYTES payload in, one BYTES answer out per
    batch row, with the dynamic batcher."""
    batching = batching or Batching()
    return {
        "name": name,
        "backend": "python",
        "max_batch_size": batching.max_batch_size,
        "dynamic_batching": {"max_queue_delay_microseconds": batching.max_queue_delay_us},
        "input": [{"name": INPUT, "data_type": "TYPE_STRING", "dims": [1]}],
        "output": [{"name": OUTPUT, "data_type": "TYPE_STRING", "dims": [1]}],
        "instance_group": [{"count": instance_count, "kind": kind}],
        "version_policy": {"specific": {"versions": [1]}},
    }


class TritonModels:
    """The inference service's view of one Triton server."""

    def __init__(
        self,
        url: str,
        repository: Path | None = None,
        *,
        timeout: float = 120.0,
        batching: Batching | None = None,
    ) -> None:
        self.url = url
        self.repository = repository
        self.batching = batching or Batching()
        self._client = triton_http.InferenceServerClient(url, conn_timeout=timeout)
        self._base, self._timeout = f"http://{url.rstrip('/')}", timeout
        self._infer_session: aiohttp.ClientSession | None = None
        self._coalescers: dict[str, Coalescer] = {}
        self._instances: dict[str, int] = {}  # model -> instance count, for the models loaded here

    async def close(self) -> None:
        await self._client.close()
        if self._infer_session is not None:
            await self._infer_session.close()

    async def ready(self) -> bool:
        try:
            return bool(await self._client.is_server_ready())
        except Exception:  # noqa: BLE001 - readiness reports, it does not raise
            return False

    async def load(self, name: str, files: ModelFiles, *, instance_count: int, kind: str) -> None:
        config = json.dumps(model_config(name, instance_count, kind, self.batching))
        try:
            if self.repository is not None:
                await asyncio.to_thread(self._write, name, files)
                await self._client.load_model(name, config=config)
            else:
                await self._client.load_model(
                    name, config=config, files={f"file:1/{path}": data for path, data in files.files.items()}
                )
        except InferenceServerException as exc:
            raise TritonError(f"Triton could not load {name}: {exc.message()}") from exc
        self._instances[name] = instance_count
        self._coalescers.pop(name, None)  # a reload may change the instance count

    def _write(self, name: str, files: ModelFiles) -> None:
        assert self.repository is not None
        folder = self.repository / name
        shutil.rmtree(folder, ignore_errors=True)
        for path, data in files.files.items():
            target = folder / "1" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    async def unload(self, name: str) -> None:
        self._coalescers.pop(name, None)
        self._instances.pop(name, None)
        try:
            await self._client.unload_model(name)
        except InferenceServerException as exc:
            if "not found" not in (exc.message() or "").lower():
                raise TritonError(f"Triton could not unload {name}: {exc.message()}") from exc
        if self.repository is not None:
            await asyncio.to_thread(shutil.rmtree, self.repository / name, True)

    async def is_ready(self, name: str) -> bool:
        try:
            return bool(await self._client.is_model_ready(name))
        except InferenceServerException:
            return False

    async def config(self, name: str) -> dict[str, Any]:
        return await self._client.get_model_config(name)

    async def statistics(self, name: str) -> dict[str, int]:
        """Triton's counts for a model: ``requests`` (inference requests received), ``inference_count``
        (payloads: more than requests when several went in one) and ``execution_count`` (model runs; fewer
        than payloads when the dynamic batcher served several at once)."""
        stats = (await self._client.get_inference_statistics(name))["model_stats"]
        counts = {
            key: sum(int(s.get(key, 0)) for s in stats) for key in ("inference_count", "execution_count")
        }
        counts["requests"] = sum(
            int(s.get("inference_stats", {}).get(outcome, {}).get("count", 0))
            for s in stats
            for outcome in ("success", "fail")
        )
        return counts

    async def loaded_models(self) -> list[str]:
        index = await self._client.get_model_repository_index()
        return [m["name"] for m in index if m.get("state") == "READY"]

    async def infer(self, name: str, payload: bytes) -> dict[str, Any]:
        """The model's answer: ``{"ok": body}`` or ``{"error": {rule, msg, field}}``.

        Payloads for the same model that come while its earlier requests are in flight go to Triton together
        (:mod:`inference.triton.coalescing`): one HTTP request of several rows, each row answered as alone."""
        coalescer = self._coalescers.get(name)
        if coalescer is None:
            in_flight = self._instances.get(name) or await self._instance_count(name)
            coalescer = self._coalescers[name] = Coalescer(
                partial(self._infer_rows, name),
                max_rows=self.batching.max_batch_size,
                max_bytes=MAX_COALESCED_BYTES,
                max_in_flight=in_flight + 1,  # one more than can run, so that an instance never waits for us
            )
        return await coalescer.infer(payload)

    async def _instance_count(self, name: str) -> int:
        """How many copies of the model run at once on Triton (a model loaded by another process); 1 if its
        configuration cannot be read now, which only lowers how many requests go out at once."""
        try:
            groups = (await self.config(name)).get("instance_group") or [{}]
            count = sum(int(group.get("count", 1)) for group in groups)
        except (InferenceServerException, aiohttp.ClientError, ValueError, TypeError):
            return 1
        self._instances[name] = count
        return count

    async def _infer_rows(self, name: str, payloads: list[bytes]) -> list[dict[str, Any]]:
        """One request of ``payloads`` as the ``[n, 1]`` BYTES input that ``tritonclient`` sends with binary
        data, written directly (its ``InferInput``, numpy object array and JSON encoding cost some 70 us a
        request, more than the rest of this method); the answers in order."""
        parts = [part for payload in payloads for part in (len(payload).to_bytes(4, "little"), payload)]
        header = _INFER_HEADER % (len(payloads), sum(len(part) for part in parts))
        headers = {**_PLAIN_ANSWER, "Inference-Header-Content-Length": str(len(header))}
        async with self._session().post(
            f"{self._base}/v2/models/{quote(name)}/infer", data=b"".join((header, *parts)), headers=headers
        ) as response:
            answer = await response.read()
            if response.status != 200:
                raise TritonError(f"Triton inference on {name} failed: {_error_text(answer)}")
            header_length = response.headers.get("Inference-Header-Content-Length")
        return [json.loads(element) for element in _output_elements(answer, header_length, len(payloads))]

    def _session(self) -> aiohttp.ClientSession:
        # Made in the running loop, on first use; keep-alive connections as tritonclient pools them.
        if self._infer_session is None or self._infer_session.closed:
            self._infer_session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                auto_decompress=False,
            )
        return self._infer_session
