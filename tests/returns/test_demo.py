"""The demo data holds one return of the demo shopper, made once however often the seed runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.returns.models import Return


def test_the_demo_seed_makes_one_return(runner: Any) -> None:
    with clock.freeze(datetime(2026, 3, 10, 15, 30, tzinfo=UTC)):
        for _ in range(2):
            result = runner.invoke(args=["portal", "seed", "--demo"])
            assert result.exit_code == 0, result.output
    returns = db.session.scalars(select(Return)).all()
    assert len(returns) == 1
    [item] = returns
    assert item.order.customer is not None and item.order.customer.email == "shopper@example.com"
    assert item.status == "approved" and item.label is not None and item.label.state == "pending"
