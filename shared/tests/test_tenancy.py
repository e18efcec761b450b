"""The storage tenancy policy on its own: which paths a tenant may name, in every spelling."""

from __future__ import annotations

import pytest
from dataset.config import Settings as DatasetSettings

from shared.errors import Forbidden, InvalidInput
from shared.settings import SettingsError
from shared.storage import LocalObjectStore
from shared.storage.tenancy import StoragePolicy, TenantStorage, bucket_path_as_uri

POLICY = StoragePolicy(
    "exeml",
    grants={"acme": ["s3://acme-data/", "obs://shared-lake/acme/"]},
    platform_areas=["s3://triton-repo/models/"],
)

REFUSED = [
    ("s3://exeml/", "storage_outside_tenant_area"),
    ("s3://exeml", "storage_outside_tenant_area"),
    ("s3://exeml/tenants/", "storage_outside_tenant_area"),
    ("s3://exeml/tenants/acme", "storage_outside_tenant_area"),  # no slash: a prefix of acmeX/ too
    ("s3://exeml/other/", "storage_outside_tenant_area"),
    ("s3://other-bucket/acme/", "storage_outside_tenant_area"),
    ("s3://shared-lake/", "storage_outside_tenant_area"),
    ("s3://shared-lake/acme2/", "storage_outside_tenant_area"),
    ("s3://exeml@acme-data/x/", "storage_outside_tenant_area"),
    ("s3://exeml/tenants/beta/", "storage_other_tenant"),
    ("s3://exeml/tenants/acme2/", "storage_other_tenant"),
    ("s3://exeml/datasets/beta/1/input/", "storage_other_tenant"),
    ("s3://exeml/models/", "storage_platform_area"),
    ("s3://exeml/models/acme/", "storage_platform_area"),
    ("s3://exeml/models/beta/m/0.0.1/model.lgb.txt", "storage_platform_area"),
    ("s3://exeml/training/acme/job/package/", "storage_platform_area"),
    ("s3://exeml/triton/", "storage_platform_area"),
    ("s3://exeml/manifests/", "storage_platform_area"),
    ("s3://exeml/internal/state", "storage_platform_area"),
    ("s3://triton-repo/models/x/", "storage_platform_area"),
    ("s3://EXEML/models/acme/", "storage_platform_area"),
    ("S3://exeml/models/acme/", "storage_platform_area"),
    ("obs://exeml/models/acme/", "storage_platform_area"),
    ("s3://exeml//models/acme/", "storage_platform_area"),
    ("s3://exeml/%6Dodels/acme/", "storage_platform_area"),
    ("s3://exeml%2Fmodels%2Facme/", "storage_platform_area"),  # the decoded reading names models/
    ("s3://exeml/tenants/acme/../beta/", "storage_path_traversal"),
    ("s3://exeml/tenants/acme/./x/", "storage_path_traversal"),
    ("s3://exeml/tenants/acme/%2e%2e/%2e%2e/models/", "storage_path_traversal"),
    ("s3://exeml/tenants/acme/%2E%2E%2F%2E%2E%2Fmodels/", "storage_path_traversal"),
    ("s3://exeml/tenants/acme/%252e%252e/%252e%252e/models/", "storage_path_traversal"),
    ("s3://exeml/tenants/acme/%25252525252e%25252525252e/", "storage_path_traversal"),
    ("s3://exeml/tenants/acme/..%5c..%5cmodels/", "storage_path_traversal"),
    ("s3://acme-data/x/../../exeml/", "storage_path_traversal"),
]


@pytest.mark.parametrize(("path", "rule"), REFUSED)
def test_paths_outside_the_tenants_areas_are_refused_naming_path_and_rule(path: str, rule: str) -> None:
    with pytest.raises(Forbidden) as refused:
        POLICY.resolve("acme", path, field="input_path")
    detail = refused.value.details[0]
    assert (refused.value.status_code, detail.rule, detail.field, detail.value) == (
        403,
        rule,
        "input_path",
        path,
    )
    assert path in refused.value.error_msg and not POLICY.allows("acme", path)


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("s3://exeml/tenants/acme/", "s3://exeml/tenants/acme/"),
        ("s3://exeml/tenants/acme/flowers/in/", "s3://exeml/tenants/acme/flowers/in/"),
        ("s3://exeml/tenants/acme//flowers///in/", "s3://exeml/tenants/acme/flowers/in/"),
        ("obs://exeml/tenants/acme/x.manifest", "s3://exeml/tenants/acme/x.manifest"),
        ("s3://exeml/datasets/acme/1/input/", "s3://exeml/datasets/acme/1/input/"),
        (
            "s3://exeml/tenants/acme/100%25/a%20b.jpg",
            "s3://exeml/tenants/acme/100%25/a%20b.jpg",
        ),  # kept as written
        ("s3://acme-data/", "s3://acme-data/"),
        ("s3://acme-data/deep/er/", "s3://acme-data/deep/er/"),
        ("s3://shared-lake/acme/x/", "s3://shared-lake/acme/x/"),
    ],
)
def test_the_tenants_own_areas_and_grants_resolve_to_a_canonical_address(path: str, canonical: str) -> None:
    assert str(POLICY.resolve("acme", path)) == canonical


def test_grants_belong_to_their_tenant_only() -> None:
    for path in ("s3://acme-data/x/", "s3://shared-lake/acme/", "s3://exeml/tenants/acme/"):
        with pytest.raises(Forbidden):
            POLICY.resolve("beta", path)


@pytest.mark.parametrize(
    "path",
    [
        "http://exeml/tenants/acme/",
        "file:///etc/passwd",
        "/exeml/tenants/acme/",
        "s3:///tenants/acme/",
        "s3:/exeml/tenants/acme/",
        "",
    ],
)
def test_what_is_no_s3_address_is_a_400(path: str) -> None:
    with pytest.raises(InvalidInput) as bad:
        POLICY.resolve("acme", path, field="import_path")
    assert bad.value.details[0].rule == "s3_uri_scheme"


def test_a_canonical_key_must_be_a_valid_key() -> None:
    with pytest.raises(InvalidInput):  # allowed area, but control characters are no key
        POLICY.resolve("acme", "s3://exeml/tenants/acme/a\x01b")
    with pytest.raises(InvalidInput):  # the uppercase bucket reads as ours (checked), but is no bucket name
        POLICY.resolve("acme", "s3://EXEML/tenants/acme/x/")


def test_grants_that_reach_the_platform_or_the_tenants_areas_stop_the_start() -> None:
    for grant in (
        "s3://exeml/",
        "s3://exeml/models/",
        "s3://exeml/tenants/",
        "s3://exeml/datasets/beta/",
        "s3://triton-repo/",
        "s3://exeml",
    ):
        with pytest.raises(SettingsError):
            StoragePolicy("exeml", grants={"acme": [grant]}, platform_areas=["s3://triton-repo/models/"])
    with pytest.raises(SettingsError):
        StoragePolicy("exeml", grants={"acme": ["http://elsewhere/"]})
    StoragePolicy("exeml", grants={"acme": ["s3://exeml/shared-acme/"]})  # a prefix of its own: fine


def test_settings_carry_the_grants_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("EXEML_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EXEML_STORAGE_GRANTS", '{"acme": ["s3://acme-data/"]}')
    monkeypatch.setenv("EXEML_STORAGE_PLATFORM_AREAS", '["s3://triton-repo/"]')
    policy = StoragePolicy.from_settings(DatasetSettings())
    assert str(policy.resolve("acme", "s3://acme-data/a/")) == "s3://acme-data/a/"
    with pytest.raises(Forbidden):
        policy.resolve("acme", "s3://triton-repo/x/")


def test_areas_of_the_platform_and_defaults() -> None:
    assert str(POLICY.home("acme")) == "s3://exeml/tenants/acme/"
    assert str(POLICY.dataset_folder("acme", "d1", "input")) == "s3://exeml/datasets/acme/d1/input/"
    assert str(POLICY.platform_folder("models", "acme", "m", "v")) == "s3://exeml/models/acme/m/v"
    with pytest.raises(Forbidden):  # what the platform writes, no user path reaches
        POLICY.resolve("acme", str(POLICY.platform_folder("models", "acme", "m", "v")))


async def test_tenant_storage_checks_every_operation(tmp_path) -> None:
    store = LocalObjectStore(tmp_path, "http://127.0.0.1", "secret-" * 6, default_bucket="exeml")
    await store.ensure_bucket("exeml")
    secret = "s3://exeml/models/beta/m/v/model.lgb.txt"
    await store.put(secret, b"weights")
    storage = TenantStorage(store, POLICY, "acme")
    folder = storage.folder("s3://exeml/tenants/acme/in", field="input_path")
    assert str(folder) == "s3://exeml/tenants/acme/in/"
    for name in ("../../../models/beta/m/v/model.lgb.txt", "%2e%2e/%2e%2e/x", "a/..\\..\\..\\x"):
        with pytest.raises(Forbidden):
            storage.child(folder, name)
    target = storage.child(folder, "cat/1.jpg")
    await storage.put(target, b"img")
    assert [i.key for i in await storage.list(folder)] == ["tenants/acme/in/cat/1.jpg"]
    for operation in (
        storage.get(secret),
        storage.open_stream(secret),
        storage.put(secret, b"mine"),
        storage.delete(secret),
        storage.delete_prefix("s3://exeml/models/"),
        storage.list("s3://exeml/"),
        storage.presigned_get_url(secret),
    ):
        with pytest.raises(Forbidden):
            await operation
    assert await store.get(secret) == b"weights"


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("/exeml/tenants/acme/in/", "s3://exeml/tenants/acme/in/"),
        ("/acme-data/x.csv", "s3://acme-data/x.csv"),
        ("s3://exeml/tenants/acme/", "s3://exeml/tenants/acme/"),
        ("obs://exeml/tenants/acme/", "obs://exeml/tenants/acme/"),
        ("//exeml/tenants/acme/", "//exeml/tenants/acme/"),
        ("exeml/key", "exeml/key"),
    ],
)
def test_modelarts_bucket_paths_read_as_s3_uris_and_obey_the_same_rules(path: str, uri: str) -> None:
    assert bucket_path_as_uri(path) == uri
    assert str(POLICY.resolve("acme", bucket_path_as_uri("/exeml/tenants/acme/in/"))) == (
        "s3://exeml/tenants/acme/in/"
    )
    with pytest.raises(Forbidden):
        POLICY.resolve("acme", bucket_path_as_uri("/exeml/models/acme/"))
