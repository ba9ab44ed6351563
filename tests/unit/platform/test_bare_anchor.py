"""The bench's bare anchor issues what Sila issues: its copies of Sila's statements (the
anchor imports nothing of Sila at run time) must not drift from them."""

from __future__ import annotations

from benchmarks import bare
from sila_identity import queries


def test_the_anchors_phone_lookup_is_identitys_statement() -> None:
    assert bare.PHONE_LOOKUP_AUDITED == queries.PHONE_LOOKUP_AUDITED


def test_the_anchors_round_robin_stamp_never_goes_backwards_as_tickets_does() -> None:
    assert "greatest(last_assigned_at" in bare.STAMP_SQL
