"""The job that e-mails a guest their single-use link to an order."""

from __future__ import annotations

import logging

from flask import current_app, url_for

from portal.extensions import db
from portal.mail import send_email
from portal.orders.guest import issue_link_token, mark_link_sent

log = logging.getLogger(__name__)


def send_guest_link(link_id: int) -> bool:
    """Make up the link's token and e-mail it to the address on the order; True if an e-mail went out.

    Safe to run twice: a link that was already sent (or has expired, or was used) is left alone. If sending
    fails, nothing is stored, so a retry starts afresh with a new token.
    """
    issued = issue_link_token(link_id)
    if issued is None:
        db.session.rollback()
        log.info("guest link %s already sent, used or expired; nothing to do", link_id)
        return False
    order = issued.link.order
    try:
        send_email(
            order.email,
            "guest_link",
            order.locale,
            to_name=order.customer_name,
            link=_absolute_link(issued.token),
            order_number=order.number,
            customer_name=order.customer_name,
            minutes=max(1, round((issued.link.expires_at - issued.link.created_at).total_seconds() / 60)),
        )
    except Exception:
        db.session.rollback()
        raise
    mark_link_sent(issued.link)
    db.session.commit()
    return True


def _absolute_link(token: str) -> str:
    # A job has no request: build the URL as a request to PORTAL_BASE_URL would (path prefix included).
    with current_app.test_request_context(base_url=current_app.config["PORTAL_BASE_URL"]):
        return url_for("guest.confirm_link", token=token, _external=True)
