"""A small world for the security walkers: one order of each kind, a user of each role, a token of each kind,
and the list of every GET route with its URL built from them.

Routes whose URL parameters the walkers cannot build yet are listed in PLACEHOLDER_ROUTES (tried with a value
that matches nothing, so they still get their headers checked on the 404 page); a new route with a new
parameter makes `test_every_route_is_walked` fail until it gets a builder here or an entry there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule

from portal import clock
from portal.accounts.models import User
from portal.accounts.service import create_user
from portal.accounts.tokens import make_reset_token, make_verification_token
from portal.extensions import db
from portal.orders.models import Order
from tests.factories import event_body, order_body, shipment_body

PASSWORD = "correct horse battery staple"

# Endpoints the walkers leave alone: files, the JSON API (bearer token, no cookies; fuzzed in tests/api) and
# the health check (JSON for the load balancer).
NOT_PAGES = {"static", "main.healthz"}

# endpoint -> why its URL cannot be built from the world below (it is walked with a value matching nothing).
PLACEHOLDER_ROUTES: dict[str, str] = {}

VIEWERS = ("anonymous", "owner", "other_shopper", "guest_with_grant", "agent", "admin")


@dataclass
class World:
    owner: User
    other: User
    agent: User
    admin: User
    unverified: User
    values: dict[str, str] = field(default_factory=dict)
    guest_values: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # URL rule -> a valid token

    def refresh(self) -> None:
        """Read the users again (a request may have changed their alternative id, e.g. signing out)."""
        db.session.rollback()
        for user in (self.owner, self.other, self.agent, self.admin, self.unverified):
            db.session.refresh(user)


def _put_order(api: Any, number: str, email: str, tracking: str, delivered: bool = False) -> None:
    assert api.put(f"/orders/{number}", json=order_body(email=email)).status_code in (200, 201)
    assert api.put(f"/orders/{number}/shipments/{tracking}", json=shipment_body()).status_code in (200, 201)
    events = [
        event_body(f"{tracking}-1", "in_transit", "2026-10-11T09:00:00+02:00", tracking_number=tracking)
    ]
    if delivered:
        events.append(
            event_body(f"{tracking}-2", "delivered", "2026-10-13T11:00:00+02:00", tracking_number=tracking)
        )
    assert api.post("/tracking-events", json={"events": events}).status_code == 200


def _owners_return(api: Any) -> str:
    """Order 3003 of the owner, delivered yesterday, with a return of one T-shirt; its RMA number."""
    from portal import audit
    from portal.returns.service import LineRequest, ReturnRequest, request_return

    delivered = (clock.now() - timedelta(days=1)).isoformat()
    assert api.put("/orders/3003", json=order_body(email="ada.lovelace@example.com")).status_code == 201
    assert api.put("/orders/3003/shipments/T3003", json=shipment_body()).status_code == 201
    event = event_body("T3003-1", "delivered", delivered, tracking_number="T3003")
    assert api.post("/tracking-events", json=event).status_code in (200, 201)
    order = db.session.scalar(select(Order).where(Order.number == "3003"))
    assert order is not None
    line = LineRequest(order.items[0].id, 1, "too_small")
    request = ReturnRequest(
        lines=[line], resolution="refund", method="label", idempotency_key="security-walk"
    )
    created, _new = request_return(order, request, audit.Actor("system", "tests"))
    db.session.commit()
    return created.rma


def _survey_token(order: Order) -> str:
    from portal.surveys.service import invite

    _invitation, token = invite(order, clock.now())
    db.session.commit()
    return token


def build_world(api: Any) -> World:
    """Users of every role, order 1001 (owner's, parcel T1001 in transit), 2002 (a guest's, delivered)."""
    from portal.messaging.optouts import make_unsubscribe_token
    from portal.messaging.service import recipient_of
    from portal.orders.guest import GuestLink, issue_link_token

    def user(email: str, role: str = "shopper", verified: bool = True) -> User:
        return create_user(email, PASSWORD, role, "Ada Lovelace", verified=verified)

    world = World(
        owner=user("ada.lovelace@example.com"),
        other=user("bob@example.com"),
        agent=user("agent@example.com", "agent"),
        admin=user("admin@example.com", "admin"),
        unverified=user("new@example.com", verified=False),
    )
    db.session.commit()
    _put_order(api, "1001", "ada.lovelace@example.com", "T1001")
    _put_order(api, "2002", "guest@example.com", "T2002", delivered=True)
    guest_order = db.session.scalar(select(Order).where(Order.number == "2002"))
    assert guest_order is not None
    link = GuestLink(
        order_id=guest_order.id, created_at=clock.now(), expires_at=clock.now() + timedelta(hours=1)
    )
    db.session.add(link)
    db.session.flush()
    issued = issue_link_token(link.id)
    assert issued is not None
    db.session.commit()
    rma = _owners_return(api)
    survey_token = _survey_token(guest_order)
    world.values = {"number": "1001", "tracking_number": "T1001", "rma": rma}
    # The back-office's ids and names (a message, a webhook delivery, a staff user, a setting, a failed job, a
    # return decision): any value of the right shape builds the URL.
    world.values.update(
        {
            "message_id": "1",
            "delivery_id": "1",
            "user_id": "1",
            "name": "SHOP_NAME",
            "queue": "default",
            "job_id": "no-such-job",
            "action": "approve",
        }
    )
    world.guest_values = {"number": "2002", "tracking_number": "T2002"}
    world.tokens = {
        "/password/reset/<token>": make_reset_token(world.owner),
        "/verify/<token>": make_verification_token(world.unverified),
        "/track/link/<token>": issued.token,
        "/unsubscribe/<token>": make_unsubscribe_token(recipient_of(guest_order)),
        "/surveys/<token>": survey_token,
        "/surveys/<token>/comment": survey_token,
        "/surveys/<token>/thanks": survey_token,
    }
    db.session.commit()
    return world


@pytest.fixture
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at a test cost: the walkers are about pages, not hashing (the timing tests use the real one)."""
    from argon2 import PasswordHasher

    from portal.accounts import service

    monkeypatch.setattr(service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def world(app: Flask, api: Any, cheap_hashing: None) -> World:
    return build_world(api)


def become(client: FlaskClient, viewer: str, world: World) -> None:
    """Make `client` the given kind of viewer (a session as Flask-Login and the guest lookup leave it)."""
    world.refresh()
    users = {"owner": world.owner, "other_shopper": world.other, "agent": world.agent, "admin": world.admin}
    with client.session_transaction() as session:
        session.clear()
        if viewer in users:
            session["_user_id"] = users[viewer].auth_id
            session["_fresh"] = True
        elif viewer == "guest_with_grant":
            order_id = db.session.scalar(select(Order.id).where(Order.number == "2002"))
            session["order_grants"] = {str(order_id): time.time() + 3600}


def page_routes(app: Flask, method: str = "GET") -> list[Rule]:
    """Every route answering `method` that serves pages (not files, the API or the health check)."""
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if method in (rule.methods or set())
            and rule.endpoint not in NOT_PAGES
            and not rule.rule.startswith("/api/")
        ),
        key=lambda rule: (rule.rule, rule.endpoint),
    )


PLACEHOLDER = "Z9Z9Z9"


def build_url(app: Flask, rule: Rule, world: World, viewer: str = "owner") -> tuple[str, bool]:
    """The URL of `rule` with arguments from `world`; True if each was built (none is a placeholder)."""
    values: dict[str, str] = {}
    complete = True
    for name in rule.arguments:
        if name == "token" and rule.rule in world.tokens:
            values[name] = world.tokens[rule.rule]
        elif name in world.values:
            values[name] = world.values[name]
        else:
            values[name] = PLACEHOLDER
            complete = False
    if viewer == "guest_with_grant":
        values.update({key: world.guest_values[key] for key in values if key in world.guest_values})
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values), complete


Builder = Callable[[World], str]
