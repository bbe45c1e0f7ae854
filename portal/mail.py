"""One way to send e-mail: render `templates/email/<name>/{subject.txt,body.txt,body.html}` in the recipient's
language and hand the multipart message to the SMTP server from the MAIL_* settings.

Called from worker jobs only: a web request never waits for SMTP.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr

from flask import current_app, render_template
from flask_babel import force_locale

from portal.i18n import supported_locale

log = logging.getLogger(__name__)


def render_email(name: str, locale: str | None, **context: object) -> tuple[str, str, str]:
    """(subject, text body, HTML body) of the e-mail `name`, in `locale` (falling back to the default)."""
    locale = supported_locale(locale) or current_app.config["DEFAULT_LOCALE"]
    with force_locale(locale):
        subject = render_template(f"email/{name}/subject.txt", **context)
        text = render_template(f"email/{name}/body.txt", **context)
        html = render_template(f"email/{name}/body.html", **context)
    return " ".join(subject.split()), text, html


def build_message(
    to: str,
    subject: str,
    text: str,
    html: str,
    headers: dict[str, str] | None = None,
    *,
    message_id: str | None = None,
) -> EmailMessage:
    """A multipart (text + HTML) message; `message_id` keeps the same Message-ID across retries."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    sender_domain = parseaddr(config["MAIL_FROM"])[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = message_id or make_msgid(domain=sender_domain)
    for key, value in (headers or {}).items():
        message[key] = value
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send_message(message: EmailMessage) -> str:
    """Deliver through SMTP; returns the Message-ID. Raises smtplib.SMTPException or OSError on failure."""
    config = current_app.config
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)
    log.info("sent e-mail %s to %s", message["Subject"], message["To"])
    return str(message["Message-ID"])


def send_email(
    to: str,
    name: str,
    locale: str | None = None,
    *,
    to_name: str = "",
    headers: dict[str, str] | None = None,
    **context: object,
) -> str:
    """Render the e-mail `name` and send it to `to`; returns its Message-ID."""
    subject, text, html = render_email(name, locale, **context)
    recipient = formataddr((to_name, to)) if to_name else to
    return send_message(build_message(recipient, subject, text, html, headers))
