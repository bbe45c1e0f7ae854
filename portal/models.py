"""Imports every model so that metadata (and Alembic) sees the whole schema."""

from portal.accounts.models import ApiClient, User
from portal.audit import AuditEntry
from portal.backoffice import models as backoffice_models  # noqa: F401 - area tables
from portal.loyalty import models as loyalty_models  # noqa: F401
from portal.messaging.models import Message, MessageSuppression
from portal.orders.guest_models import GuestLink
from portal.orders.instructions_models import DeliveryInstructionVersion
from portal.orders.models import Order, OrderEvent, OrderItem, Shipment, ShipmentItem, TrackingEvent
from portal.orders.prediction_models import LaneStatistic, ShipmentRisk
from portal.returns import models as returns_models  # noqa: F401
from portal.surveys import models as surveys_models  # noqa: F401
from portal.webhooks.models import WebhookAttempt, WebhookDelivery

__all__ = [
    "ApiClient",
    "AuditEntry",
    "DeliveryInstructionVersion",
    "GuestLink",
    "LaneStatistic",
    "Message",
    "MessageSuppression",
    "Order",
    "OrderEvent",
    "OrderItem",
    "Shipment",
    "ShipmentItem",
    "ShipmentRisk",
    "TrackingEvent",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
]
