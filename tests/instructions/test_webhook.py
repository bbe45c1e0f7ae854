"""From the form to the shop: a saved change reaches the shop's endpoint, signed, access code included."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.instructions.conftest import post_instructions
from tests.orders.test_views import grant
from tests.webhooks.conftest import SECRET, Receiver, receiver, verify

__all__ = ["receiver"]  # the fixture, shared with the webhook tests


@pytest.mark.usefixtures("parcel")
def test_a_change_reaches_the_shop_through_the_worker(
    client: Any, receiver: Receiver, run_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("SHOP_WEBHOOK_SECRET", SECRET)
    grant(client, "1001")
    response = post_instructions(
        client, safe_place="neighbour", neighbour_name="Mrs Hudson", access_code="4711", note="<b>hi</b>"
    )
    assert response.status_code == 303

    result = run_worker("webhooks")
    assert result.returncode == 0, result.stderr
    (request,) = receiver.wait_for(1)
    assert verify(request)
    body = json.loads(request.body)
    assert body["type"] == "delivery_instructions.updated"
    data = body["data"]
    assert data["order_number"] == "1001" and data["tracking_number"] == "T1001"
    assert data["instructions"]["version"] == 1
    assert data["instructions"]["access_code"] == "4711"
    assert data["instructions"]["neighbour"] == {"name": "Mrs Hudson", "house_number": None}
    assert data["instructions"]["note"] == "<b>hi</b>"
    assert data["changed_fields"] == ["safe_place", "neighbour_name", "access_code", "note"]
