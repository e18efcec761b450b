"""Client methods made from the endpoint descriptions, keeping their signatures (ParamSpec) and docstrings."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

from exeml_client._core import Call, Listing

P = ParamSpec("P")
T = TypeVar("T")


class Namespace:
    """A group of methods (``client.datasets``) over the client that runs them."""

    def __init__(self, client: Any) -> None:
        self._client = client


def op(build: Callable[P, Call[T]]) -> Callable[Concatenate[Namespace, P], T]:
    @functools.wraps(build)
    def method(self: Namespace, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._client.send(build(*args, **kwargs))

    return method


def pages(build: Callable[P, Listing[T]]) -> Callable[Concatenate[Namespace, P], Iterator[T]]:
    @functools.wraps(build)
    def method(self: Namespace, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        return self._client.iterate(build(*args, **kwargs))

    return method


def aop(build: Callable[P, Call[T]]) -> Callable[Concatenate[Namespace, P], Coroutine[Any, Any, T]]:
    @functools.wraps(build)
    async def method(self: Namespace, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._client.send(build(*args, **kwargs))

    return method


def apages(build: Callable[P, Listing[T]]) -> Callable[Concatenate[Namespace, P], AsyncIterator[T]]:
    @functools.wraps(build)
    def method(self: Namespace, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T]:
        return self._client.iterate(build(*args, **kwargs))

    return method
