"""Imports every model so that metadata (and Alembic) sees the whole schema."""

from portal.accounts.models import ApiClient, User
from portal.audit import AuditEntry
from portal.orders.guest_models import GuestLink
from portal.orders.models import Order, OrderEvent, OrderItem, Shipment, ShipmentItem, TrackingEvent

__all__ = [
    "ApiClient",
    "AuditEntry",
    "GuestLink",
    "Order",
    "OrderEvent",
    "OrderItem",
    "Shipment",
    "ShipmentItem",
    "TrackingEvent",
    "User",
]
