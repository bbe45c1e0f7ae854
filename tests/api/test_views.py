"""The JSON API as the shop's systems and carriers use it: success paths, errors, idempotency, ordering."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.audit import AuditEntry
from portal.extensions import db
from portal.orders import signals
from portal.orders.models import Order, OrderEvent, Shipment, TrackingEvent
from tests.factories import event_body, order_body, shipment_body


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def create_order_with_shipment(api: Any, number: str = "1001", tracking: str = "JJD0001") -> None:
    assert api.put(f"/orders/{number}", json=order_body()).status_code == 201
    assert api.put(f"/orders/{number}/shipments/{tracking}", json=shipment_body()).status_code == 201


# --- authentication -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic abc", "bearer x"])
def test_requests_without_a_valid_token_get_401(client: Any, api_token: str, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.put("/api/v1/orders/1001", json=order_body(), headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert count(Order) == 0


def test_a_revoked_token_is_refused(api: Any) -> None:
    from portal import clock
    from portal.accounts.models import ApiClient

    db.session.scalar(select(ApiClient)).revoked_at = clock.now()
    db.session.commit()
    assert api.get("/orders/1001").status_code == 401


# --- orders -------------------------------------------------------------------------------------------------


def test_put_order_creates_then_updates(api: Any) -> None:
    first = api.put("/orders/1001", json=order_body())
    assert first.status_code == 201
    body = first.json
    assert body["number"] == "1001"
    assert body["email"] == "ada.lovelace@example.com"
    assert body["total"] == "89.90"
    assert body["status"] == "placed"
    assert [item["sku"] for item in body["items"]] == ["TEE-BLK-M", "CAP-01"]
    assert body["items"][1]["returnable"] is False
    assert body["placed_at"] == "2026-10-10T07:30:00+00:00"

    second = api.put("/orders/1001", json=order_body(total="99.90", customer_name="Ada King"))
    assert second.status_code == 200
    assert second.json["total"] == "99.90"
    assert second.json["customer_name"] == "Ada King"
    assert count(Order) == 1


def test_put_order_twice_is_idempotent(api: Any) -> None:
    body = order_body(status="paid")
    first = api.put("/orders/1001", json=body).json
    second = api.put("/orders/1001", json=body)
    assert second.status_code == 200
    assert second.json == first
    assert count(OrderEvent) == 2  # placed + paid, once each
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert actions.count("order.created") == 1
    assert "order.updated" not in actions  # nothing changed the second time


def test_order_status_never_moves_backwards(api: Any) -> None:
    api.put("/orders/1001", json=order_body(status="paid"))
    response = api.put("/orders/1001", json=order_body(status="placed"))
    assert response.json["status"] == "paid"


def test_cancelled_order_cannot_be_revived(api: Any) -> None:
    api.put("/orders/1001", json=order_body(status="cancelled"))
    response = api.put("/orders/1001", json=order_body(status="paid"))
    assert response.status_code == 409
    assert response.json["error"]["code"] == "order_cancelled"


def test_items_are_replaced_by_sku(api: Any) -> None:
    api.put("/orders/1001", json=order_body())
    items = [{"sku": "CAP-01", "name": "Cap", "quantity": 3, "unit_price": "50.00"}]
    response = api.put("/orders/1001", json=order_body(items=items))
    assert [(i["sku"], i["quantity"]) for i in response.json["items"]] == [("CAP-01", 3)]


def test_shipped_items_cannot_be_removed_or_shrunk(api: Any) -> None:
    create_order_with_shipment(api)
    only_cap = [{"sku": "CAP-01", "name": "Cap", "quantity": 1, "unit_price": "50.00"}]
    assert api.put("/orders/1001", json=order_body(items=only_cap)).status_code == 409
    fewer = order_body()
    fewer["items"][0]["quantity"] = 1
    response = api.put("/orders/1001", json=fewer)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "item_shipped"
    assert api.get("/orders/1001").json["items"][0]["quantity"] == 2


def test_order_is_linked_to_a_verified_account_with_that_email(api: Any) -> None:
    from portal.accounts.service import create_user

    user = create_user("ada.lovelace@example.com", "correct-horse-battery", verified=True)
    db.session.commit()
    api.put("/orders/1001", json=order_body())
    assert db.session.scalar(select(Order.customer_id)) == user.id


def test_get_unknown_order_is_404(api: Any) -> None:
    response = api.get("/orders/nope")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "order_not_found"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": 5}, "email"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"total": "12,50"}, "total"),
        ({"total": 12.5}, "total"),
        ({"placed_at": "yesterday"}, "placed_at"),
        ({"placed_at": "2026-10-10T09:30:00"}, "placed_at"),
        ({"status": "shipped"}, "status"),
        ({"items": []}, "items"),
        ({"customer_name": ""}, "customer_name"),
        ({"customer_name": "a\u0000b"}, "customer_name"),
        ({"customer_name": "x" * 201}, "customer_name"),
        ({"unexpected": 1}, "unexpected"),
        ({"locale": "german"}, "locale"),
    ],
)
def test_invalid_order_fields_get_422_naming_the_field(api: Any, change: dict[str, Any], field: str) -> None:
    response = api.put("/orders/1001", json=order_body(**change))
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"]
    assert count(Order) == 0


def test_missing_fields_are_each_named(api: Any) -> None:
    response = api.put("/orders/1001", json={"email": "a@example.com"})
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    for name in ("customer_name", "placed_at", "currency", "total", "shipping_address", "items"):
        assert fields[name] == "This field is required."


def test_nested_errors_have_paths(api: Any) -> None:
    body = order_body()
    body["items"][1]["quantity"] = 0
    del body["shipping_address"]["city"]
    fields = api.put("/orders/1001", json=body).json["error"]["fields"]
    assert "items[1].quantity" in fields
    assert "shipping_address.city" in fields


def test_too_many_decimals_for_the_currency(api: Any) -> None:
    response = api.put("/orders/1001", json=order_body(currency="JPY", total="1000.5"))
    assert response.status_code == 422
    assert "total" in response.json["error"]["fields"]


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"[1, 2]", b'"text"', b"\xff\xfe", b"{" * 5000 + b"}" * 5000, b"null"]
)
def test_malformed_bodies_get_a_4xx(api: Any, raw: bytes) -> None:
    response = api.client.put(
        "/api/v1/orders/1001", data=raw, headers={**api.headers, "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert "error" in response.json
    assert count(Order) == 0


def test_enormous_body_is_refused_with_413(api: Any) -> None:
    body = order_body(customer_name="x" * 2_000_000)
    response = api.put("/orders/1001", json=body)
    assert response.status_code == 413
    assert response.json["error"]["code"] == "request_entity_too_large"


def test_bad_order_number_in_url(api: Any) -> None:
    response = api.put("/orders/%2E%2E%20x", json=order_body())
    assert response.status_code == 422
    assert "number" in response.json["error"]["fields"]


# --- order events -------------------------------------------------------------------------------------------


def test_order_events_move_the_order_forward_once(api: Any) -> None:
    received: list[str] = []

    def on_paid(order: Order, **kwargs: Any) -> None:
        received.append(order.number)

    signals.order_paid.connect(on_paid)
    try:
        api.put("/orders/1001", json=order_body())
        first = api.post("/orders/1001/events", json={"type": "paid", "occurred_at": "2026-10-10T10:00:00Z"})
        again = api.post("/orders/1001/events", json={"type": "paid", "occurred_at": "2026-10-10T10:00:00Z"})
    finally:
        signals.order_paid.disconnect(on_paid)
    assert (first.status_code, first.json["recorded"], first.json["status"]) == (201, True, "paid")
    assert (again.status_code, again.json["recorded"]) == (200, False)
    assert received == ["1001"]

    fulfilled = api.post(
        "/orders/1001/events", json={"type": "fulfilled", "occurred_at": "2026-10-11T10:00:00Z"}
    )
    assert fulfilled.json["status"] == "fulfilled"


def test_cancelled_order_refuses_progress(api: Any) -> None:
    api.put("/orders/1001", json=order_body())
    api.post("/orders/1001/events", json={"type": "cancelled", "occurred_at": "2026-10-10T10:00:00Z"})
    response = api.post("/orders/1001/events", json={"type": "paid", "occurred_at": "2026-10-10T11:00:00Z"})
    assert response.status_code == 409


def test_order_event_errors(api: Any) -> None:
    assert (
        api.post(
            "/orders/none/events", json={"type": "paid", "occurred_at": "2026-10-10T10:00:00Z"}
        ).status_code
        == 404
    )
    api.put("/orders/1001", json=order_body())
    response = api.post("/orders/1001/events", json={"type": "shipped", "occurred_at": "soon"})
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"type"}
    response = api.post("/orders/1001/events", json={"type": "paid", "occurred_at": "soon"})
    assert set(response.json["error"]["fields"]) == {"occurred_at"}


# --- shipments ----------------------------------------------------------------------------------------------


def test_put_shipment_creates_then_updates(api: Any) -> None:
    api.put("/orders/1001", json=order_body())
    created = api.put("/orders/1001/shipments/JJD0001", json=shipment_body())
    assert created.status_code == 201
    assert created.json["items"] == [{"sku": "TEE-BLK-M", "quantity": 2}]
    assert created.json["status"] is None
    assert created.json["promised_delivery"]["earliest"] == "2026-10-13T06:00:00+00:00"
    updated = api.put("/orders/1001/shipments/JJD0001", json=shipment_body(service="Express"))
    assert updated.status_code == 200
    assert updated.json["service"] == "Express"
    assert count(Shipment) == 1


def test_split_shipments_cannot_ship_more_than_ordered(api: Any) -> None:
    api.put("/orders/1001", json=order_body())
    first = shipment_body(items=[{"sku": "TEE-BLK-M", "quantity": 1}])
    assert api.put("/orders/1001/shipments/A1", json=first).status_code == 201
    second = shipment_body(items=[{"sku": "TEE-BLK-M", "quantity": 1}, {"sku": "CAP-01", "quantity": 1}])
    assert api.put("/orders/1001/shipments/A2", json=second).status_code == 201
    third = shipment_body(items=[{"sku": "TEE-BLK-M", "quantity": 1}])
    response = api.put("/orders/1001/shipments/A3", json=third)
    assert response.status_code == 422
    assert "items[0].quantity" in response.json["error"]["fields"]
    assert count(Shipment) == 2


def test_shipment_errors(api: Any) -> None:
    assert api.put("/orders/none/shipments/X1", json=shipment_body()).status_code == 404
    api.put("/orders/1001", json=order_body())
    unknown = api.put("/orders/1001/shipments/X1", json=shipment_body(items=[{"sku": "NOPE", "quantity": 1}]))
    assert unknown.status_code == 422
    assert "items[0].sku" in unknown.json["error"]["fields"]
    window = {"earliest": "2026-10-15T00:00:00Z", "latest": "2026-10-13T00:00:00Z"}
    backwards = api.put("/orders/1001/shipments/X1", json=shipment_body(promised_delivery=window))
    assert "promised_delivery.latest" in backwards.json["error"]["fields"]
    api.put("/orders/1002", json=order_body())
    api.put("/orders/1001/shipments/X1", json=shipment_body())
    taken = api.put("/orders/1002/shipments/X1", json=shipment_body())
    assert taken.status_code == 409
    assert taken.json["error"]["code"] == "tracking_number_taken"
    assert count(Shipment) == 1


def test_no_shipment_for_a_cancelled_order(api: Any) -> None:
    api.put("/orders/1001", json=order_body(status="cancelled"))
    assert api.put("/orders/1001/shipments/X1", json=shipment_body()).status_code == 409


# --- tracking events ----------------------------------------------------------------------------------------


def test_single_event_updates_the_shipment(api: Any) -> None:
    create_order_with_shipment(api)
    location = {"city": "Leipzig", "region": "Sachsen", "country": "DE", "lat": 51.34, "lon": 12.37}
    response = api.post(
        "/tracking-events",
        json=event_body(
            "e1", "in_transit", "2026-10-11T10:00:00+02:00", location=location, description="Sorted"
        ),
    )
    assert response.status_code == 200
    assert response.json == {
        "received": 1,
        "stored": 1,
        "duplicates": 0,
        "unmatched": 0,
        "events": [{"event_id": "e1", "result": "stored", "matched": True}],
    }
    shipment = api.get("/orders/1001").json["shipments"][0]
    assert shipment["status"] == "in_transit"
    assert shipment["tracking_events"][0]["location"]["city"] == "Leipzig"


def test_the_same_event_is_stored_once(api: Any) -> None:
    create_order_with_shipment(api)
    event = event_body("e1", "in_transit", "2026-10-11T10:00:00Z")
    api.post("/tracking-events", json=event)
    again = api.post("/tracking-events", json=event)
    assert again.json["stored"] == 0
    assert again.json["events"][0]["result"] == "duplicate"
    batch = {
        "events": [
            event,
            event_body("e2", "out_for_delivery", "2026-10-12T08:00:00Z"),
            event_body("e2", "out_for_delivery", "2026-10-12T08:00:00Z"),
        ]
    }
    response = api.post("/tracking-events", json=batch).json
    assert (response["received"], response["stored"], response["duplicates"]) == (3, 1, 2)
    assert [e["result"] for e in response["events"]] == ["duplicate", "stored", "duplicate"]
    assert count(TrackingEvent) == 2


def test_late_events_never_move_a_shipment_backwards(api: Any) -> None:
    create_order_with_shipment(api)
    changes: list[tuple[str | None, str]] = []

    def on_change(shipment: Shipment, previous: str | None, status: str, **kwargs: Any) -> None:
        changes.append((previous, status))

    signals.shipment_status_changed.connect(on_change)
    try:
        api.post("/tracking-events", json=event_body("e3", "out_for_delivery", "2026-10-13T08:00:00Z"))
        api.post("/tracking-events", json=event_body("e1", "info_received", "2026-10-11T08:00:00Z"))
        api.post("/tracking-events", json=event_body("e2", "in_transit", "2026-10-12T08:00:00Z"))
    finally:
        signals.shipment_status_changed.disconnect(on_change)
    shipment = api.get("/orders/1001").json["shipments"][0]
    assert shipment["status"] == "out_for_delivery"
    assert [e["event_id"] for e in shipment["tracking_events"]] == ["e3", "e2", "e1"]  # newest first
    assert changes == [(None, "out_for_delivery")]


def test_delivered_is_final_unless_returned_to_sender_later(api: Any) -> None:
    create_order_with_shipment(api)
    api.post(
        "/tracking-events",
        json={
            "events": [
                event_body("e1", "in_transit", "2026-10-12T08:00:00Z"),
                event_body("e2", "delivered", "2026-10-13T12:00:00Z"),
            ]
        },
    )
    # A scan stamped after delivery (e.g. a late hub scan) does not undo it.
    api.post("/tracking-events", json=event_body("e3", "in_transit", "2026-10-13T13:00:00Z"))
    shipment = api.get("/orders/1001").json["shipments"][0]
    assert (shipment["status"], shipment["delivered_at"]) == ("delivered", "2026-10-13T12:00:00+00:00")
    api.post("/tracking-events", json=event_body("e4", "returned_to_sender", "2026-10-14T09:00:00Z"))
    shipment = api.get("/orders/1001").json["shipments"][0]
    assert (shipment["status"], shipment["delivered_at"]) == ("returned_to_sender", None)


def test_late_events_that_still_decide_the_status_are_applied(api: Any) -> None:
    """Most late events change nothing and cost no reading of the history; these do change the status."""
    create_order_with_shipment(api)

    def status() -> tuple[str, str | None, str]:
        shipment = api.get("/orders/1001").json["shipments"][0]
        return shipment["status"], shipment["delivered_at"], shipment["last_event_at"]

    api.post("/tracking-events", json=event_body("e1", "out_for_delivery", "2026-10-13T08:00:00Z"))
    # At the same moment as the latest event: the one that came later counts as the newer.
    api.post("/tracking-events", json=event_body("e2", "failed_attempt", "2026-10-13T08:00:00Z"))
    assert status() == ("failed_attempt", None, "2026-10-13T08:00:00+00:00")
    api.post("/tracking-events", json=event_body("e3", "in_transit", "2026-10-14T09:00:00Z"))
    # A delivery reported after a later scan still makes the parcel delivered...
    api.post("/tracking-events", json=event_body("e4", "delivered", "2026-10-13T12:00:00Z"))
    assert status() == ("delivered", "2026-10-13T12:00:00+00:00", "2026-10-14T09:00:00+00:00")
    # ...and a return to sender after that delivery, reported even later, undoes it.
    api.post("/tracking-events", json=event_body("e5", "returned_to_sender", "2026-10-13T18:00:00Z"))
    assert status() == ("returned_to_sender", None, "2026-10-14T09:00:00+00:00")
    api.post("/tracking-events", json=event_body("e6", "info_received", "2026-10-12T08:00:00Z"))
    assert status() == ("returned_to_sender", None, "2026-10-14T09:00:00+00:00")


def test_events_for_unknown_tracking_numbers_wait_for_the_shipment(api: Any) -> None:
    api.put("/orders/1001", json=order_body())
    response = api.post(
        "/tracking-events",
        json=event_body("e1", "in_transit", "2026-10-12T08:00:00Z", tracking_number="LATE1"),
    )
    assert response.json["unmatched"] == 1
    assert response.json["events"][0]["matched"] is False
    api.put("/orders/1001/shipments/LATE1", json=shipment_body())
    shipment = api.get("/orders/1001").json["shipments"][0]
    assert shipment["status"] == "in_transit"
    assert len(shipment["tracking_events"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (event_body("e1", "lost", "2026-10-12T08:00:00Z"), "status"),
        (event_body("e1", "in_transit", "2026-13-12T08:00:00Z"), "occurred_at"),
        (event_body("", "in_transit", "2026-10-12T08:00:00Z"), "event_id"),
        (event_body("e1", "in_transit", "2026-10-12T08:00:00Z", tracking_number="a b"), "tracking_number"),
        (event_body("e1", "in_transit", "2026-10-12T08:00:00Z", location={"lat": 91}), "location.lat"),
        ({"events": []}, "events"),
        (
            {"events": [event_body("e1", "in_transit", "2026-10-12T08:00:00Z"), {"event_id": "e2"}]},
            "events[1].status",
        ),
    ],
)
def test_invalid_events_are_refused_and_nothing_is_stored(api: Any, body: dict[str, Any], field: str) -> None:
    create_order_with_shipment(api)
    response = api.post("/tracking-events", json=body)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"], response.json
    assert count(TrackingEvent) == 0


def test_batch_size_is_limited(api: Any, app: Any) -> None:
    limit = app.config["API_MAX_BATCH_EVENTS"]
    events = [event_body(f"e{i}", "in_transit", "2026-10-12T08:00:00Z") for i in range(limit + 1)]
    response = api.post("/tracking-events", json={"events": events})
    assert response.status_code == 422
    assert "events" in response.json["error"]["fields"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"email": "\\ud800"}', "malformed_json"),
        (b'{"email": NaN}', "malformed_json"),
        (b'{"email": Infinity}', "malformed_json"),
    ],
)
def test_bodies_no_database_could_store_are_refused(api: Any, raw: bytes, code: str) -> None:
    headers = {**api.headers, "Content-Type": "application/json"}
    response = api.client.put("/api/v1/orders/1001", data=raw, headers=headers)
    assert response.status_code == 400
    assert response.json["error"]["code"] == code


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1900-01-01T00:00:00Z"]
)
def test_dates_at_the_edges_of_the_calendar_are_refused(api: Any, when: str) -> None:
    response = api.put("/orders/1001", json=order_body(placed_at=when))
    assert response.status_code == 422
    assert "placed_at" in response.json["error"]["fields"]
    api.put("/orders/1001", json=order_body())
    response = api.post("/orders/1001/events", json={"type": "paid", "occurred_at": when})
    assert response.status_code == 422


def test_control_characters_in_an_image_url_are_refused(api: Any) -> None:
    body = order_body()
    body["items"][0]["image_url"] = "https://img.example.com/a\u0000b.png"
    response = api.put("/orders/1001", json=body)
    assert response.status_code == 422
    assert "items[0].image_url" in response.json["error"]["fields"]


@pytest.mark.parametrize("path", ["/orders/A%00", "/orders/A%00/events", "/orders/" + "x" * 65])
def test_impossible_order_numbers_in_urls_are_404(api: Any, path: str) -> None:
    assert api.get(path).status_code in (404, 405)
    response = api.post(
        f"{path}/events" if not path.endswith("events") else path,
        json={"type": "paid", "occurred_at": "2026-10-10T10:00:00Z"},
    )
    assert response.status_code in (404, 405)
    assert "error" in response.json


def test_an_event_left_unmatched_by_a_race_is_adopted_by_the_next_one(api: Any) -> None:
    # Simulate the race: the shipment exists, but an earlier event for it was stored unmatched.
    create_order_with_shipment(api)
    orphan = TrackingEvent(
        event_id="orphan",
        tracking_number="JJD0001",
        status="in_transit",
        occurred_at=datetime(2026, 10, 12, 8, tzinfo=UTC),
    )
    db.session.add(orphan)
    db.session.commit()
    api.post("/tracking-events", json=event_body("e1", "info_received", "2026-10-11T08:00:00Z"))
    shipment = api.get("/orders/1001").json["shipments"][0]
    assert shipment["status"] == "in_transit"
    assert [e["event_id"] for e in shipment["tracking_events"]] == ["orphan", "e1"]
