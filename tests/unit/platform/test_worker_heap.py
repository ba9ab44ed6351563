"""API, relay and consumer processes keep their startup heap out of the garbage collector."""

from __future__ import annotations

import gc

from sila_common.runtime import freeze_startup_heap


def test_the_startup_heap_is_left_out_of_later_collections() -> None:
    already = gc.get_freeze_count()
    startup = [{"built": n} for n in range(1000)]  # stands for the modules and models
    try:
        freeze_startup_heap()
        # Frozen: a full collection now walks only what is made after.
        assert gc.get_freeze_count() >= already + len(startup)
    finally:
        gc.unfreeze()
