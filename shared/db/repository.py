"""Repository base: the only place that builds queries, always scoped to one tenant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import NotFound

__all__ = ["Page", "Repository"]

ModelT = TypeVar("ModelT")


class Page(Generic[ModelT]):
    """One page of a list: the items and the total count matching the filters."""

    def __init__(self, items: Sequence[ModelT], total: int) -> None:
        self.items = list(items)
        self.total = total


class Repository(Generic[ModelT]):
    """CRUD for one ORM model whose rows carry ``tenant_id`` (and ``id``, ``created_at``: the mixins' columns,
    which ``ModelT`` cannot promise the type checker, having no intersection bound).

    Subclasses set ``model`` and ``not_found`` (the service's named error) and add the queries their service
    needs; every query goes through :meth:`scoped` so a tenant never sees another tenant's rows.
    """

    model: type[ModelT]
    not_found: type[NotFound] = NotFound
    resource_name: str = "resource"

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    def scoped(self) -> sa.Select[ModelT]:
        tenant_column = self.model.tenant_id  # type: ignore[attr-defined]  # a mixin's column
        return sa.select(self.model).where(tenant_column == self.tenant_id)

    async def add(self, obj: ModelT) -> ModelT:
        obj.tenant_id = self.tenant_id  # type: ignore[attr-defined]  # a mixin's column
        self.session.add(obj)
        await self.session.flush()
        return obj

    async def find(self, id_: str) -> ModelT | None:
        stmt = self.scoped().where(self.model.id == id_)  # type: ignore[attr-defined]  # a mixin's column
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get(self, id_: str) -> ModelT:
        obj = await self.find(id_)
        if obj is None:
            raise self.not_found(f"{self.resource_name} {id_} does not exist")
        return obj

    async def list(
        self,
        *where: Any,
        offset: int = 0,
        limit: int = 100,
        order_by: Sequence[Any] = (),
    ) -> Page[ModelT]:
        stmt = self.scoped().where(*where)
        total = await self.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))
        order = order_by or (self.model.created_at.desc(),)  # type: ignore[attr-defined]  # a mixin's column
        rows = await self.session.execute(stmt.order_by(*order).offset(offset).limit(limit))
        return Page(rows.scalars().all(), int(total or 0))

    async def delete(self, obj: ModelT) -> None:
        await self.session.delete(obj)
        await self.session.flush()
