"""``Idempotency-Key`` for writes a retry could double.

The stored answer is written in the same transaction as the write it answers, so a
retry after a crash either finds it (and gets the same answer) or finds nothing done.
The same key with another body is a 409.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_common.auth import Principal
from sila_common.problems import Conflict, Unprocessable
from sila_common.service import Runtime

Work = Callable[[AsyncSession], Awaitable[tuple[int, dict[str, Any]]]]
# What a write runs after its answer is stored, just before the commit: a statement that
# locks rows other requests wait on (they wait until the commit), so the lock is held for
# the least time.
Last = Callable[[AsyncSession], Awaitable[None]]
MAX_KEY_LENGTH = 200


def request_hash(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def run_idempotent(
    factory: async_sessionmaker[AsyncSession],
    table: Any,
    *,
    key: str | None,
    principal: str,
    body: Any,
    work: Work,
    last: Last | None = None,
) -> tuple[int, dict[str, Any], bool]:
    """Run ``work`` (then ``last``) once per (principal, key); returns (status, body,
    replayed)."""
    if key is None:
        async with factory() as session, session.begin():
            status, response = await work(session)
            if last is not None:
                await last(session)
        return status, response, False
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Unprocessable(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.")
    digest = request_hash(body)
    try:
        # The look-up for an earlier answer and the work share one transaction (one
        # connection, one round of BEGIN/COMMIT): a retry finds the stored answer there.
        async with factory() as session, session.begin():
            stored = await _stored_in(session, table, principal, key)
            if stored is not None:
                return _replay(stored, digest)
            status, response = await work(session)
            await session.execute(
                _insert_of(table),
                {
                    "principal": principal,
                    "key": key,
                    "request_hash": digest,
                    "status_code": status,
                    "response": response,
                    "created_at": datetime.now(UTC),
                },
            )
            if last is not None:
                await last(session)
    except IntegrityError:
        # A concurrent request with the same key won the race; answer as it did.
        stored = await _stored(factory, table, principal, key)
        if stored is None:
            raise
        return _replay(stored, digest)
    return status, response, False


async def _stored(
    factory: async_sessionmaker[AsyncSession], table: Any, principal: str, key: str
) -> Any:
    async with factory() as session:
        return await _stored_in(session, table, principal, key)


async def _stored_in(session: AsyncSession, table: Any, principal: str, key: str) -> Any:
    return (
        await session.execute(_select_of(table), {"of_principal": principal, "of_key": key})
    ).one_or_none()


# One statement object per table, built once: its compiled form is cached (every create).
@functools.cache
def _select_of(table: Any) -> Any:
    return select(table).where(
        table.c.principal == bindparam("of_principal"), table.c.key == bindparam("of_key")
    )


@functools.cache
def _insert_of(table: Any) -> Any:
    return insert(table)


def _replay(stored: Any, digest: str) -> tuple[int, dict[str, Any], bool]:
    if stored.request_hash != digest:
        raise Conflict(
            "This Idempotency-Key was already used with a different request body.",
            slug="idempotency-key-reused",
        )
    return int(stored.status_code), dict(stored.response), True


@dataclass(frozen=True)
class Created:
    """The answer of a create run once per Idempotency-Key: status, body, and whether it
    is the stored answer of an earlier request.
    """

    status: int
    body: dict[str, Any]
    replayed: bool

    def render(self, response: Response, *, location: str) -> dict[str, Any]:
        """Status, ``Location`` and ``Idempotent-Replayed`` on the response; returns the body."""
        response.status_code = self.status
        response.headers["Location"] = location
        if self.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return self.body

    def response(self, *, location: str) -> Response:
        """The answer as a finished JSON response: the body is the stored answer, already
        rendered by the response model when it was made, so it is not validated again."""
        answer = JSONResponse(self.body, status_code=self.status, headers={"Location": location})
        if self.replayed:
            answer.headers["Idempotent-Replayed"] = "true"
        return answer


async def create_once(
    runtime: Runtime[Any],
    principal: Principal,
    *,
    key: str | None,
    body: Any,
    work: Work,
    last: Last | None = None,
) -> Created:
    """Run a create's ``work`` in its own transaction, once per (caller, Idempotency-Key);
    ``last`` runs after the answer is stored, just before the commit."""
    status, response, replayed = await run_idempotent(
        runtime.session_factory,
        runtime.definition.tables.idempotency_keys,
        key=key,
        principal=f"{principal.kind}:{principal.subject}",
        body=body,
        work=work,
        last=last,
    )
    return Created(status, response, replayed)
