"""The access matrix: every object route of an order, and who may open it.

Later areas add their routes to ORDER_ROUTES; tests/orders/test_access.py runs each one for every viewer.
A route template gets `number` and `tracking_number` filled in; `htmx=True` sends HX-Request as the
page does.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    template: str
    htmx: bool = False
    ok_status: int = 200


ORDER_ROUTES = [
    Route("/orders/{number}"),
    Route("/orders/{number}/shipments/{tracking_number}", htmx=True),
    Route("/orders/{number}/shipments/{tracking_number}/instructions"),
    Route("/orders/{number}/shipments/{tracking_number}/instructions", htmx=True),
    Route("/orders/{number}/shipments/{tracking_number}/instructions/edit", htmx=True),
    Route("/orders/{number}/rating", htmx=True),
    Route("/orders/{number}/returns/new"),
]

# Routes of one return of order X (tests/returns/test_access.py fills in `rma`, with the label ready).
RETURN_ROUTES = [
    Route("/returns/{rma}"),
    Route("/returns/{rma}", htmx=True),
    Route("/returns/{rma}/label.pdf"),
    Route("/returns/{rma}/label.pdf?download=1"),
]

# viewer -> may see order X (owned by shopper A, looked up by guest X)
VIEWERS = {
    "owner": True,
    "other_shopper": False,
    "guest_with_grant": True,
    "guest_with_other_grant": False,
    "anonymous": False,
    "agent": True,
    "admin": True,
}
