"""The identity client: an id identity cannot hold is nobody, without a call (the fuzzing
of tickets and notify found every random id turned into a 503 when identity was away)."""

from __future__ import annotations

import socket
import uuid

import pytest

from sila_common.identity_client import IdentityClient, IdentityUnavailable


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("customer_id", ["0", "../oauth/token", "null", "x" * 40, ""])
async def test_an_id_that_is_no_uuid_is_nobody_without_asking(customer_id: str) -> None:
    client = IdentityClient(f"http://127.0.0.1:{_closed_port()}", "tickets", "secret")
    try:
        assert await client.customer(customer_id) is None
    finally:
        await client.aclose()


async def test_a_uuid_is_asked_of_identity_and_identity_away_is_unavailable() -> None:
    client = IdentityClient(f"http://127.0.0.1:{_closed_port()}", "tickets", "secret")
    try:
        with pytest.raises(IdentityUnavailable):
            await client.customer(str(uuid.uuid4()))
    finally:
        await client.aclose()
