"""The platform's store helpers: timestamps that read back aware, the row count of a
write, collaborators by type, and the keyset page a service names.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import BaseModel
from sqlalchemy import Column, Integer, Table, delete, insert, select

from sila_common.collaborators import Collaborators
from sila_common.db import UtcDateTime, as_utc, make_engine, new_metadata, rows_affected
from sila_common.pagination import KeysetPage

metadata = new_metadata()
moments = Table(
    "moments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime(), nullable=True),
)


async def test_a_timestamp_reads_back_aware_in_utc_on_sqlite(tmp_path: Path) -> None:
    """SQLite keeps no offset: without the column type the value came back naive (the fix
    that used to be repeated in a dozen places)."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'moments.db'}")
    algiers_noon = datetime(2026, 3, 20, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(
                insert(moments), [{"id": 1, "at": algiers_noon}, {"id": 2, "at": None}]
            )
        async with engine.connect() as conn:
            rows = dict((await conn.execute(select(moments.c.id, moments.c.at))).all())
            async with engine.begin() as writing:
                deleted = await writing.execute(delete(moments).where(moments.c.id == 2))
    finally:
        await engine.dispose()
    assert rows[1] == algiers_noon
    assert rows[1].tzinfo is not None and rows[1].utcoffset() == timedelta(0)
    assert rows[2] is None
    assert rows_affected(deleted) == 1


def test_as_utc_takes_a_naive_instant_as_utc_and_leaves_an_aware_one() -> None:
    naive = datetime(2026, 1, 1, 8, 30)
    aware = datetime(2026, 1, 1, 8, 30, tzinfo=timezone(timedelta(hours=1)))
    assert as_utc(naive) == datetime(2026, 1, 1, 8, 30, tzinfo=UTC)
    assert as_utc(aware) is aware
    assert as_utc(None) is None


class KeyStoreLike:
    pass


def test_collaborators_are_one_per_type_and_made_once() -> None:
    parts = Collaborators()
    assert parts.find(KeyStoreLike) is None
    made = parts.get_or_make(KeyStoreLike, KeyStoreLike)
    assert parts.get_or_make(KeyStoreLike, KeyStoreLike) is made
    assert parts.get(KeyStoreLike) is made
    with pytest.raises(LookupError, match="int"):
        parts.get(int)


class Item(BaseModel):
    id: str


class ItemPage(KeysetPage[Item]):
    pass


def test_a_service_names_its_keyset_page() -> None:
    page = ItemPage(items=[Item(id="a")], next_cursor="abc")
    assert page.model_dump() == {"items": [{"id": "a"}], "next_cursor": "abc"}
    assert ItemPage.model_json_schema()["title"] == "ItemPage"
