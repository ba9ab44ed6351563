"""Small asyncio helpers shared by long-running loops."""

from __future__ import annotations

import asyncio


async def wait_or_timeout(stop: asyncio.Event, seconds: float) -> None:
    """Sleep for ``seconds`` unless ``stop`` is set first."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
