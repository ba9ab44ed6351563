"""The platform's store helpers: timestamps that read back aware, the row count of a
write, collaborators by type, and the keyset page a service names.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel

from sila_common.collaborators import Collaborators
from sila_common.db import as_utc
from sila_common.pagination import KeysetPage


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
