"""The SMS channel's own request (aiohttp): what the SMS centre receives, and its failures.

The channel is called directly against the Kannel simulator on a loopback port (the path
through the dispatcher is in test_batched_records.py and test_delivery.py).
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from sila_local.processes import free_port
from sila_notify.channels.base import OutgoingMessage, TemporaryFailure
from sila_notify.channels.sms_kannel import KannelSmsChannel
from sila_notify.settings import NotifySettings
from tests.integration.notify.conftest import Simulator


def sms(to: str, body: str) -> OutgoingMessage:
    return OutgoingMessage(
        id=str(uuid.uuid4()),
        attempt_id=str(uuid.uuid4()),
        customer_id=str(uuid.uuid4()),
        channel="sms",
        destinations=(to,),
        subject=None,
        body=body,
        language="ar",
        callback_token="k" * 32,
    )


async def test_the_sms_centre_receives_the_text_number_and_report_url_as_written(
    smsc: Simulator,
) -> None:
    settings = NotifySettings(
        sms_url=f"{smsc.url}/cgi-bin/sendsms", public_base_url="https://notify.example/"
    )
    to = f"+2136{uuid.uuid4().int % 10**8:08d}"
    # Characters a query string must escape: '+', '&', '=', '%', '#', and Arabic (UCS-2).
    body = "رمزك 1+1=2 & 100% #1 : Idoom"
    message = sms(to, body)
    channel = KannelSmsChannel(settings)
    try:
        await channel.send(message)
    finally:
        await channel.close()

    (received,) = [m for m in await smsc.messages() if m["to"] == to]
    assert received["text"] == body
    assert received["coding"] == 2
    assert received["from"] == settings.sms_sender
    assert received["dlr_mask"] == 19
    report = urlsplit(received["dlr_url"])
    assert (report.scheme, report.netloc, report.path) == (
        "https",
        "notify.example",
        "/v1/callbacks/sms-dlr",
    )
    assert parse_qs(report.query)["message_id"] == [message.id]
    assert parse_qs(report.query)["token"] == ["k" * 32]


async def test_an_unreachable_sms_centre_is_temporary_and_its_reason_names_no_number() -> None:
    settings = NotifySettings(sms_url=f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms")
    channel = KannelSmsChannel(settings)
    try:
        with pytest.raises(TemporaryFailure) as failure:
            await channel.send(sms("+213661234567", "Votre code Idoom : 482913"))
    finally:
        await channel.close()

    assert failure.value.reason == "sms centre unreachable: ClientConnectorError"
