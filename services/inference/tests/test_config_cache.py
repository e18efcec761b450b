"""The serving config cache: one query per service however many predictions come at once, stale entries
answered while one query refreshes them, changes of this process seen at once."""

from __future__ import annotations

import asyncio
import gc

import pytest
from inference.routing import ServingConfigCache

M1 = ("running", [{"triton_model": "m1"}])  # what the database says of the service, then after a change
M2 = ("running", [{"triton_model": "m2"}])


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Store:
    """The database's answer for one service; each query waits until the test releases it."""

    def __init__(self) -> None:
        self.status, self.config = "running", [{"triton_model": "m1"}]
        self.queries = 0
        self.release = asyncio.Event()
        self.release.set()
        self.error: Exception | None = None

    async def load(self) -> tuple[str, list]:
        self.queries += 1
        status, config, error = self.status, self.config, self.error  # what the query read when it started
        await self.release.wait()
        if error is not None:
            raise error
        return status, config


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> ServingConfigCache:
    return ServingConfigCache(ttl=1.0, clock=clock)


async def test_concurrent_predictions_on_a_cold_cache_make_one_query(cache: ServingConfigCache) -> None:
    store = Store()
    store.release.clear()
    calls = [asyncio.create_task(cache.get("t1", "s1", store.load)) for _ in range(32)]
    await _settle()
    assert store.queries == 1
    store.release.set()
    assert await asyncio.gather(*calls) == [M1] * 32
    assert await cache.get("t1", "s1", store.load) == M1
    assert store.queries == 1  # fresh: no query
    await cache.get("t2", "s1", store.load)  # another tenant's key is its own
    assert store.queries == 2


async def test_a_stale_entry_is_answered_while_one_query_refreshes_it(
    cache: ServingConfigCache, clock: Clock
) -> None:
    store = Store()
    await cache.get("t1", "s1", store.load)
    store.status, store.config = "running", [{"triton_model": "m2"}]  # changed by another process
    store.release.clear()
    clock.now += 1.5  # past ttl, within 2 * ttl
    answers = [await cache.get("t1", "s1", store.load) for _ in range(10)]
    assert answers == [M1] * 10  # nobody waited for the query
    await _settle()
    assert store.queries == 2  # one refresh for the ten
    store.release.set()
    await _settle()
    assert await cache.get("t1", "s1", store.load) == M2
    assert store.queries == 2


async def test_an_entry_older_than_twice_the_ttl_waits_for_its_query(
    cache: ServingConfigCache, clock: Clock
) -> None:
    store = Store()
    await cache.get("t1", "s1", store.load)
    store.status = "stopped"
    clock.now += 2.5
    assert await cache.get("t1", "s1", store.load) == ("stopped", [{"triton_model": "m1"}])
    assert store.queries == 2


async def test_forget_drops_the_entry_and_a_query_that_started_before_is_not_stored(
    cache: ServingConfigCache,
) -> None:
    store = Store()
    await cache.get("t1", "s1", store.load)
    store.release.clear()
    early = asyncio.create_task(cache.get("t1", "s1", store.load, fresh=True))  # reads the old state
    await _settle()
    store.status = "stopped"  # this process changes the service, commits, forgets
    cache.forget("s1")
    store.release.set()
    assert await early == M1  # its own caller gets what it read...
    assert await cache.get("t1", "s1", store.load) == ("stopped", [{"triton_model": "m1"}])  # ...not others
    assert store.queries == 3


async def test_fresh_always_queries(cache: ServingConfigCache) -> None:
    store = Store()
    await cache.get("t1", "s1", store.load)
    store.config = [{"triton_model": "m2"}]
    assert await cache.get("t1", "s1", store.load, fresh=True) == M2
    assert await cache.get("t1", "s1", store.load) == M2
    assert store.queries == 2


async def test_a_failed_query_fails_its_waiters_and_drops_the_entry(
    cache: ServingConfigCache, clock: Clock
) -> None:
    store = Store()
    store.error = LookupError("no service s1")
    store.release.clear()
    calls = [asyncio.create_task(cache.get("t1", "s1", store.load)) for _ in range(5)]
    await _settle()
    store.release.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results) and store.queries == 1

    store.error = None
    await cache.get("t1", "s1", store.load)
    store.error = LookupError("deleted by another process")
    clock.now += 1.5
    unhandled: list[dict] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: unhandled.append(context))
    assert await cache.get("t1", "s1", store.load) == M1
    await _settle()
    gc.collect()  # a task whose error nobody retrieved is reported when it is collected
    assert unhandled == []
    with pytest.raises(LookupError):  # the stale entry went with the failed refresh
        await cache.get("t1", "s1", store.load)


async def test_a_caller_that_gives_up_does_not_cancel_the_others_query(cache: ServingConfigCache) -> None:
    store = Store()
    store.release.clear()
    first = asyncio.create_task(cache.get("t1", "s1", store.load))
    second = asyncio.create_task(cache.get("t1", "s1", store.load))
    await _settle()
    first.cancel()
    await _settle()
    store.release.set()
    assert await second == M1
    assert store.queries == 1
