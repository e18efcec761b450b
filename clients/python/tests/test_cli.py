"""The ``exeml`` command as a user runs it (a process per command) against ``make run``'s process."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import httpx

from shared.testing import datagen


def exeml(
    *args: str, config_dir: Path, ok: bool = True, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "EXEML_CONFIG_DIR": str(config_dir),
        "COLUMNS": "200",
        "NO_COLOR": "1",
        **(env or {}),
    }
    result = subprocess.run(
        [sys.executable, "-m", "exeml_client", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
    if ok:
        assert result.returncode == 0, (
            f"exeml {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


def exeml_json(*args: str, config_dir: Path, timeout: float = 120) -> Any:
    return json.loads(exeml(*args, "--json", config_dir=config_dir, timeout=timeout).stdout)


def _write(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def test_login_checks_the_key_and_keeps_it_for_the_user_only(
    gateway, config_dir: Path, tmp_path: Path
) -> None:
    wrong = exeml("login", "--url", gateway.url, "--key", "exeml_not-a-key", config_dir=config_dir, ok=False)
    assert wrong.returncode == 1 and "ModelArts.0203" in wrong.stderr
    assert not (config_dir / "config.json").exists()
    exeml("login", "--url", gateway.url, "--key", gateway.key, config_dir=config_dir)
    stored = config_dir / "config.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text()) == {"url": gateway.url, "api_key": gateway.key}
    # Without EXEML_CONFIG_DIR the XDG config folder is used.
    xdg = tmp_path / "xdg"
    env = {k: v for k, v in os.environ.items() if k != "EXEML_CONFIG_DIR"} | {"XDG_CONFIG_HOME": str(xdg)}
    subprocess.run(
        [sys.executable, "-m", "exeml_client", "login", "--url", gateway.url, "--key", gateway.key],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert stat.S_IMODE((xdg / "exeml" / "config.json").stat().st_mode) == 0o600
    assert exeml_json("datasets", "ls", config_dir=config_dir) is not None


def test_a_table_project_from_upload_to_prediction(gateway, config_dir: Path, tmp_path: Path) -> None:
    exeml("login", "--url", gateway.url, "--key", gateway.key, config_dir=config_dir)
    stamp = str(int(time.time() * 1000))
    folder = _write(tmp_path / "churn", datagen.table_files(rows=150))
    dataset = exeml_json(
        "datasets",
        "create",
        f"churn-{stamp}",
        "--type",
        "table",
        "--label-column",
        "label",
        config_dir=config_dir,
    )
    uploaded = exeml_json("datasets", "upload", dataset["dataset_id"], str(folder), config_dir=config_dir)
    assert uploaded["uploaded"] == 1 and uploaded["failed"] == 0
    project = exeml_json(
        "projects",
        "create",
        f"churn{stamp}",
        "--type",
        "predictive_analytics",
        "--dataset",
        dataset["dataset_id"],
        "--minutes",
        "6",
        "--label-column",
        "label",
        "--label-type",
        "discrete",
        config_dir=config_dir,
    )

    # Tables have no Label Data phase: the round runs to Deploy Service by itself; watch follows it live.
    watched = exeml("projects", "watch", project["id"], config_dir=config_dir, timeout=400)
    assert (
        "training metrics" in watched.stdout and f"exeml projects deploy {project['id']}" in watched.stdout
    ), watched.stdout
    exeml("projects", "deploy", project["id"], "--auto-stop-hours", "1", config_dir=config_dir)
    done = exeml_json("projects", "watch", project["id"], config_dir=config_dir, timeout=300)
    assert done["project"]["status"] == "completed" and done["training_metrics"]
    service_id = done["project"]["service_id"]
    services = {s["service_id"]: s for s in exeml_json("services", "ls", config_dir=config_dir)}
    assert services[service_id]["status"] == "running"

    [model] = [
        m for m in exeml_json("models", "ls", config_dir=config_dir) if m["project_id"] == project["id"]
    ]
    package = tmp_path / "model.tar.gz"
    exeml("models", "export", model["model_id"], "0.0.1", "-o", str(package), config_dir=config_dir)
    with tarfile.open(package) as archive:
        assert any(name.endswith("manifest.json") for name in archive.getnames())
    # Generic binary clients ask for octet-stream and get the same bytes under that type.
    generic = httpx.get(
        f"{gateway.url}/v1/models/{model['model_id']}/versions/0.0.1/export",
        timeout=60,
        headers={"X-Auth-Token": gateway.key, "Accept": "application/octet-stream"},
    )
    assert (
        generic.headers["content-type"] == "application/octet-stream" and generic.content[:2] == b"\x1f\x8b"
    )

    probe = tmp_path / "probe.csv"
    probe.write_text("age,income,city,score\n30,52.5,north,0.3\n70,20.0,west,-1.0\n")
    [answer] = exeml_json("predict", service_id, str(probe), config_dir=config_dir)
    rows = answer["answer"]["data"]["resp_data"]
    assert len(rows) == 2 and all(row["predict"] in ("yes", "no") for row in rows)
    # --numbers asks for JSON numbers; table answers are ModelArts' table format either way (ADR 0022)
    [numbers] = exeml_json("predict", service_id, str(probe), "--numbers", config_dir=config_dir)
    assert numbers["answer"] == answer["answer"]

    assert exeml_json("services", "stop", service_id, config_dir=config_dir)["status"] in (
        "stopping",
        "stopped",
    )
    refused = exeml("predict", service_id, str(probe), config_dir=config_dir, ok=False)
    assert refused.returncode == 1 and "ModelArts." in refused.stdout


def test_an_image_upload_names_the_bad_file_and_keeps_the_good_ones(
    gateway, config_dir: Path, tmp_path: Path
) -> None:
    exeml("login", "--url", gateway.url, "--key", gateway.key, config_dir=config_dir)
    images = datagen.image_classification_files(per_class=3)
    folder = _write(tmp_path / "flowers", images | {"broken.png": b"these bytes are not a PNG"})
    dataset = exeml_json(
        "datasets",
        "create",
        f"flowers-{int(time.time() * 1000)}",
        "--type",
        "image_classification",
        config_dir=config_dir,
    )
    upload = exeml("datasets", "upload", dataset["dataset_id"], str(folder), config_dir=config_dir, ok=False)
    assert upload.returncode == 1
    [line] = [line for line in upload.stdout.splitlines() if "broken.png" in line]
    assert "failed" in line, upload.stdout
    pictures = sum(name.endswith(".png") for name in images)
    assert (
        exeml_json("labels", "ls", dataset["dataset_id"], config_dir=config_dir)["sample_stats"]["total"]
        == pictures
    )

    dataset_id = dataset["dataset_id"]
    # The console's Next (labeling done); three images a label break ExeML's rule of five: the watch names the
    # failed phase and its reason, and exits 1.
    project = exeml_json(
        "projects",
        "create",
        f"flowers{int(time.time() * 1000)}",
        "--type",
        "image_classification",
        "--dataset",
        dataset_id,
        "--minutes",
        "6",
        config_dir=config_dir,
    )
    assert project["current_phase"] == "label_data"
    assert (
        exeml_json("projects", "next", project["id"], config_dir=config_dir)["current_phase"] != "label_data"
    )
    watched = exeml("projects", "watch", project["id"], config_dir=config_dir, ok=False)
    assert watched.returncode == 1 and "Check Data failed" in watched.stderr, watched.stdout + watched.stderr

    exeml("labels", "create", dataset_id, "violet", config_dir=config_dir)
    exeml("labels", "rename", dataset_id, "violet", "purple", config_dir=config_dir)
    labels = {s["name"] for s in exeml_json("labels", "ls", dataset_id, config_dir=config_dir)["label_stats"]}
    assert "purple" in labels and "violet" not in labels
    missing = exeml("labels", "delete", dataset_id, "violet", config_dir=config_dir, ok=False)
    assert missing.returncode == 1 and "ModelArts." in missing.stderr and "violet" in missing.stderr

    again = exeml(
        "datasets", "upload", dataset["dataset_id"], str(folder), "--json", config_dir=config_dir, ok=False
    )
    counts = json.loads(again.stdout)
    assert again.returncode == 1 and (counts["uploaded"], counts["failed"]) == (0, 1)
    assert counts["skipped"] == len(images)  # already there: nothing uploaded twice


def test_import_from_object_storage_and_sync_follow_the_task(gateway, config_dir: Path) -> None:
    exeml("login", "--url", gateway.url, "--key", gateway.key, config_dir=config_dir)
    prefix = f"tenants/default/import-{int(time.time() * 1000)}"  # the tenant's own storage area (ADR 0008)
    first, second = (
        datagen.image_classification_files(per_class=2),
        datagen.image_classification_files(per_class=3),
    )
    _write(gateway.objects / "exeml" / prefix / "input", first)
    _write(gateway.objects / "exeml" / prefix / "more", second)
    dataset = exeml_json(
        "datasets",
        "create",
        prefix.rsplit("/", 1)[-1],
        "--type",
        "image_classification",
        "--input",
        f"s3://exeml/{prefix}/input/",
        config_dir=config_dir,
    )
    task = exeml_json(
        "datasets", "import", dataset["dataset_id"], f"s3://exeml/{prefix}/more/", config_dir=config_dir
    )
    assert (
        task["status"] == "COMPLETED" and task["imported_sample_count"] == len(second) // 2
    )  # + their .txt labels

    _write(
        gateway.objects / "exeml" / prefix / "input",
        {"late_red.png": first["img_red_000.png"], "late_red.txt": b"red\n"},
    )
    synced = exeml_json("datasets", "sync", dataset["dataset_id"], config_dir=config_dir)
    assert (
        synced["kind"] == "sync" and synced["status"] == "COMPLETED" and synced["imported_sample_count"] == 1
    )
    listed = {d["dataset_id"]: d for d in exeml_json("datasets", "ls", config_dir=config_dir)}
    assert listed[dataset["dataset_id"]]["sample_count"] == (len(first) + len(second)) // 2 + 1


def test_deploy_no_auto_stop_reaches_the_api(gateway, config_dir: Path) -> None:
    """``--no-auto-stop`` is sent as ``auto_stop: false``: beside a schedule the API refuses it naming the field;
    alone the request is valid and only the (unknown) project is refused."""
    exeml("login", "--url", gateway.url, "--key", gateway.key, config_dir=config_dir)
    unknown = "0" * 32
    both = exeml(
        "projects",
        "deploy",
        unknown,
        "--no-auto-stop",
        "--auto-stop-hours",
        "2",
        config_dir=config_dir,
        ok=False,
    )
    assert both.returncode == 1 and "error 400" in both.stderr and "field=auto_stop" in both.stderr, (
        both.stderr
    )
    alone = exeml("projects", "deploy", unknown, "--no-auto-stop", config_dir=config_dir, ok=False)
    assert alone.returncode == 1 and "error 404" in alone.stderr, alone.stderr
