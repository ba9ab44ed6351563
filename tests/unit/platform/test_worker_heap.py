"""API, relay and consumer processes keep their startup heap out of the garbage collector
(tests build their apps without it)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import pytest
import uvicorn

from sila_common import app as app_module
from sila_common import cli
from sila_common.app import create_app
from sila_common.runtime import freeze_startup_heap
from sila_identity.service import definition


def test_the_startup_heap_is_left_out_of_later_collections() -> None:
    already = gc.get_freeze_count()
    startup = [{"built": n} for n in range(1000)]  # stands for the modules and models
    try:
        freeze_startup_heap()
        # Frozen: a full collection now walks only what is made after.
        assert gc.get_freeze_count() >= already + len(startup)
    finally:
        gc.unfreeze()


@asynccontextmanager
async def no_database(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
    yield SimpleNamespace(verifier=None)


@pytest.mark.parametrize("frozen", [True, False])
async def test_an_api_process_freezes_its_heap_once_started_and_a_test_app_does_not(
    monkeypatch: pytest.MonkeyPatch, frozen: bool
) -> None:
    monkeypatch.setattr(app_module, "open_runtime", no_database)
    already = gc.get_freeze_count()
    app = create_app(definition, freeze_heap=frozen)
    try:
        async with app.router.lifespan_context(app):
            assert (gc.get_freeze_count() > already) is frozen
    finally:
        gc.unfreeze()


def test_the_api_role_asks_for_the_frozen_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: dict[str, Any] = {}

    def made(*args: Any, **kwargs: Any) -> object:
        asked.update(kwargs)
        return object()

    monkeypatch.setattr(app_module, "create_app", made)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    cli.main(definition, ["api"])
    assert asked["freeze_heap"] is True
