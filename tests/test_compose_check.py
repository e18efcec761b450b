"""Tests of deploy/compose_check.py: one small compose snippet per rule, and the real docker-compose.yml."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _load_checker() -> ModuleType:
    """Import deploy/compose_check.py by path: ``deploy/`` is a folder of tools, not a package."""
    spec = importlib.util.spec_from_file_location("compose_check", REPO_ROOT / "deploy" / "compose_check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


cc = _load_checker()


def compose(tmp_path: Path, text: str) -> dict[str, Any]:
    """Write a compose snippet to ``tmp_path`` and parse it the way the checker does."""
    path = tmp_path / "docker-compose.yml"
    path.write_text(textwrap.dedent(text))
    return cc.load_compose(path)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


# ------------------------------------------------------------------------------------------ depends_on


def test_dangling_depends_on_names_the_service(tmp_path: Path) -> None:
    data = compose(
        tmp_path,
        """
        services:
          api:
            image: x
            depends_on: [db]
    """,
    )
    assert cc.check_depends_on(data) == ["api: depends_on unknown service 'db'"]


def test_service_healthy_needs_a_healthcheck(tmp_path: Path) -> None:
    data = compose(
        tmp_path,
        """
        services:
          db: {image: postgres:16}
          cache:
            image: redis
            healthcheck: {test: ["CMD", "redis-cli", "ping"]}
          api:
            image: x
            depends_on:
              db: {condition: service_healthy}
              cache: {condition: service_healthy}
    """,
    )
    problems = cc.check_depends_on(data)
    assert len(problems) == 1
    assert problems[0].startswith("api: ") and "'db' has no healthcheck" in problems[0]


def test_invalid_condition_and_restarting_one_shot(tmp_path: Path) -> None:
    data = compose(
        tmp_path,
        """
        services:
          migrate: {image: x, restart: unless-stopped}
          api:
            image: x
            depends_on:
              migrate: {condition: service_completed_successfully}
          worker:
            image: x
            depends_on:
              migrate: {condition: service_finished}
    """,
    )
    problems = cc.check_depends_on(data)
    assert any(p.startswith("api: ") and "restart: unless-stopped" in p for p in problems)
    assert any(p.startswith("worker: ") and "invalid condition 'service_finished'" in p for p in problems)


def test_dependency_cycle(tmp_path: Path) -> None:
    data = compose(
        tmp_path,
        """
        services:
          a: {image: x, depends_on: [b]}
          b: {image: x, depends_on: [a]}
    """,
    )
    assert len(cc.check_dependency_cycles(data)) == 1


# ------------------------------------------------------------------------------------------ build/image


def test_build_context_and_dockerfile_must_exist(tmp_path: Path) -> None:
    write(tmp_path / "deploy" / "Dockerfile", "FROM scratch\n")
    data = compose(
        tmp_path,
        """
        services:
          good: {build: {context: ., dockerfile: deploy/Dockerfile}}
          nodockerfile: {build: {context: ., dockerfile: deploy/Missing}}
          nocontext: {build: ./nowhere}
          nothing: {command: ["true"]}
    """,
    )
    problems = cc.check_build_or_image(data, tmp_path)
    assert sorted(p.split(":")[0] for p in problems) == ["nocontext", "nodockerfile", "nothing"]


# -------------------------------------------------------------------------------------------- commands

COMMANDS = """
    services:
      dataset:
        image: x
        command: ["uvicorn", "dataset.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
      dataset-worker:
        image: x
        command: python -m dataset.worker
      dataset-migrate:
        image: x
        command: ["python", "-m", "shared.db.migrate", "dataset", "upgrade", "head"]
"""


def test_command_pointing_to_missing_module(tmp_path: Path) -> None:
    problems = cc.check_commands(compose(tmp_path, COMMANDS), tmp_path)
    assert {p.split(":")[0] for p in problems} == {"dataset", "dataset-worker", "dataset-migrate"}
    assert all("does not exist" in p for p in problems)


def test_commands_resolve_to_real_entry_points(tmp_path: Path) -> None:
    write(tmp_path / "services/dataset/dataset/app.py", "def create_app():\n    return object()\n")
    write(tmp_path / "services/dataset/dataset/worker.py", "def main():\n    pass\n")
    write(tmp_path / "shared/db/migrate.py", "if __name__ == '__main__':\n    pass\n")
    write(tmp_path / "services/dataset/migrations/env.py", "")
    assert cc.check_commands(compose(tmp_path, COMMANDS), tmp_path) == []


def test_app_without_factory_and_worker_without_main(tmp_path: Path) -> None:
    write(tmp_path / "services/dataset/dataset/app.py", "app = None\n")
    write(tmp_path / "services/dataset/dataset/worker.py", "x = 1\n")
    write(tmp_path / "shared/db/migrate.py", "def main():\n    pass\n")
    problems = cc.check_commands(compose(tmp_path, COMMANDS), tmp_path)
    assert any(p.startswith("dataset: ") and "does not define 'create_app'" in p for p in problems)
    assert any(p.startswith("dataset-worker: ") and "main" in p for p in problems)
    assert any(p.startswith("dataset-migrate: ") and "env.py" in p for p in problems)


def test_command_items_must_be_strings(tmp_path: Path) -> None:
    data = compose(
        tmp_path,
        """
        services:
          api: {image: x, command: ["serve", "--port", 8000]}
    """,
    )
    assert any(p.startswith("api: ") and "strings" in p for p in cc.check_commands(data, tmp_path))


# -------------------------------------------------------------------------------------------- env vars


def test_unknown_exeml_env_var(tmp_path: Path) -> None:
    data = compose(
        tmp_path,
        """
        services:
          postgres:
            image: postgres:16
            environment: {EXEML_NOT_OURS: "1"}
          trainer-worker:
            image: x
            command: ["python", "-m", "trainer.worker"]
            environment:
              EXEML_MODE: distributed
              EXEML_TRAINER_WORKER_FLAVORS: cpu
              EXEML_TRAINER_WORKER_FLAVOURS: cpu
    """,
    )
    fields = {"EXEML_MODE", "EXEML_WORKER_FLAVORS", "EXEML_TRAINER_MODE", "EXEML_TRAINER_WORKER_FLAVORS"}
    problems = cc.check_env_vars(data, resolver=lambda package: fields if package == "trainer" else None)
    assert problems == ["trainer-worker: EXEML_TRAINER_WORKER_FLAVOURS is not a settings field of 'trainer'"]


def test_unloadable_settings_is_a_problem(tmp_path: Path) -> None:
    data = compose(
        tmp_path,
        """
        services:
          dataset: {image: x, environment: ["EXEML_MODE=distributed"]}
    """,
    )
    problems = cc.check_env_vars(data, resolver=lambda package: None)
    assert len(problems) == 1 and problems[0].startswith(
        "dataset: cannot load Settings from 'dataset.config'"
    )

    def broken(package: str) -> set[str]:
        raise cc.SettingsUnavailable(f"cannot import '{package}.config': SyntaxError")

    assert cc.check_env_vars(data, resolver=broken) == [
        "dataset: cannot import 'dataset.config': SyntaxError, so its EXEML_* variables cannot be checked"
    ]


def test_settings_env_names_accepts_both_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.settings import ServiceSettings

    class Settings(ServiceSettings):
        service_name: ClassVar[str] = "inference"
        triton_url: str = "triton:8000"

    monkeypatch.setattr(cc, "_load_settings_class", lambda package: Settings)
    names = cc.settings_env_names("inference")
    assert {"EXEML_TRITON_URL", "EXEML_INFERENCE_TRITON_URL", "EXEML_DATABASE_URL"} <= names
    assert "EXEML_GATEWAY_TRITON_URL" not in names


# -------------------------------------------------------------------------------------- interpolation


def test_required_interpolation_must_be_in_env_example(tmp_path: Path) -> None:
    data = compose(
        tmp_path,
        """
        x-env: &env
          PASSWORD: ${DB_PASSWORD:?set it}
        services:
          a: {image: "x:${TAG:-latest}", environment: *env}
          b: {image: x, environment: {<<: *env, HOME_DIR: "$$HOME", TOKEN: "${TOKEN}"}}
    """,
    )
    problems = cc.check_interpolations(data, {"TOKEN": "t"})
    assert problems == [
        "a: ${DB_PASSWORD} has no default and is not listed in .env.example (also used by 2 more)"
    ]


def test_interpolate_uses_env_then_defaults() -> None:
    assert cc.interpolate("${PORT:-8000}:8000", {}) == "8000:8000"
    assert cc.interpolate("${PORT:-8000}:8000", {"PORT": "9000"}) == "9000:8000"
    assert cc.interpolate("$$HOME/${A:-${B:-x}}", {}) == "$HOME/x"


# ----------------------------------------------------------------------------------------- host ports


def test_duplicate_host_port(tmp_path: Path) -> None:
    data = compose(
        tmp_path,
        """
        services:
          gateway: {image: x, ports: ["${EXEML_PORT:-8000}:8000"]}
          console: {image: x, ports: ["127.0.0.1:8000:9001", "9000"]}
          other: {image: x, ports: [{target: 80, published: "8080"}, "8000:8000/udp"]}
    """,
    )
    assert cc.check_host_ports(data, {}) == ["console: host port 8000/tcp is already published by 'gateway'"]
    assert cc.check_host_ports(data, {"EXEML_PORT": "8001"}) == []


# -------------------------------------------------------------------------------------------- volumes


def test_undeclared_named_volume(tmp_path: Path) -> None:
    data = compose(
        tmp_path,
        """
        services:
          db:
            image: postgres:16
            volumes:
              - pgdata:/var/lib/postgresql/data
              - ./init:/docker-entrypoint-initdb.d:ro
              - /scratch
          cache:
            image: redis
            volumes: [{type: volume, source: cachedata, target: /data}]
        volumes:
          pgdata:
    """,
    )
    assert cc.check_volumes(data, {}) == [
        "cache: named volume 'cachedata' is not declared under top-level 'volumes'"
    ]


# ----------------------------------------------------------------------------------------- parsing/CLI


def test_duplicate_keys_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="duplicate key 'environment'"):
        compose(
            tmp_path,
            """
            x-base: &base {image: x, environment: {A: "1"}}
            services:
              api:
                <<: *base
                environment: {B: "2"}
                environment: {C: "3"}
        """,
        )


def test_merge_keys_are_resolved(tmp_path: Path) -> None:
    data = compose(
        tmp_path,
        """
        x-base: &base {image: x, restart: always}
        services:
          api: {<<: *base, restart: "no"}
    """,
    )
    assert data["services"]["api"] == {"image": "x", "restart": "no"}


def test_main_reports_problems_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text("services:\n  api: {image: x, depends_on: [db]}\n")
    assert cc.main([str(path)]) == 1
    assert "api: depends_on unknown service 'db'" in capsys.readouterr().out
    path.write_text("services:\n  api: {image: x}\n")
    assert cc.main([str(path)]) == 0
    assert "compose-check: 1 services OK" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------- the real file


def test_real_compose_file_passes() -> None:
    """The repository's docker-compose.yml, against the real service packages and settings classes."""
    problems, count = cc.run_checks(REPO_ROOT / "docker-compose.yml")
    assert problems == []
    assert count == 27  # 5 infrastructure containers + 7 services x (migrate, API, worker) + the web console
