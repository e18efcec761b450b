"""The gateway's ``/openapi.json`` through the common generators, as they come (no configuration):
openapi-python-client (in ``.venv-gen``) and openapi-typescript (``tests/generators``, installed by
``make install``). Each must generate every operation without a warning, and the results must compile and run."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
GEN_VENV = ROOT / ".venv-gen"
NODE_TOOLS = ROOT / "tests" / "generators"


def _tool(path: Path) -> Path:
    assert path.exists(), f"{path} is missing: `make install` installs the OpenAPI generators"
    return path


def _operation_ids(doc: dict[str, Any]) -> list[str]:
    return [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]


def _enums(node: Any) -> list[list[Any]]:
    if isinstance(node, dict):
        found = [node["enum"]] if isinstance(node.get("enum"), list) else []
        return found + [e for value in node.values() for e in _enums(value)]
    if isinstance(node, list):
        return [e for value in node for e in _enums(value)]
    return []


def test_document_has_stable_unique_ids_single_case_enums_and_binary_schemas(openapi: dict) -> None:
    ids = _operation_ids(openapi)
    assert not [i for i, n in Counter(ids).items() if n > 1], "operation ids repeat"
    assert not [i for i in ids if "_v1_" in i], "FastAPI's generated ids (name_path_method) are not stable"
    for enum in _enums(openapi):
        strings = [v.lower() for v in enum if isinstance(v, str)]
        assert len(strings) == len(set(strings)), f"enum values differing only in case: {enum}"
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            for code, response in op["responses"].items():
                for media_type, media in response.get("content", {}).items():
                    if "json" in media_type or media_type.startswith("text/"):
                        continue
                    assert media.get("schema", {}).get("format") == "binary", (
                        f"{method.upper()} {path} {code} {media_type}: no binary schema"
                    )


def _spec(openapi: dict, tmp_path: Path) -> Path:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(openapi))
    return path


def test_openapi_python_client_generates_every_operation_and_calls_the_api(
    openapi: dict, gateway, tmp_path: Path
) -> None:
    generator = _tool(GEN_VENV / "bin" / "openapi-python-client")
    env = {**os.environ, "PATH": f"{GEN_VENV / 'bin'}:{os.environ['PATH']}"}  # its post hooks run ruff
    result = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(_spec(openapi, tmp_path)),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "exeml_api"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Warning" not in output and "Error" not in output, output[-5000:]
    generated = {p.stem for p in (tmp_path / "exeml_api" / "api").rglob("*.py")}
    assert set(_operation_ids(openapi)) <= generated, set(_operation_ids(openapi)) - generated
    # The generated package, as its users would call it.
    probe = (
        "from exeml_api import AuthenticatedClient\n"
        "from exeml_api.api.datasets import list_datasets\n"
        f"client = AuthenticatedClient(base_url={gateway.url!r}, token={gateway.key!r})\n"
        "page = list_datasets.sync(client=client, limit=1)\n"
        "print(type(page).__name__, page.total >= 0)\n"
    )
    ran = subprocess.run(
        [str(GEN_VENV / "bin" / "python"), "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0 and ran.stdout.split() == ["DatasetList", "True"], ran.stdout + ran.stderr


def test_openapi_typescript_generates_types_that_compile(openapi: dict, tmp_path: Path) -> None:
    node_bin = _tool(NODE_TOOLS / "node_modules" / ".bin")
    out = tmp_path / "api.d.ts"
    result = subprocess.run(
        [str(node_bin / "openapi-typescript"), str(_spec(openapi, tmp_path)), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0 and out.exists(), result.stdout + result.stderr
    ids = ", ".join(json.dumps(i) for i in _operation_ids(openapi))
    (tmp_path / "check.ts").write_text(
        'import type { operations } from "./api";\n'
        f"export const every: (keyof operations)[] = [{ids}];\n"
        'type Usage = NonNullable<operations["list_samples"]["parameters"]["query"]>["usage"];\n'
        'export const usage: Usage[] = ["TRAIN", "EVAL"];\n'
        'type Package = operations["export_model_version"]["responses"][200]["content"]["application/gzip"];\n'
        'export const bytes: Package = "";\n'
    )
    compiled = subprocess.run(
        [
            str(node_bin / "tsc"),
            "--noEmit",
            "--strict",
            "--skipLibCheck",
            "--module",
            "nodenext",
            str(tmp_path / "check.ts"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
