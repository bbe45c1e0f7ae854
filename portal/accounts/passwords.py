"""The password policy: 8 to 128 characters, not guessable (zxcvbn), not built from the e-mail or the name."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from zxcvbn import zxcvbn

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
RECOMMENDED_PASSWORD_LENGTH = 15
# zxcvbn scores 0 (too guessable) to 4; 2 means "somewhat guessable", enough behind a rate-limited login.
MIN_STRENGTH_SCORE = 2
# zxcvbn's run time grows quickly with length (0.4 s for 128 repeated characters); the first 72 characters
# decide. A password whose first 72 characters are guessable is rejected, which is the cautious direction.
_STRENGTH_CHECK_LENGTH = 72


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why `password` may not be used (a sentence for people), or None when it is fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("Use at least %(num)d characters.", num=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _("Use at most %(num)d characters.", num=MAX_PASSWORD_LENGTH)
    lowered = password.casefold()
    personal = [part for part in _personal_parts(email, name) if len(part) >= 3]
    if any(part in lowered for part in personal):
        return _("Do not use your email address or your name in your password.")
    result = zxcvbn(
        password[:_STRENGTH_CHECK_LENGTH], user_inputs=personal, max_length=_STRENGTH_CHECK_LENGTH
    )
    if result["score"] < MIN_STRENGTH_SCORE:
        return _("This password is too common or too easy to guess. Try a few unrelated words.")
    return None


def _personal_parts(email: str, name: str) -> list[str]:
    """What may not appear in the password: the e-mail address, its local part and the name, whole and
    their longer words ("lovelace" from "Ada Lovelace"), lower-cased."""
    email, name = email.strip().casefold(), name.strip().casefold()
    local_part = email.partition("@")[0]
    words = [word for word in re.split(r"[\W_]+", f"{local_part} {name}") if len(word) >= 4]
    return list(dict.fromkeys(part for part in (email, local_part, name, *words) if part))
