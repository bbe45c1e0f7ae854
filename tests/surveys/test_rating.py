"""The tracking page's "How was your delivery?" stars: shown after delivery to the customer (owner or guest
with a grant), recorded once as the CSAT of the order's response, inline with htmx or as a plain form."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bs4 import BeautifulSoup
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.orders.models import Order
from tests.conftest import csrf_token
from tests.messaging.conftest import deliver, place_order, send_due, ship
from tests.orders.test_views import count_queries, shopper, sign_in
from tests.surveys.conftest import answer, invitations, responses, survey_email, survey_webhooks, text_of


def grant(client: Any, number: str) -> None:
    """A guest's lookup grant, valid by the (frozen) house clock."""
    order_id = db.session.scalar(select(Order.id).where(Order.number == number))
    with client.session_transaction() as session:
        session["order_grants"] = {str(order_id): clock.now().timestamp() + 3600}


def page(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.data, "html.parser")


def rate(client: Any, number: str, stars: str, htmx: bool = True) -> Any:
    token = csrf_token(client.get(f"/orders/{number}").get_data(as_text=True))
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        f"/orders/{number}/rating", data={"csrf_token": token, "rating": stars}, headers=headers
    )


def test_a_guest_rates_the_delivery_inline(api: Any, client: Any, frozen: datetime) -> None:
    deliver(api)
    grant(client, "1001")
    card = page(client.get("/orders/1001")).select_one("#delivery-rating")
    assert card is not None and "How was your delivery?" in card.text
    stars = card.select('input[type="radio"][name="rating"]')
    assert [s["value"] for s in stars] == ["1", "2", "3", "4", "5"]
    assert all(card.select_one(f'label[for="{s["id"]}"]') for s in stars)  # each star has its label

    rated = rate(client, "1001", "4")
    assert rated.status_code == 200
    fragment = rated.get_data(as_text=True)
    assert "<html" not in fragment and "You rated your delivery 4 stars out of 5" in fragment
    [response] = responses()
    assert (response.csat, response.nps, response.rated_at, response.answered_at) == (4, None, frozen, None)
    assert survey_webhooks() == 1

    # Once given, it is shown, not asked again; a second post changes nothing.
    card = page(client.get("/orders/1001")).select_one("#delivery-rating")
    assert "You rated your delivery 4 stars" in card.text and card.select("input") == []
    assert rate(client, "1001", "1").status_code == 200
    assert responses()[0].csat == 4 and survey_webhooks() == 1


def test_without_javascript_the_rating_posts_and_returns_to_the_order(
    api: Any, client: Any, frozen: datetime
) -> None:
    user = shopper("ada@example.com")
    deliver(api)
    sign_in(client, user)
    rated = rate(client, "1001", "5", htmx=False)
    assert rated.status_code == 303 and rated.headers["Location"].endswith("/orders/1001#delivery-rating")
    followed = page(client.get("/orders/1001"))
    assert "Thank you for rating your delivery." in followed.select_one("#flashes").text
    assert responses()[0].customer_id == user.id


def test_bad_ratings_and_undelivered_orders(api: Any, client: Any, frozen: datetime) -> None:
    place_order(api, "1001")
    ship(api, "1001")
    grant(client, "1001")
    assert page(client.get("/orders/1001")).select_one("#delivery-rating") is None
    assert rate(client, "1001", "5").status_code == 409
    deliver(api, "1002")
    grant(client, "1002")
    for bad in ("0", "6", "five", ""):
        refused = rate(client, "1002", bad)
        assert refused.status_code == 422, bad
        assert page(refused).select_one(".field-error") is not None
    assert responses() == []


def test_only_the_customer_may_rate(api: Any, client: Any, frozen: datetime) -> None:
    deliver(api)
    agent = shopper("agent@example.com", role="agent")
    sign_in(client, agent)
    # Staff see the order but do not rate on the customer's behalf.
    assert page(client.get("/orders/1001")).select_one("#delivery-rating") is None
    token = csrf_token(client.get("/orders/1001").get_data(as_text=True))
    assert client.post("/orders/1001/rating", data={"csrf_token": token, "rating": "5"}).status_code == 404
    other = client.application.test_client()
    assert other.post("/orders/1001/rating", data={"rating": "5"}).status_code in (400, 404)
    assert responses() == []


def test_staff_see_the_customers_rating(api: Any, client: Any, frozen: datetime) -> None:
    deliver(api)
    grant(client, "1001")
    rate(client, "1001", "2")
    agent = shopper("agent@example.com", role="agent")
    staff_client = client.application.test_client()
    sign_in(staff_client, agent)
    card = page(staff_client.get("/orders/1001")).select_one("#delivery-rating")
    assert "The customer rated the delivery 2 stars out of 5." in card.text


def test_the_rating_becomes_the_csat_of_the_survey_answer(
    api: Any, client: Any, mailbox: Any, frozen: datetime, responded: list[dict[str, Any]]
) -> None:
    deliver(api)
    grant(client, "1001")
    rate(client, "1001", "3")
    assert responded == []  # no invitation yet: nothing to reward
    clock.advance(timedelta(days=7))
    send_due()
    token = text_of(survey_email(mailbox)).split("/surveys/")[1].split()[0]
    [invitation] = invitations()
    assert responses()[0].invitation_id == invitation.id
    shown = page(client.get(f"/surveys/{token}?score=8"))
    assert shown.select_one("#csat-3").has_attr("checked")
    answer(client, token, nps="8")
    [response] = responses()
    assert (response.nps, response.csat) == (8, 3)
    assert len(responded) == 1


def test_a_rating_after_the_invitation_is_its_answer_rewarded_once(
    api: Any, client: Any, mailbox: Any, frozen: datetime, responded: list[dict[str, Any]]
) -> None:
    deliver(api)
    clock.advance(timedelta(days=7))
    send_due()
    token = text_of(survey_email(mailbox)).split("/surveys/")[1].split()[0]
    grant(client, "1001")
    rate(client, "1001", "5")
    assert len(responded) == 1
    answer(client, token, nps="10")
    assert len(responded) == 1
    assert (responses()[0].nps, responses()[0].csat) == (10, 5)


def test_the_order_page_query_count_stays_constant(app: Any, api: Any, client: Any, frozen: datetime) -> None:
    user = shopper("ada@example.com")
    deliver(api, "1001")
    deliver(api, "1002")
    sign_in(client, user)
    rate(client, "1002", "4")
    unrated = count_queries(app, client, "/orders/1001")
    rated = count_queries(app, client, "/orders/1002")
    assert unrated == rated
