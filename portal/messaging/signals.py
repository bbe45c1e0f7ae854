"""What the messaging area asks the other areas before and while sending; wired in `portal.signals_wiring`.

Unlike announcements, these are questions: the send job reads the receivers' return values.
"""

from blinker import Namespace

_signals = Namespace()

# sender: the Message about to go out; kwargs: order (Order), step (Step).
# A receiver returns a short reason (e.g. "returned") to skip the message, or None to let it go. The returns
# area answers "returned" for the after-delivery steps once an order is fully returned.
message_due = _signals.signal("message-due")

# sender: the Message being rendered; kwargs: order (Order).
# A receiver returns a dict of extra template values (e.g. the surveys area a `survey_url`), or None.
message_context = _signals.signal("message-context")
