"""Staff sign in on /login, land in the back-office, and are signed out after 30 idle minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient

from portal import clock
from portal.accounts.models import User
from tests.backoffice.conftest import PASSWORD, post

START = datetime(2026, 10, 12, 9, 0, tzinfo=UTC)


def sign_in_with_form(client: FlaskClient, email: str) -> str:
    response = post(client, "/login", {"email": email, "password": PASSWORD}, form_page="/login")
    assert response.status_code == 303
    return response.headers["Location"]


def test_staff_land_in_the_back_office(client: FlaskClient, agent: User) -> None:
    assert sign_in_with_form(client, "agent@example.com") == "/backoffice/"
    assert client.get("/backoffice/").status_code == 200


def test_an_idle_staff_session_ends_after_30_minutes(client: FlaskClient, agent: User) -> None:
    with clock.freeze(START):
        sign_in_with_form(client, "agent@example.com")
        assert client.get("/backoffice/").status_code == 200
        clock.advance(timedelta(minutes=29))
        assert client.get("/backoffice/dashboard").status_code == 200  # still active: the clock restarts
        clock.advance(timedelta(minutes=29))
        assert client.get("/backoffice/").status_code == 200
        clock.advance(timedelta(minutes=31))
        response = client.get("/backoffice/queues/at-risk")
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/login?next=")
        assert "backoffice/queues/at-risk" in response.headers["Location"]
        assert "signed out after 30 minutes" in client.get("/login").get_data(as_text=True)
        assert client.get("/backoffice/").status_code == 404  # signed out
