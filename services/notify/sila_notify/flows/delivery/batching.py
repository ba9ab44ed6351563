"""Group commit: callers that arrive while a flush is running are flushed together by the next.

One caller alone is flushed at once (no added latency when idle); under load, the callers
that queued during a flush share one transaction. Each caller gets its own result back, and
an error in a flush is raised in every caller of that flush.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class FlushInterrupted(RuntimeError):
    """The caller running the flush was cancelled; nothing is known about this item."""


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self,
        flush: Callable[[list[Item]], Awaitable[Sequence[Result]]],
        *,
        max_batch: int = 500,
    ) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._lock = asyncio.Lock()

    @property
    def waiting(self) -> int:
        """Items submitted and not yet taken into a flush."""
        return len(self._pending)

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        while not future.done():
            async with self._lock:
                if future.done():
                    break
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    await self._run(batch)
                except BaseException:
                    if future.done():
                        future.exception()  # retrieved: this caller raises its own error
                    raise
        return future.result()

    async def _run(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._flush_retrying([item for item, _ in batch])
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:
            # Cancelled mid-flush: the others learn it; this caller's own cancellation goes on.
            for _, future in batch:
                if not future.done():
                    future.set_exception(FlushInterrupted("the flush was interrupted"))
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _flush_retrying(self, items: list[Item]) -> Sequence[Result]:
        """A flush that lost a deadlock or a serialization conflict runs again (twice at most)."""
        for attempt in range(1, RETRIES + 1):
            try:
                return await self._flush(items)
            except Exception as error:
                if attempt == RETRIES or not is_transient_conflict(error):
                    raise
        raise AssertionError("unreachable")


RETRIES = 3
# PostgreSQL: deadlock_detected, serialization_failure.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})


def is_transient_conflict(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if getattr(seen, "sqlstate", None) in TRANSIENT_SQLSTATES:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False
