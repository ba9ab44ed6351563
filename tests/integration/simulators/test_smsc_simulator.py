"""The Kannel-compatible SMS centre simulator, over real HTTP, delivery reports included."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from sila_simulators.smsc import SmscSimulatorConfig, create_smsc_app, expand_dlr_url
from tests.support import eventually

from .servers import DlrReceiver, serve

CREDENTIALS = {"username": "sila", "password": "sila"}
DLR_QUERY = "type=%d&to=%p&from=%P&answer=%A&id=%I&smsc=%i"


@dataclass
class Smsc:
    client: httpx.AsyncClient
    receiver: DlrReceiver
    dlr_url: str

    async def send(self, **params: Any) -> httpx.Response:
        query = {**CREDENTIALS, "from": "Idoom", "dlr-url": self.dlr_url, **params}
        return await self.client.get("/cgi-bin/sendsms", params=query)

    async def messages(self) -> list[dict[str, Any]]:
        response = await self.client.get("/_sim/messages")
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    async def reports_recorded(self, count: int) -> list[dict[str, Any]]:
        """The delivery reports of the first message, once the simulator has recorded `count`."""

        async def probe() -> list[dict[str, Any]] | None:
            dlrs: list[dict[str, Any]] = (await self.messages())[0]["dlrs"]
            return dlrs if len(dlrs) >= count else None

        return await eventually(probe, what=f"{count} delivery reports recorded")


@pytest.fixture
def smsc_config() -> SmscSimulatorConfig:
    return SmscSimulatorConfig(dlr_delay_seconds=0.0)


@pytest.fixture
def receiver_status() -> int:
    return 200


@pytest.fixture
def receiver(receiver_status: int) -> DlrReceiver:
    return DlrReceiver(status_code=receiver_status)


@pytest.fixture
async def smsc(smsc_config: SmscSimulatorConfig, receiver: DlrReceiver) -> AsyncIterator[Smsc]:
    async with (
        serve(receiver.app) as receiver_url,
        serve(create_smsc_app(smsc_config)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        yield Smsc(client, receiver, f"{receiver_url}/dlr?{DLR_QUERY}")


async def test_accepted_message_answers_like_kannel_and_is_recorded(smsc: Smsc) -> None:
    response = await smsc.send(
        to="213555123456", text="Votre facture est disponible.", **{"dlr-mask": "0"}
    )

    assert response.status_code == 202
    assert response.text == "0: Accepted for delivery"
    [message] = await smsc.messages()
    assert message["to"] == "213555123456"
    assert message["from"] == "Idoom"
    assert message["text"] == "Votre facture est disponible."
    assert (message["encoding"], message["segments"], message["lossy"]) == ("GSM-7", 1, False)


async def test_delivered_message_reports_smsc_submit_then_delivery_to_the_dlr_url(
    smsc: Smsc,
) -> None:
    response = await smsc.send(to="213555123456", text="Bonjour", **{"dlr-mask": "31"})
    assert response.status_code == 202

    first, second = await smsc.receiver.wait_for_calls(2)
    [message] = await smsc.messages()
    assert (first["type"], first["answer"]) == ("8", "ACK/")
    assert second["type"] == "1"
    assert "stat:DELIVRD" in second["answer"]
    for call in (first, second):
        assert (call["to"], call["from"], call["id"], call["smsc"]) == (
            "213555123456",
            "Idoom",
            message["id"],
            "sim",
        )


async def test_dlr_mask_selects_which_reports_are_sent(smsc: Smsc) -> None:
    await smsc.send(to="213555123456", text="Bonjour", **{"dlr-mask": "1"})

    # The delivery report comes last, so by then an unwanted submit report would have come.
    [only] = await smsc.receiver.wait_for_calls(1)
    assert only["type"] == "1"
    assert [d["type"] for d in await smsc.reports_recorded(1)] == [1]


async def test_number_ending_in_0000_is_accepted_then_reported_undeliverable(smsc: Smsc) -> None:
    response = await smsc.send(to="213555120000", text="Bonjour", **{"dlr-mask": "31"})
    assert response.status_code == 202

    submitted, failed = await smsc.receiver.wait_for_calls(2)
    assert submitted["type"] == "8"
    assert failed["type"] == "2"
    assert "stat:UNDELIV" in failed["answer"]


@pytest.mark.parametrize(
    "smsc_config",
    [SmscSimulatorConfig(dlr_delay_seconds=0.0, permanent_failure_kind="smsc_reject")],
)
async def test_number_ending_in_0000_can_be_rejected_by_the_smsc_instead(smsc: Smsc) -> None:
    await smsc.send(to="213555120000", text="Bonjour", **{"dlr-mask": "31"})

    [rejected] = await smsc.receiver.wait_for_calls(1)
    assert rejected["type"] == "16"
    assert rejected["answer"].startswith("NACK/")


@pytest.mark.parametrize(
    "smsc_config",
    [SmscSimulatorConfig(dlr_delay_seconds=0.0, temporary_failures_before_success=2)],
)
async def test_number_ending_in_9999_fails_temporarily_its_first_attempts(smsc: Smsc) -> None:
    attempts = [await smsc.send(to="213555129999", text="Bonjour") for _ in range(3)]

    assert [a.status_code for a in attempts] == [503, 503, 202]
    assert attempts[0].text == "Temporal failure, try again later."
    assert len(await smsc.messages()) == 1


@pytest.mark.parametrize(
    "smsc_config",
    [SmscSimulatorConfig(throttle_max_requests=2, throttle_period_seconds=3600)],
)
async def test_requests_above_the_rate_are_throttled_with_503(smsc: Smsc) -> None:
    statuses = [(await smsc.send(to="213555123456", text="x")).status_code for _ in range(3)]
    assert statuses == [202, 202, 503]

    await smsc.client.delete("/_sim/messages")
    assert (await smsc.send(to="213555123456", text="x")).status_code == 202


async def test_wrong_credentials_are_refused_with_kannels_403(smsc: Smsc) -> None:
    response = await smsc.send(to="213555123456", text="x", password="wrong")

    assert response.status_code == 403
    assert response.text == "Authorization failed for sendsms"
    assert await smsc.messages() == []


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        (None, "Missing receiver number, rejected"),
        ("", "Empty receiver number not allowed, rejected"),
        ("0555abc", "Number(s) has/have been denied by white- and/or black-lists."),
    ],
)
async def test_bad_receiver_is_refused_with_kannels_400(
    smsc: Smsc, to: str | None, expected: str
) -> None:
    params = {**CREDENTIALS, "from": "Idoom", "text": "x"}
    if to is not None:
        params["to"] = to
    response = await smsc.client.get("/cgi-bin/sendsms", params=params)

    assert (response.status_code, response.text) == (400, expected)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("dlr-url", "ftp://example.test/dlr", "DLR-URL field misformed, rejected"),
        ("dlr-mask", "64", "DLR-Mask field misformed, rejected"),
        ("coding", "3", "Coding field misformed, rejected"),
        ("from", "", "Sender missing and no global set, rejected"),
    ],
)
async def test_misformed_fields_are_refused_with_kannels_400(
    smsc: Smsc, field: str, value: str, expected: str
) -> None:
    response = await smsc.send(to="213555123456", text="x", **{field: value})
    assert (response.status_code, response.text) == (400, expected)


async def test_several_receivers_make_one_message_each(smsc: Smsc) -> None:
    response = await smsc.send(to="213555000001 213555000002", text="x")

    assert response.status_code == 202
    assert sorted(m["to"] for m in await smsc.messages()) == ["213555000001", "213555000002"]


async def test_arabic_text_sent_as_7_bit_is_flagged_lossy(smsc: Smsc) -> None:
    await smsc.send(to="213555000001", text="فاتورتكم جاهزة")
    await smsc.send(to="213555000002", text="فاتورتكم جاهزة", coding="2", charset="UTF-8")

    seven_bit, ucs2 = await smsc.messages()
    assert (seven_bit["encoding"], seven_bit["lossy"]) == ("UCS-2", True)
    assert (ucs2["encoding"], ucs2["lossy"]) == ("UCS-2", False)


@pytest.mark.parametrize("receiver_status", [500])
async def test_failed_dlr_callback_is_recorded_with_its_status(smsc: Smsc) -> None:
    await smsc.send(to="213555123456", text="x", **{"dlr-mask": "1"})

    dlrs = await smsc.reports_recorded(1)
    assert [(d["type"], d["http_status"]) for d in dlrs] == [(1, 500)]


def test_dlr_url_escapes_are_url_encoded_and_double_percent_is_literal() -> None:
    url = expand_dlr_url(
        "http://h/dlr?s=%d&a=%A&k=%Z&p=100%%", {"d": "1", "A": "id:1 stat:DELIVRD"}
    )
    assert url == "http://h/dlr?s=1&a=id%3A1%20stat%3ADELIVRD&k=%Z&p=100%"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_module_entrypoint_serves_kannel_on_the_given_port() -> None:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "sila_simulators", "smsc", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    params = {**CREDENTIALS, "from": "Idoom", "to": "213555123456", "text": "x"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def probe() -> httpx.Response | None:
                assert process.returncode is None, "the simulator exited"
                try:
                    return await client.get("/cgi-bin/sendsms", params=params)
                except httpx.TransportError:
                    return None

            response = await eventually(probe, timeout=20, what="the simulator answering")
        assert (response.status_code, response.text) == (202, "0: Accepted for delivery")
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)
