"""One way to send e-mail: render `templates/email/<name>/{subject.txt,body.txt,body.html}` in the recipient's
language and hand the multipart message to the SMTP server from the MAIL_* settings.

Called from worker jobs only: a web request never waits for SMTP.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from email import policy
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
    # EmailMessage's own default policy, named here so that the module is imported with this one (before a
    # worker forks) and not by the first message each forked job builds.
    message = EmailMessage(policy=policy.default)
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


class _SharedConnection:
    """The SMTP connection the e-mails of a `one_connection()` block share, opened by the first of them."""

    def __init__(self) -> None:
        self.smtp: smtplib.SMTP | None = None

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()  # the e-mails it carried were accepted already; only the goodbye failed


_shared: ContextVar[_SharedConnection | None] = ContextVar("portal_mail_shared_connection", default=None)


@contextmanager
def one_connection() -> Iterator[None]:
    """Send the e-mails of the block over one SMTP connection (a batch of messages pays for one connection,
    greeting and login instead of one per e-mail). A failed send closes it; the next send opens a new one."""
    shared = _SharedConnection()
    token = _shared.set(shared)
    try:
        yield
    finally:
        _shared.reset(token)
        shared.close()


def _connect() -> smtplib.SMTP:
    config = current_app.config
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30)
    try:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def send_message(message: EmailMessage) -> str:
    """Deliver through SMTP; returns the Message-ID. Raises smtplib.SMTPException or OSError on failure.

    Inside `one_connection()` the connection stays open for the next e-mail; otherwise each has its own.
    """
    shared = _shared.get()
    if shared is None:
        with _connect() as smtp:
            smtp.send_message(message)
    else:
        if shared.smtp is None:
            shared.smtp = _connect()
        try:
            shared.smtp.send_message(message)
        except BaseException:
            # The conversation may have stopped anywhere: never send the next e-mail on this connection.
            smtp, shared.smtp = shared.smtp, None
            smtp.close()
            raise
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
