"""The steps of the message sequence: what triggers each, on which channels, when, and which rules apply."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from portal import shop_settings

EMAIL = "email"
SMS = "sms"
CHANNELS = (EMAIL, SMS)


@dataclass(frozen=True)
class Step:
    name: str
    label: LazyString
    # The kind of message in the customer's channel preferences: "updates" or "followups".
    kind: str
    channels: tuple[str, ...]
    # Transactional steps tell the customer about their order; the others may be capped and unsubscribed from.
    transactional: bool = True
    # The setting holding the delay in days after the event; None: at once.
    delay_setting: str | None = None
    per_shipment: bool = False
    # At most one per shipment per (customer's local) day.
    daily: bool = False

    def delay(self) -> timedelta:
        if self.delay_setting is None:
            return timedelta(0)
        return timedelta(days=int(shop_settings.get(self.delay_setting)))


_STEPS = (
    Step("order_confirmation", _l("Order confirmation"), "updates", (EMAIL,)),
    Step("payment_confirmed", _l("Payment confirmed"), "updates", (EMAIL,)),
    Step("order_fulfilled", _l("Order packed"), "updates", (EMAIL,)),
    Step("shipped", _l("Shipped"), "updates", (EMAIL, SMS), per_shipment=True),
    Step("in_transit", _l("On its way"), "updates", (EMAIL,), per_shipment=True),
    Step("out_for_delivery", _l("Out for delivery"), "updates", (EMAIL, SMS), per_shipment=True),
    Step("delivered", _l("Delivered"), "updates", (EMAIL, SMS), per_shipment=True),
    Step(
        "delivery_exception", _l("Delivery problem"), "updates", (EMAIL, SMS), per_shipment=True, daily=True
    ),
    Step(
        "post_delivery_followup",
        _l("Follow-up after delivery"),
        "followups",
        (EMAIL,),
        transactional=False,
        delay_setting="MESSAGE_FOLLOWUP_DAYS",
    ),
    Step(
        "survey_invitation",
        _l("Survey invitation"),
        "followups",
        (EMAIL,),
        transactional=False,
        delay_setting="MESSAGE_SURVEY_DAYS",
    ),
    # Confirmations other areas schedule through `service.schedule_message`.
    Step("delivery_instructions_changed", _l("Delivery instructions changed"), "updates", (EMAIL,)),
    Step("return_confirmation", _l("Return confirmation"), "updates", (EMAIL,)),
    # The loyalty area's reminder, 30 days before points expire (scheduled by its periodic job).
    Step("points_expiring", _l("Points about to expire"), "followups", (EMAIL,), transactional=False),
)

STEPS: dict[str, Step] = {step.name: step for step in _STEPS}

# Steps that only make sense while the customer keeps what was delivered: a full return stops them.
AFTER_DELIVERY_STEPS = frozenset({"post_delivery_followup", "survey_invitation"})
# News of a parcel's journey: pointless once it has arrived (say, an SMS held back overnight).
BEFORE_DELIVERY_STEPS = frozenset({"shipped", "in_transit", "out_for_delivery", "delivery_exception"})

CHANNEL_LABELS: dict[str, LazyString] = {EMAIL: _l("E-mail"), SMS: _l("Text message")}


def get_step(name: str) -> Step:
    """The step called `name`. Raises KeyError for an unknown step (a programming error)."""
    return STEPS[name]
