"""The developer's message viewer lists what each simulated phone, device and mailbox got."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import httpx

from sila_local.processes import free_port
from sila_simulators.fcm import create_fcm_app
from sila_simulators.smsc import create_smsc_app
from sila_simulators.smtp import SmtpSink, create_smtp_app
from sila_simulators.viewer import addressed_to, create_viewer_app
from tests.integration.simulators.servers import serve


async def test_the_viewer_shows_sms_push_and_mail_by_recipient_newest_first() -> None:
    smtp_port = free_port()
    async with (
        serve(create_smsc_app()) as smsc,
        serve(create_fcm_app()) as fcm,
        serve(create_smtp_app(SmtpSink(), "127.0.0.1", smtp_port)) as smtp,
        serve(create_viewer_app({"smsc": smsc, "fcm": fcm, "smtp": smtp})) as viewer,
        httpx.AsyncClient() as client,
    ):
        for text in ("Votre code Idoom est 123456.", "Votre code Idoom est 654321."):
            sent = await client.get(
                f"{smsc}/cgi-bin/sendsms",
                params={
                    "user": "sila",
                    "pass": "sila",
                    "from": "Idoom",
                    "to": "+213550123456",
                    "text": text,
                },
            )
            assert sent.status_code == 202, sent.text
        pushed = await client.post(
            f"{fcm}/v1/projects/my-idoom/messages:send",
            headers={"Authorization": "Bearer t"},
            json={
                "message": {"token": "device-1", "notification": {"title": "TT-1", "body": "Reçue"}}
            },
        )
        assert pushed.status_code == 200, pushed.text
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = (
            "no-reply@at.dz",
            "karim@example.dz",
            "Réclamation",
        )
        mail.set_content("Votre réclamation TT-2026-000001 est enregistrée.")
        await aiosmtplib.send(mail, hostname="127.0.0.1", port=smtp_port)

        api = f"{viewer}/dev/messages/api/v1/messages"
        everything = (await client.get(api)).json()
        assert everything["total"] == 4
        assert everything["sources"] == {"smsc": "ok", "fcm": "ok", "smtp": "ok"}
        phone = (await client.get(api, params={"to": "0550 12 34 56"})).json()
        assert [m["text"][-7:] for m in phone["messages"]] == ["654321.", "123456."]
        assert {m["channel"] for m in phone["messages"]} == {"sms"}
        [device] = (await client.get(api, params={"to": "device-1"})).json()["messages"]
        assert (device["channel"], device["subject"], device["text"]) == ("push", "TT-1", "Reçue")
        [mailbox] = (await client.get(api, params={"to": "KARIM@example.dz"})).json()["messages"]
        assert mailbox["subject"] == "Réclamation" and "TT-2026-000001" in mailbox["text"]
        only_mail = (await client.get(api, params={"channel": "email"})).json()
        assert only_mail["total"] == 1

        page = await client.get(f"{viewer}/dev/messages", params={"to": "0550123456"})
        assert page.status_code == 200 and "654321" in page.text and "TT-1" not in page.text


async def test_a_simulator_that_is_down_is_named_not_fatal() -> None:
    async with (
        serve(create_smsc_app()) as smsc,
        serve(create_viewer_app({"smsc": smsc, "fcm": f"http://127.0.0.1:{free_port()}"})) as v,
        httpx.AsyncClient() as client,
    ):
        found = (await client.get(f"{v}/dev/messages/api/v1/messages")).json()
    assert found["total"] == 0
    assert found["sources"]["smsc"] == "ok"
    assert found["sources"]["fcm"].startswith("unreachable")


def test_a_phone_matches_in_any_spelling_and_a_mailbox_in_any_case() -> None:
    assert addressed_to("+213550123456", "0550123456")
    assert addressed_to("00213550123456", "+213 550 12 34 56")
    assert not addressed_to("+213550123457", "0550123456")
    assert addressed_to("Karim@Example.dz", "karim@example.dz")
    assert not addressed_to("karim@example.dz", "karim@example.com")
