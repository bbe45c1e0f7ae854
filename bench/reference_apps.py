"""The two references every page is measured against, served by the same gunicorn settings as the portal.

- `hello`: a hello-world Flask app — the ceiling of the web stack on this machine.
- `anchor`: bare Flask + Flask-SQLAlchemy that loads one order and its 20 lines by key and renders a ~30-row
  Jinja table — what a minimal database-backed page costs here. Its tables live in the benchmark database.

gunicorn ... bench.reference_apps:hello   /   bench.reference_apps:anchor  (DATABASE_URL from the environment)
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask import Flask, abort
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, Numeric, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ANCHOR_ORDERS = 10_000
ANCHOR_LINES = 20


class _Base(DeclarativeBase):
    pass


store = SQLAlchemy(model_class=_Base)


class AnchorOrder(store.Model):  # type: ignore[name-defined]
    __tablename__ = "anchor_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    placed_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 3))


class AnchorLine(store.Model):  # type: ignore[name-defined]
    __tablename__ = "anchor_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("anchor_orders.id"), index=True)
    position: Mapped[int]
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 3))


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Order {{ order.number }}</title></head>
<body><main><h1>Order {{ order.number }}</h1>
<table>
<tr><th>Customer</th><td colspan="3">{{ order.customer_name }}</td></tr>
<tr><th>E-mail</th><td colspan="3">{{ order.email }}</td></tr>
<tr><th>Placed</th><td colspan="3">{{ order.placed_at.strftime('%Y-%m-%d %H:%M') }}</td></tr>
<tr><th>Status</th><td colspan="3">{{ order.status|title }}</td></tr>
<tr><th>SKU</th><th>Item</th><th>Qty</th><th>Price</th></tr>
{% for line in lines %}<tr><td>{{ line.sku }}</td><td>{{ line.name }}</td><td>{{ line.quantity }}</td>
<td>{{ '%.2f'|format(line.unit_price * line.quantity) }}</td></tr>
{% endfor %}<tr><th colspan="3">Lines</th><td>{{ lines|length }}</td></tr>
<tr><th colspan="3">Items</th><td>{{ lines|sum(attribute='quantity') }}</td></tr>
<tr><th colspan="3">Shipping</th><td>4.90</td></tr>
<tr><th colspan="3">Total</th><td>{{ '%.2f'|format(order.total) }}</td></tr>
</table></main></body></html>
"""


def _database_uri() -> str:
    url = os.environ.get("DATABASE_URL", "sqlite://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def create_anchor_app() -> Flask:
    app = Flask("anchor")
    app.config["SQLALCHEMY_DATABASE_URI"] = _database_uri()
    store.init_app(app)
    page = app.jinja_env.from_string(PAGE)  # compiled once, as render_template's cache would

    @app.get("/anchor/<number>")
    def order_page(number: str) -> str:
        """One order and its lines, by key."""
        order = store.session.scalar(select(AnchorOrder).where(AnchorOrder.number == number))
        if order is None:
            abort(404)
        lines = store.session.scalars(
            select(AnchorLine).where(AnchorLine.order_id == order.id).order_by(AnchorLine.position)
        ).all()
        return page.render(order=order, lines=lines)

    return app


def create_hello_app() -> Flask:
    app = Flask("hello")

    @app.get("/")
    def hello() -> str:
        """The ceiling."""
        return "Hello, World!"

    return app


def fill_anchor_tables(app: Flask) -> int:
    """Create and fill the anchor's tables once (10k orders × 20 lines); returns the order count."""
    with app.app_context():
        store.create_all()
        present = store.session.scalar(select(func.count()).select_from(AnchorOrder)) or 0
        if present == ANCHOR_ORDERS:
            return present
        store.session.execute(AnchorLine.__table__.delete())
        store.session.execute(AnchorOrder.__table__.delete())
        start = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
        orders, lines = [], []
        for index in range(ANCHOR_ORDERS):
            orders.append(
                {
                    "id": index + 1,
                    "number": f"A{100000 + index}",
                    "customer_name": f"Customer {index}",
                    "email": f"customer{index}@example.test",
                    "placed_at": start + timedelta(minutes=index),
                    "status": "fulfilled",
                    "total": Decimal("123.450"),
                }
            )
            for position in range(ANCHOR_LINES):
                lines.append(
                    {
                        "id": index * ANCHOR_LINES + position + 1,
                        "order_id": index + 1,
                        "position": position,
                        "sku": f"SKU-{position:03d}",
                        "name": f"Product number {position}",
                        "quantity": 1 + position % 3,
                        "unit_price": Decimal("9.950"),
                    }
                )
        store.session.execute(AnchorOrder.__table__.insert(), orders)
        store.session.execute(AnchorLine.__table__.insert(), lines)
        store.session.commit()
        return ANCHOR_ORDERS


hello = create_hello_app()
anchor = create_anchor_app()
