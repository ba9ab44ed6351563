"""E-mail over SMTP (aiosmtplib); the Message-ID is the message's id, stable across retries."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from sila_notify.channels.base import (
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)
from sila_notify.settings import NotifySettings


def build_email(message: OutgoingMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.destinations[0]
    email["Subject"] = message.subject or "Algérie Télécom"
    email["Date"] = formatdate(localtime=False)
    # Mail clients and archives treat the same Message-ID as the same message: a resend after
    # a crash shows once in the mailbox.
    email["Message-ID"] = f"<{message.id}@notify.sila>"
    email["Content-Language"] = message.language
    email.set_content(message.body)
    return email


class SmtpEmailChannel:
    name = "email"

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    async def send(self, message: OutgoingMessage) -> SendResult:
        if not message.destinations:
            raise PermanentFailure("no e-mail address")
        email = build_email(message, self.settings.smtp_sender)
        try:
            errors, _answer = await aiosmtplib.send(
                email,
                hostname=self.settings.smtp_host,
                port=self.settings.smtp_port,
                timeout=self.settings.smtp_timeout_seconds,
                start_tls=False,
                use_tls=False,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [r.code for r in error.recipients]
            reason = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
            if codes and all(code < 500 for code in codes):
                raise TemporaryFailure(f"smtp: {reason}") from error
            raise PermanentFailure(f"smtp: {reason}") from error
        except aiosmtplib.SMTPResponseException as error:
            reason = f"smtp {error.code}: {error.message}"
            if error.code >= 500:
                raise PermanentFailure(reason) from error
            raise TemporaryFailure(reason) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise TemporaryFailure(f"smtp unreachable: {type(error).__name__}") from error
        if errors:
            reason = "; ".join(f"{code} {text}" for code, text in errors.values())
            raise PermanentFailure(f"smtp: {reason}")
        return SendResult(provider_message_id=email["Message-ID"], delivered=False)

    async def close(self) -> None:
        return None
