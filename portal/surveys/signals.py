"""What the surveys area tells others (loyalty awards the survey bonus, the shop gets a webhook)."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: the SurveyResponse; invitation_id: int; order_id: int; customer_id: int | None (None for guests).
# Sent once per invitation, when its first answer is recorded, inside that transaction.
survey_responded = _signals.signal("survey-responded")
