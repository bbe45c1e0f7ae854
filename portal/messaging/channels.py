"""How a rendered message leaves: e-mail through SMTP (portal.mail), SMS through the configured backend.

SMS_BACKEND=log (default) only logs the text (the send job keeps it on the message row); webhook POSTs
`{"to", "text", "reference"}` as JSON to SMS_WEBHOOK_URL, with the reference also as `Idempotency-Key`, and
takes the provider's id from an `{"id": …}` answer. Every failure raises SendFailed, which the send job
records and retries.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from typing import Protocol

from flask import current_app

from portal import mail

log = logging.getLogger(__name__)


class SendFailed(Exception):
    """The provider did not take the message; it may work on a later attempt."""


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str


def message_id_for(reference: str) -> str:
    """A Message-ID that stays the same across attempts, so a receiver can spot a repeat."""
    domain = parseaddr(current_app.config["MAIL_FROM"])[1].rpartition("@")[2] or "localhost"
    return f"<{reference}@{domain}>"


def send_email(
    to: str, to_name: str, content: EmailContent, *, reference: str, headers: dict[str, str]
) -> str:
    """Hand the e-mail to the SMTP server; returns its Message-ID. Raises SendFailed."""
    message = mail.build_message(
        formataddr((to_name, to)) if to_name else to,
        content.subject,
        content.text,
        content.html,
        headers,
        message_id=message_id_for(reference),
    )
    try:
        return mail.send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        raise SendFailed(f"SMTP: {error}") from error


class SmsBackend(Protocol):
    def send(self, to: str, text: str, *, reference: str) -> str:
        """Send one text; return the provider's id for it. Raises SendFailed."""


class LogSmsBackend:
    """Sends nothing: the text goes to the log (and, through the send job, onto the message row)."""

    def send(self, to: str, text: str, *, reference: str) -> str:
        log.info("sms to %s (%s): %s", to, reference, text)
        return f"log:{reference}"


class WebhookSmsBackend:
    """POSTs each text as JSON to the provider's URL (SMS_WEBHOOK_URL)."""

    def __init__(self, url: str, timeout: float):
        if not url.startswith(("https://", "http://")):
            raise SendFailed("SMS_WEBHOOK_URL must be an http(s) URL")
        self.url = url
        self.timeout = timeout

    def send(self, to: str, text: str, *, reference: str) -> str:
        body = json.dumps({"to": to, "text": text, "reference": reference}).encode()
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": reference},
        )
        try:
            # The scheme of SMS_WEBHOOK_URL is checked in __init__ (http or https only, never file:).
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310  # nosec B310
                answer = response.read(65536)
        except (urllib.error.URLError, OSError) as error:
            raise SendFailed(f"SMS webhook: {error}") from error
        try:
            provider_id = json.loads(answer or b"{}").get("id")
        except (ValueError, AttributeError):
            provider_id = None
        return str(provider_id or reference)[:255]


def sms_backend() -> SmsBackend:
    """The backend chosen by SMS_BACKEND. Raises SendFailed if the webhook backend has no URL."""
    config = current_app.config
    if config["SMS_BACKEND"] == "webhook":
        if not config.get("SMS_WEBHOOK_URL"):
            raise SendFailed("SMS_BACKEND is webhook but SMS_WEBHOOK_URL is not set")
        return WebhookSmsBackend(config["SMS_WEBHOOK_URL"], float(config["SMS_TIMEOUT_SECONDS"]))
    return LogSmsBackend()
