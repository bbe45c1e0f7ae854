"""What the orders area announces; loyalty, messaging and surveys subscribe in `create_app`.

Receivers run inside the sender's transaction: they may add rows (outbox, ledger) but must not commit.
"""

from blinker import Namespace

_signals = Namespace()

# sender: the Order; kwargs: occurred_at
order_placed = _signals.signal("order-placed")
order_paid = _signals.signal("order-paid")
order_fulfilled = _signals.signal("order-fulfilled")
order_cancelled = _signals.signal("order-cancelled")

# sender: the Shipment; kwargs: previous (str | None), status (str), event (TrackingEvent | None)
shipment_status_changed = _signals.signal("shipment-status-changed")

# sender: the Shipment; kwargs: none. Sent when a shipment is first handed to the carrier (created via API).
shipment_created = _signals.signal("shipment-created")

# sender: the Shipment; kwargs: version (DeliveryInstructionVersion, just saved). The version holds the access
# code: receivers that write to the customer (the confirmation e-mail) must leave it out.
delivery_instructions_changed = _signals.signal("delivery-instructions-changed")

ORDER_EVENT_SIGNALS = {
    "placed": order_placed,
    "paid": order_paid,
    "fulfilled": order_fulfilled,
    "cancelled": order_cancelled,
}

# sender: the Shipment; kwargs: stalled (bool: no news for too long; otherwise running late). Sent once per
# parcel when the prediction job first flags it; messaging tells the customer.
shipment_at_risk = _signals.signal("shipment-at-risk")

# sender: None; kwargs: events (list of TrackingEventData) stored just now whose tracking number belongs to no
# shipment. The returns area recognises the tracking numbers of return parcels among them.
tracking_events_unmatched = _signals.signal("tracking-events-unmatched")
