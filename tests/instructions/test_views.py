"""The instructions panel on the order page, its inline form (htmx) and the same form as a page without
JavaScript: status codes, what the page says, and what is (not) saved."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.orders.instructions_models import DeliveryInstructionVersion
from portal.orders.models import Shipment
from portal.webhooks.models import WebhookDelivery
from tests.factories import event_body
from tests.instructions.conftest import CUTOFF_ON_TUESDAY, HTMX, PAGE, form_fields, post_instructions
from tests.orders.test_views import grant, shopper, sign_in

pytestmark = pytest.mark.usefixtures("parcel")


def soup(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def saved_versions() -> int:
    return db.session.scalar(select(func.count()).select_from(DeliveryInstructionVersion)) or 0


def panel_of(response: Any) -> Any:
    panel = soup(response).select_one("#parcel-T1001-instructions")
    assert panel is not None, response.get_data(as_text=True)
    return panel


@pytest.fixture
def guest(client: Any) -> Any:
    grant(client, "1001")
    return client


def test_the_order_page_offers_to_add_instructions(guest: Any) -> None:
    panel = panel_of(guest.get("/orders/1001"))
    assert "No instructions yet" in panel.text
    link = panel.select_one("a.button")
    assert link.text.strip() == "Add delivery instructions"
    # Without JavaScript the link opens the form page; with htmx it swaps the form in place.
    assert link["href"] == PAGE
    assert link["hx-get"] == PAGE + "/edit"
    assert link["hx-target"] == "closest .instructions" and link["hx-swap"] == "outerHTML"
    assert "You can change them until" in panel.text


def test_the_inline_form_and_back(guest: Any) -> None:
    response = guest.get(PAGE + "/edit", headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.get_data(as_text=True)  # a fragment
    form = soup(response).select_one("section.instructions form")
    assert form["hx-post"] == PAGE and form["action"] == PAGE and form["method"] == "post"
    assert soup(response).select_one("section.instructions").has_attr("data-pause-refresh")
    places = [radio["value"] for radio in form.select("input[type=radio]")]
    assert places == ["", "front_door", "back_door", "porch", "garage", "reception", "neighbour", "other"]
    dates = [option["value"] for option in form.select("select option")]
    assert dates == ["", "2026-10-13", "2026-10-14", "2026-10-15", "2026-10-16"]
    assert "Tuesday, October 13, 2026" in form.text
    cancel = form.select_one("a.button--secondary")
    assert cancel["hx-get"] == PAGE and cancel["href"] == "/orders/1001#parcel-T1001"

    back = guest.get(PAGE, headers=HTMX)
    assert back.status_code == 200 and "<html" not in back.get_data(as_text=True)
    assert panel_of(back).select_one("a.button")["autofocus"] is not None


def test_without_javascript_the_form_is_a_page(guest: Any) -> None:
    response = guest.get(PAGE)
    assert response.status_code == 200
    html = soup(response)
    assert html.select_one("h1").text == "Delivery instructions"
    assert html.select_one("form[action='/orders/1001/shipments/T1001/instructions']") is not None
    # The edit URL is for htmx only; a plain request is sent to the page.
    edit = guest.get(PAGE + "/edit")
    assert edit.status_code == 302 and edit.headers["Location"].endswith(PAGE)


def test_saving_inline_returns_the_panel(guest: Any) -> None:
    response = post_instructions(
        guest,
        htmx=True,
        safe_place="neighbour",
        neighbour_name="Mrs Hudson",
        neighbour_house_number="221a",
        access_code="4711",
        note="Ring twice,\nthen wait.",
        preferred_date="2026-10-14",
    )
    assert response.status_code == 200
    panel = panel_of(response)
    assert "Saved. We have passed your instructions on." in panel.select_one("[role=status]").text
    rows = {dt.text: dd.text for dt, dd in zip(panel.select("dt"), panel.select("dd"), strict=True)}
    assert rows["Safe place"] == "With a neighbour: Mrs Hudson, house number 221a"
    assert rows["Note for the driver"] == "Ring twice,\nthen wait."
    assert rows["Preferred delivery day"] == "Wednesday, October 14, 2026"
    # A guest replaces or removes the code but does not read it back.
    assert rows["Access code"] == "Saved (hidden)"
    assert "4711" not in response.get_data(as_text=True)
    assert panel.select_one("a.button").text.strip() == "Change delivery instructions"
    assert "History (1 change)" in panel.text
    assert saved_versions() == 1


def test_saving_without_javascript_redirects_to_the_order_with_a_message(guest: Any) -> None:
    response = post_instructions(guest, safe_place="porch")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/orders/1001#parcel-T1001")
    page = soup(guest.get("/orders/1001"))
    assert "Saved. We have passed your instructions on." in page.select_one("#flashes").text
    assert "In the porch" in page.select_one("#parcel-T1001-instructions").text


def test_the_owner_sees_the_code_and_the_history(client: Any) -> None:
    owner = shopper("owner@example.com")
    shipment = db.session.scalar(select(Shipment).where(Shipment.tracking_number == "T1001"))
    shipment.order.customer_id = owner.id
    db.session.commit()
    sign_in(client, owner)
    post_instructions(client, access_code="4711", safe_place="garage")
    post_instructions(client, version=1, access_code="4711", safe_place="garage", note="Side door")
    panel = panel_of(client.get("/orders/1001"))
    assert "4711" in panel.select_one("dl").text
    history = [item.text for item in panel.select("details li")]
    assert len(history) == 2
    assert "Customer: note" in history[0]
    assert "Customer: safe place, access code" in history[1]
    form = soup(client.get(PAGE)).select_one("section.instructions form")
    assert form.select_one("input[name='parcel-T1001-access_code']")["value"] == "4711"
    assert form.select_one("input[name='parcel-T1001-version']")["value"] == "2"


def test_staff_change_on_behalf_and_see_who_did_what(client: Any) -> None:
    agent = shopper("agent@example.com", role="agent")
    sign_in(client, agent)
    assert post_instructions(client, htmx=True, safe_place="reception").status_code == 200
    panel = panel_of(client.get("/orders/1001"))
    assert "Customer service (agent@example.com): safe place" in panel.select_one("details").text


def test_a_guest_keeps_replaces_or_removes_the_hidden_code(guest: Any) -> None:
    post_instructions(guest, access_code="4711")
    form = soup(guest.get(PAGE)).select_one("section.instructions form")
    assert form.select_one("input[name='parcel-T1001-access_code']").get("value", "") == ""
    assert "Remove the saved code" in form.text

    post_instructions(guest, version=1, note="Hello")  # empty code field: keep it
    saved = db.session.scalar(
        select(DeliveryInstructionVersion).order_by(DeliveryInstructionVersion.version.desc())
    )
    assert saved.version == 2 and saved.access_code == "4711"
    post_instructions(guest, version=2, note="Hello", remove_access_code="y")
    db.session.expire_all()
    saved = db.session.scalar(
        select(DeliveryInstructionVersion).order_by(DeliveryInstructionVersion.version.desc())
    )
    assert saved.version == 3 and saved.access_code is None


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"safe_place": "roof"}, "safe_place", "Choose one of the places in the list."),
        ({"safe_place": "neighbour"}, "neighbour_name", "Enter the name of the neighbour"),
        ({"safe_place": "other"}, "safe_place_other", "Describe where the parcel may be left."),
        ({"note": "x" * 501}, "note", "Use at most 500 characters."),
        ({"note": "ding\x07"}, "note", "Use letters, digits, spaces and punctuation only."),
        ({"access_code": "1\x002"}, "access_code", "Use letters, digits, spaces and punctuation only."),
        ({"preferred_date": "2026-10-17"}, "preferred_date", "Choose one of the days in the list."),
        ({"preferred_date": "next week"}, "preferred_date", "Choose one of the days in the list."),
    ],
)
@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_bad_input_comes_back_as_the_form_with_422(
    guest: Any, values: dict[str, str], field: str, message: str, htmx: bool
) -> None:
    response = post_instructions(guest, htmx=htmx, **values)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert ("<html" in body) is not htmx
    html = soup(response)
    error = html.select_one(f"#parcel-T1001-{field}-error")
    assert error is not None and message in error.text
    assert html.select_one("section.instructions form") is not None
    assert saved_versions() == 0
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


def test_html_in_the_note_is_shown_escaped(guest: Any) -> None:
    note = '<script>alert("x")</script><b>bold</b>'
    assert post_instructions(guest, note=note).status_code == 303
    body = guest.get("/orders/1001").get_data(as_text=True)
    assert "<script>alert" not in body and "<b>bold</b>" not in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in body


def test_a_stale_save_says_changed_meanwhile(guest: Any) -> None:
    assert post_instructions(guest, safe_place="porch").status_code == 303  # version 1, by "someone else"
    response = post_instructions(guest, htmx=True, version=0, safe_place="garage", note="mine")
    assert response.status_code == 409
    section = soup(response).select_one("section.instructions")
    alert = section.select_one("[role=alert]")
    assert "These instructions were changed meanwhile." in alert.text
    assert "In the porch" in alert.text  # what is saved now
    # The reader's input is kept, and the form is now based on the newer version.
    assert section.select_one("input[value=garage]").has_attr("checked")
    assert section.select_one("textarea").text.strip() == "mine"
    assert section.select_one("input[name='parcel-T1001-version']")["value"] == "1"
    assert saved_versions() == 1
    assert post_instructions(guest, htmx=True, version=1, safe_place="garage").status_code == 200
    assert saved_versions() == 2


def test_after_the_cutoff_a_post_is_refused_with_409(guest: Any) -> None:
    opened = guest.get(PAGE)  # the page was opened before the cut-off ...
    assert opened.status_code == 200 and soup(opened).select_one("section.instructions form") is not None
    with clock.freeze(CUTOFF_ON_TUESDAY):  # ... and sent after it
        for htmx in (True, False):
            response = post_instructions(guest, htmx=htmx, safe_place="porch")
            assert response.status_code == 409
            panel = panel_of(response)
            assert "Your changes could not be saved." in panel.text
            assert "Changes were possible until 06:00 on the day of delivery" in panel.text
            assert panel.select_one("form") is None
        # The page and the inline edit explain why instead of offering the form.
        assert soup(guest.get(PAGE)).select_one("section.instructions form") is None
        closed = guest.get(PAGE + "/edit", headers=HTMX)
        assert closed.status_code == 200 and panel_of(closed).select_one("form") is None
    assert saved_versions() == 0


def test_out_for_delivery_closes_the_form(guest: Any, api: Any) -> None:
    post_instructions(guest, safe_place="porch")
    event = event_body("ofd", "out_for_delivery", "2026-10-12T08:30:00Z", tracking_number="T1001")
    assert api.post("/tracking-events", json=event).status_code == 200
    response = post_instructions(guest, htmx=True, version=1, safe_place="garage")
    assert response.status_code == 409
    assert "already out for delivery" in panel_of(response).text
    page = panel_of(guest.get("/orders/1001"))
    assert "In the porch" in page.text and "already out for delivery" in page.text
    assert page.select_one("a.button") is None


def test_the_panel_is_hidden_on_finished_parcels_without_instructions(guest: Any, api: Any) -> None:
    event = event_body("dlv", "delivered", "2026-10-12T08:30:00Z", tracking_number="T1001")
    api.post("/tracking-events", json=event)
    assert soup(guest.get("/orders/1001")).select_one("#parcel-T1001-instructions") is None


@pytest.mark.parametrize("method", ["get", "post"])
def test_someone_elses_parcel_is_404(client: Any, api: Any, method: str) -> None:
    from tests.orders.test_views import make_order

    make_order(api, "2002", email="other@example.com")
    grant(client, "2002")
    for path in (PAGE, PAGE + "/edit", "/orders/2002/shipments/T1001/instructions"):
        if method == "get":
            response = client.get(path, headers=HTMX)
        else:
            response = post_instructions(client, path=path, safe_place="porch")
        assert response.status_code in (404, 405), path
    assert client.get("/orders/2002/shipments/T2002/instructions").status_code == 200
    assert saved_versions() == 0


def test_the_api_order_includes_the_current_instructions(guest: Any, api: Any) -> None:
    assert api.get("/orders/1001").get_json()["shipments"][0]["instructions"] is None
    post_instructions(guest, safe_place="neighbour", neighbour_name="Ann", access_code="99#", note="Hi")
    post_instructions(guest, version=1, safe_place="other", safe_place_other="Shed", access_code="99#")
    instructions = api.get("/orders/1001").get_json()["shipments"][0]["instructions"]
    assert instructions["version"] == 2
    assert instructions["safe_place"] == "other" and instructions["safe_place_details"] == "Shed"
    assert instructions["neighbour"] is None and instructions["note"] is None
    assert instructions["access_code"] == "99#"
    assert instructions["changed_by"] == "guest"
    assert datetime.fromisoformat(instructions["updated_at"]) == clock.now()


def test_the_webhook_is_queued_after_commit(guest: Any) -> None:
    from portal.queue import get_queue

    post_instructions(guest, safe_place="porch", access_code="1234")
    row = db.session.scalar(select(WebhookDelivery))
    assert row is not None and json.loads(row.body)["data"]["instructions"]["access_code"] == "1234"
    assert get_queue("webhooks").job_ids == [f"webhook-{row.id}-1"]


def test_the_order_page_query_count_stays_flat(app: Any, client: Any, api: Any) -> None:
    from tests.orders.test_views import count_queries

    grant(client, "1001")
    post_instructions(client, safe_place="porch")
    for version in range(1, 4):
        post_instructions(client, version=version, safe_place="porch", note=f"note {version}")
    # 8 + the returns section's one query + the shop's settings (brand name, colour)
    assert count_queries(app, client, "/orders/1001") <= 10


def test_form_field_names_are_per_parcel() -> None:
    assert "parcel-T1001-note" in form_fields()
    assert "parcel-A_B_C-note" in form_fields("A.B-C")


def test_the_history_counts_with_the_clock(guest: Any) -> None:
    post_instructions(guest, safe_place="porch")
    with clock.freeze(clock.now() + timedelta(hours=1)):
        post_instructions(guest, version=1, safe_place="garage")
        panel = panel_of(guest.get("/orders/1001"))
    times = [time["datetime"] for time in panel.select("details time")]
    assert times == sorted(times, reverse=True) and len(times) == 2


@pytest.mark.parametrize(
    ("viewer", "status"),
    [
        ("owner", 303),
        ("guest_with_grant", 303),
        ("agent", 303),
        ("admin", 303),
        ("other_shopper", 404),
        ("guest_with_other_grant", 404),
        ("anonymous", 404),
    ],
)
def test_who_may_save(client: Any, api: Any, viewer: str, status: int) -> None:
    from tests.orders.test_access import become
    from tests.orders.test_views import make_order

    owner = shopper("ada.lovelace@example.com")
    shipment = db.session.scalar(select(Shipment).where(Shipment.tracking_number == "T1001"))
    shipment.order.customer_id = owner.id
    db.session.commit()
    make_order(api, "2002", email="guest@example.com")
    become(viewer, client, owner)
    assert post_instructions(client, safe_place="porch").status_code == status
    assert saved_versions() == (1 if status == 303 else 0)


def test_a_parcel_past_the_cut_off_says_why_on_the_order_page(client: Any, api: Any) -> None:
    from tests.factories import event_body
    from tests.orders.test_views import grant, make_order, page

    make_order(api, "7001", events=0)
    api.post(
        "/tracking-events",
        json=event_body("ofd", "out_for_delivery", "2026-10-13T07:00:00+02:00", tracking_number="T7001"),
    )
    grant(client, "7001")
    card = page(client.get("/orders/7001")).select_one("#parcel-T7001")
    closed = card.select_one(".instructions__closed")
    assert closed is not None and closed.text.strip()
