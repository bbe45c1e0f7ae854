"""Forms of the loyalty page: trading points for a reward, and the birthday (fields `points`, `birthday`)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField
from wtforms.validators import InputRequired, Optional

from portal.i18n import format_number, money
from portal.loyalty.spending import RedemptionOption


class RedeemForm(FlaskForm):
    points = RadioField(
        _l("Reward"),
        coerce=int,
        validators=[InputRequired(message=_l("Choose a reward."))],
    )

    def offer(self, options: list[RedemptionOption], currency: str, available: int) -> RedeemForm:
        self.points.choices = [
            (
                option.points,
                str(
                    _l(
                        "%(points)s points for %(value)s store credit",
                        points=format_number(option.points),
                        value=money(option.value, currency),
                    )
                ),
            )
            for option in options
        ]
        return self


class BirthdayForm(FlaskForm):
    birthday = DateField(
        _l("Your birthday"),
        validators=[Optional()],
        render_kw={"autocomplete": "bday"},
    )
