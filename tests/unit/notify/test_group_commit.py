"""Group commit: who arrives during a flush is flushed with the next; errors reach their callers."""

from __future__ import annotations

import asyncio

import pytest

from sila_notify.flows.delivery.batching import GroupCommit, is_transient_conflict
from tests.support import wait_until


class Recorder:
    def __init__(self, fail_with: Exception | None = None, fail_times: int = 0) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.fail_with = fail_with
        self.fail_times = fail_times

    async def flush(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        await self.release.wait()
        if self.fail_with is not None and self.fail_times > 0:
            self.fail_times -= 1
            raise self.fail_with
        return [item * 10 for item in items]


async def test_callers_arriving_during_a_flush_share_the_next_one_and_get_their_own_result() -> (
    None
):
    recorder = Recorder()
    group: GroupCommit[int, int] = GroupCommit(recorder.flush)
    first = asyncio.create_task(group.submit(1))
    await wait_until(lambda: recorder.batches == [[1]], what="the first flush started alone")
    others = [asyncio.create_task(group.submit(n)) for n in (2, 3, 4)]
    await wait_until(lambda: group.waiting == 3, what="the others waiting")
    recorder.release.set()

    assert await first == 10
    assert [await o for o in others] == [20, 30, 40]
    assert recorder.batches == [[1], [2, 3, 4]]


async def test_a_flush_that_fails_fails_every_caller_in_it_and_not_the_next_ones() -> None:
    recorder = Recorder(fail_with=ValueError("database down"), fail_times=1)
    group: GroupCommit[int, int] = GroupCommit(recorder.flush)
    first = asyncio.create_task(group.submit(1))
    await wait_until(lambda: recorder.batches == [[1]], what="the first flush started")
    later = asyncio.create_task(group.submit(2))
    recorder.release.set()

    with pytest.raises(ValueError, match="database down"):
        await first
    assert await later == 20


async def test_a_batch_never_exceeds_the_maximum() -> None:
    recorder = Recorder()
    recorder.release.set()
    group: GroupCommit[int, int] = GroupCommit(recorder.flush, max_batch=2)
    results = await asyncio.gather(*(group.submit(n) for n in range(5)))

    assert results == [0, 10, 20, 30, 40]
    assert max(len(b) for b in recorder.batches) <= 2
    assert sorted(i for b in recorder.batches for i in b) == [0, 1, 2, 3, 4]


class Deadlock(Exception):
    sqlstate = "40P01"


async def test_a_flush_that_lost_a_deadlock_is_run_again() -> None:
    recorder = Recorder(fail_with=Deadlock("deadlock detected"), fail_times=1)
    recorder.release.set()
    group: GroupCommit[int, int] = GroupCommit(recorder.flush)

    assert await group.submit(7) == 70
    assert recorder.batches == [[7], [7]]


def test_a_conflict_is_recognised_through_the_wrapping_exceptions() -> None:
    wrapped = RuntimeError("DBAPIError")
    wrapped.__cause__ = Deadlock()
    assert is_transient_conflict(wrapped)
    assert not is_transient_conflict(RuntimeError("syntax error"))
