"""A round survives restarts of the workflow service and of the trainer (its worker) in the middle."""

from __future__ import annotations

import httpx

from shared.service import build_runtime, load_definition, load_service_app
from shared.testing.platform import wait_until


async def restart(platform, name: str, while_down=None) -> None:
    """Stop a service's runtime (API, consumers, relay, loops), wait for ``while_down``, and start a new one on
    the same database and queues, as a process restart would; peers and the gateway reach the new app."""
    old = platform.runtimes[name]
    await old.stop()
    if while_down is not None:
        await while_down()
    runtime = build_runtime(load_definition(name), platform.settings[name])
    app = load_service_app(name, runtime)
    for peer, peer_app in platform.apps.items():
        if peer != name:
            runtime.peers.register_app(peer, peer_app)
    for other in platform.runtimes.values():
        if other is not old:
            other.peers.register_app(name, app)
    platform.apps["gateway"].state.clients[name] = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", timeout=60
    )
    platform.runtimes[name], platform.apps[name] = runtime, app
    await runtime.start(background=True)


async def test_round_completes_across_workflow_and_trainer_restarts(e2e_factory) -> None:
    e2e = await e2e_factory("distributed")
    project = await e2e.create_project("predictive_analytics")
    pid = project["id"]

    # Workflow down while Publish runs. The workflow's worker asks the dataset service to publish behind the
    # user's answer (ADR 0020): if it had asked before the stop, the version is published while the workflow is
    # down and that event waits in its queue; if not, its own phase-started event waits there. Either way the
    # round goes on after the restart.
    async def version_published_if_asked() -> None:
        async def published():
            versions = await e2e.ok("GET", f"/v1/datasets/{project['dataset_id']}/versions")
            items = versions.get("items", [])
            return not items or items[0]["status"] == "NORMAL"

        await wait_until(published, timeout=120, what="an asked version published while the workflow is down")

    await restart_when(
        e2e, pid, "publish_dataset", "running", "workflow", while_down=version_published_if_asked
    )
    # Trainer (and its in-process worker) down in the middle of training: the job goes back to pending and the
    # restarted worker trains it to the end.
    await restart_when(e2e, pid, "train", "running", "trainer", after=lambda p: _job_running(e2e, p))
    done = await e2e.wait_phase(pid, "deploy_service", "awaiting_input")
    phases = {p["name"]: p for p in done["execution"]["phases"]}
    assert phases["register_model"]["outputs"]["model_version"] == "0.0.1"
    job = await e2e.ok("GET", f"/v1/training-jobs/{phases['train']['instance']['id']}")
    # The run cut by the restart was handed back; the restarted worker ran it to the end.
    assert job["status"] == "completed"
    assert [a["outcome"] for a in job["attempts"]] == ["released", "completed"], job["attempts"]


async def _job_running(e2e, project: dict) -> bool:
    train = {p["name"]: p for p in project["execution"]["phases"]}["train"]
    if not train["instance"]:
        return False
    job = await e2e.ok("GET", f"/v1/training-jobs/{train['instance']['id']}")
    return job["status"] == "running"


async def restart_when(
    e2e, pid: str, phase: str, status: str, service: str, after=None, while_down=None
) -> None:
    async def reached():
        project = await e2e.project(pid)
        phases = {p["name"]: p for p in project["execution"]["phases"]}
        if phases[phase]["status"] != status:
            return False
        return await after(project) if after else True

    await wait_until(reached, timeout=180, interval=0.2, what=f"{phase} {status}")
    await restart(e2e.platform, service, while_down)
