"""What the returns area tells others (loyalty claws back points, messaging confirms, the back-office lists).

Receivers run inside the sender's transaction; they write rows, never commit and never call out.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: the Return. return_requested / return_approved / return_cancelled: no extra arguments.
return_requested = _signals.signal("return-requested")
return_approved = _signals.signal("return-approved")
return_cancelled = _signals.signal("return-cancelled")
# sender: the Return; lines: list of (order_item_id, quantity) received back; occurred_at: datetime.
return_received = _signals.signal("return-received")
# sender: the Return; previous: str | None; status: str.
return_status_changed = _signals.signal("return-status-changed")
