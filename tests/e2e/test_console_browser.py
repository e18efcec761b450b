"""The web console in Debian's Chromium: the Playwright suite of ``frontend/e2e`` against the process ``make run``
starts (``python -m gateway.embedded``, a temporary ``.exeml``, a free port, tiny training budgets).

Needs Node.js and ``/usr/bin/chromium`` (the Makefile installs both); without them the test is skipped on a
developer's machine and fails under ``CI=true``. Screenshots of failing browser tests stay in
``frontend/test-results/``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from shared.storage import LocalObjectStore, StoragePolicy
from shared.testing import datagen
from shared.testing.console import CHROMIUM, FRONTEND, console_built, npm_ready
from shared.testing.live import free_port, stop_process, wait_ready
from shared.testing.platform import FAST_EMBEDDED_ENV, FAST_ENGINE_ENV, SMALL_DATA_CHECK_ENV

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "exeml_console-e2e-admin-key-0000000000000000"
SUITE_TIMEOUT_SECONDS = 900
# Two trainings run in the suite; the engines' imports alone take seconds on a loaded 2-core machine.
TRAIN_BUDGET_SECONDS = 40


def _write_data(folder: Path) -> None:
    """The files the browser uploads, in the seed's formats."""
    # 15 per class: 6 validation images, the fewest on which the quality gate can pass a 2-class model
    images = datagen.image_classification_files(per_class=15, size=32, classes=("red", "blue"))
    more = datagen.image_classification_files(per_class=1, size=32, seed=7, classes=("red", "blue"))
    scenes = datagen.detection_files(images=1, size=64)
    sounds = datagen.sound_files(per_class=1)
    text = datagen.text_files(per_class=3)["corpus.txt"]
    files = {f"images/{k}": v for k, v in images.items() if k.endswith(".png")}
    files |= {f"more/more_{k}": v for k, v in more.items() if k.endswith(".png")}
    files |= {f"scenes/{k}": v for k, v in scenes.items() if k.endswith(".png")}
    files |= {f"sounds/{k.replace('/', '_')}": v for k, v in sounds.items()}
    files["text/corpus.txt"] = text
    files["bad/broken.png"] = b"this is not a PNG file"
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)


def _table_in_storage(data_dir: Path) -> str:
    """A CSV already in object storage (the guide's "import from OBS" path), in the bootstrap tenant's own
    area (the only place its key may name); returns its folder."""
    store = LocalObjectStore(data_dir / "objects", "http://unused", "unused")
    csv = datagen.table_files(rows=150)["data/table.csv"]
    folder = StoragePolicy("exeml").home("default").join("e2e-table", "input")

    async def put() -> None:
        await store.ensure_bucket("exeml")
        await store.put(folder.join("table.csv"), csv)

    asyncio.run(put())
    return f"{folder}/"


def test_console_end_to_end_in_chromium(tmp_path: Path) -> None:
    npx = npm_ready(browser=True)
    console_built()
    data_dir, files = tmp_path / "exeml", tmp_path / "files"
    _write_data(files)
    table_path = _table_in_storage(data_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **FAST_ENGINE_ENV,
        **FAST_EMBEDDED_ENV,
        **SMALL_DATA_CHECK_ENV,  # 32 images a project
        "EXEML_DATA_DIR": str(data_dir),
        "EXEML_PORT": str(port),
        "EXEML_BOOTSTRAP_API_KEY": ADMIN_KEY,
        "EXEML_LABELING_PRELABEL_POLL_SECONDS": "0.3",
        "EXEML_TRAINER_BUDGET_CAP_SECONDS": str(TRAIN_BUDGET_SECONDS),
    }
    log = (tmp_path / "platform.log").open("wb")
    platform = subprocess.Popen(
        [sys.executable, "-m", "gateway.embedded"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_ready(url, platform, tmp_path / "platform.log", 120)
        suite_env = {
            **os.environ,
            "EXEML_E2E_URL": url,
            "EXEML_E2E_KEY": ADMIN_KEY,
            "EXEML_E2E_FILES": str(files),
            "EXEML_E2E_TABLE_PATH": table_path,
            "EXEML_CHROMIUM": str(CHROMIUM),
        }
        started = time.monotonic()
        result = subprocess.run(
            [npx, "playwright", "test"],
            check=False,
            cwd=FRONTEND,
            env=suite_env,
            timeout=SUITE_TIMEOUT_SECONDS,
        )
        print(f"browser suite: {time.monotonic() - started:.0f} s")
        assert result.returncode == 0, (
            f"the Playwright suite failed: screenshots in {FRONTEND / 'test-results'}, "
            f"platform log in {tmp_path / 'platform.log'}"
        )
    finally:
        stop_process(platform)
        log.close()
