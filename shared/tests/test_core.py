"""Settings, errors, event contracts and envelopes, internal tokens."""

from __future__ import annotations

from typing import ClassVar

import pytest
import structlog

from shared.auth import Principal, TokenCodec
from shared.context import RequestContext, bind_context, current_context, log_context, new_id
from shared.errors import ErrorDetail, InvalidInput, NotFound, Unauthorized
from shared.events import EventContract, contract_for
from shared.logging import configure_logging
from shared.messaging import EnvelopeError, decode_envelope, make_envelope
from shared.settings import ServiceSettings


class CoreTestSettings(ServiceSettings):
    """A service's settings as every service declares them (no service package needed here)."""

    service_name: ClassVar[str] = "coretest"


class ThingCreated(EventContract):
    event_type = "coretest.thing.created.v1"
    name: str


def test_embedded_defaults_need_no_configuration(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("EXEML_DATA_DIR", str(tmp_path))
    settings = CoreTestSettings()
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'coretest.db'}"
    assert (settings.bus, settings.storage, settings.db_schema) == ("memory", "local", "coretest")
    assert list(tmp_path.iterdir()) == []  # reading settings writes nothing
    secret = settings.ensure_token_secret()  # what building a runtime does: the installation's secret
    assert CoreTestSettings().ensure_token_secret() == secret  # kept across restarts


def test_service_prefix_overrides_platform_prefix(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("EXEML_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EXEML_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("EXEML_CORETEST_LOG_LEVEL", "DEBUG")
    assert CoreTestSettings().log_level == "DEBUG"


def test_distributed_mode_fails_fast_naming_missing_variables(monkeypatch) -> None:
    monkeypatch.setenv("EXEML_MODE", "distributed")
    with pytest.raises(ValueError) as err:  # pydantic wraps the SettingsError
        CoreTestSettings()
    for name in ("EXEML_DATABASE_URL", "EXEML_AMQP_URL", "EXEML_S3_ENDPOINT", "EXEML_INTERNAL_TOKEN_SECRET"):
        assert name in str(err.value)


def test_error_body_is_modelarts_shaped() -> None:
    err = InvalidInput(
        "bad name",
        error_code="ModelArts.4351",
        details=[ErrorDetail(rule="max_length", msg="≤ 32", field="name")],
    )
    assert err.status_code == 400
    assert err.body() == {
        "error_code": "ModelArts.4351",
        "error_msg": "bad name",
        "details": [{"rule": "max_length", "msg": "≤ 32", "field": "name"}],
    }
    assert NotFound("x").status_code == 404


def test_contract_registry_and_type_rule() -> None:
    assert contract_for("coretest.thing.created.v1") is ThingCreated
    with pytest.raises(ValueError, match="not <service>"):
        type("Bad", (EventContract,), {"event_type": "NoVersion", "__annotations__": {}})


def test_envelope_round_trip_and_rejection() -> None:
    env = make_envelope(ThingCreated(name="a"), source="/exeml/test", tenant_id="t1", subject="things/1")
    decoded = decode_envelope(env.to_bytes())
    assert decoded.id == env.id and decoded.tenantid == "t1" and decoded.specversion == "1.0"
    assert decoded.payload() == ThingCreated(name="a")
    with pytest.raises(EnvelopeError):
        decode_envelope(b"{}")
    bad_payload = env.model_copy(update={"data": {"name": 5}}).to_bytes()
    with pytest.raises(EnvelopeError):
        decode_envelope(bad_payload)
    with pytest.raises(ValueError, match="tenant"):
        make_envelope(ThingCreated(name="a"), source="/x")


def test_internal_token_round_trip_and_tampering() -> None:
    codec = TokenCodec("s" * 40, ttl_seconds=60)
    token = codec.issue(Principal("acme", "alice", ("developer",)))
    assert codec.verify(token) == Principal("acme", "alice", ("developer",))
    with pytest.raises(Unauthorized):
        TokenCodec("o" * 40).verify(token)
    expired = TokenCodec("s" * 40, ttl_seconds=-120).issue(Principal("acme", "alice"))
    with pytest.raises(Unauthorized) as err:
        codec.verify(expired)
    assert err.value.error_code == "ModelArts.0202"


def test_405_names_every_method_of_the_path() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from shared.service.http import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)
    app.get("/v1/things/{thing_id}")(lambda thing_id: {})
    app.put("/v1/things/{thing_id}")(lambda thing_id: {})
    response = TestClient(app).delete("/v1/things/t1")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PUT"  # Starlette alone names only the first route's methods
    assert response.json()["error_code"] == "ModelArts.0405"


def test_405_names_only_the_most_specific_template() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from shared.service.http import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.post("/v1/things/delete")
    def delete_things() -> dict[str, str]:  # a def, not `dict`: FastAPI reads the endpoint's signature
        return {}

    app.get("/v1/things/{thing_id}")(lambda thing_id: {})
    assert TestClient(app).options("/v1/things/delete").headers["allow"] == "POST"
    assert TestClient(app).options("/v1/things/t1").headers["allow"] == "GET"


def test_a_value_the_database_refuses_is_a_400_naming_the_reason() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy.exc import DataError

    from shared.service.http import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.post("/v1/things")
    def create() -> None:
        raise DataError("INSERT", {}, Exception("value too long for type character varying(64)"))

    response = TestClient(app).post("/v1/things")
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "ModelArts.0101" and body["details"][0]["rule"] == "storage_limit"
    assert "character varying(64)" in body["error_msg"]


def test_text_with_a_lone_surrogate_is_a_400() -> None:
    from fastapi import Body, FastAPI
    from fastapi.testclient import TestClient

    from shared.service.http import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.post("/v1/things")
    def create(name: str = Body(embed=True)) -> None:
        name.encode()  # what the database driver does

    response = TestClient(app).post(
        "/v1/things", content=b'{"name": "a\\udc00b"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["rule"] == "invalid_unicode"


def test_log_lines_carry_the_bound_context_and_only_inside_its_block() -> None:
    configure_logging()
    assert log_context in structlog.get_config()["processors"]
    assert log_context(None, "info", {"event": "outside"}) == {"event": "outside"}
    with bind_context(request_id="r1", correlation_id="c1") as ctx:
        assert ctx == current_context() == RequestContext(request_id="r1", correlation_id="c1")
        with bind_context(tenant_id="t1", subject=None):  # None keeps what was bound
            line = log_context(None, "info", {"event": "inside", "tenant_id": "own"})
            assert line == {"event": "inside", "tenant_id": "own", "request_id": "r1", "correlation_id": "c1"}
        assert log_context(None, "info", {})["request_id"] == "r1"
        assert "tenant_id" not in log_context(None, "info", {})
    assert current_context() == RequestContext()


def test_new_ids_are_32_hex_and_distinct() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
