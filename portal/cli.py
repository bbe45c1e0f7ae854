"""`flask --app wsgi portal …` commands."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from portal.errors import DomainError
from portal.extensions import db


def _explain(error: DomainError) -> str:
    details = "; ".join(f"{field}: {message}" for field, message in error.fields.items())
    return f"{error.message} {details}".strip()


portal_cli = AppGroup("portal", help="Doorstep administration commands.")


@portal_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--password", required=True, help="8 to 128 characters.")
@click.option(
    "--role", type=click.Choice(["shopper", "agent", "admin"]), default="shopper", show_default=True
)
@click.option("--name", default="")
def create_user_command(email: str, password: str, role: str, name: str) -> None:
    """Create a shopper, agent or admin account (e-mail counted as verified)."""
    from portal.accounts.service import create_user

    try:
        user = create_user(email, password, role, name, verified=True)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(_explain(error)) from None
    click.echo(f"Created {user.role} {user.email}")


@portal_cli.command("create-api-client")
@click.argument("name")
def create_api_client_command(name: str) -> None:
    """Create an API client and print its bearer token once (only a hash is kept)."""
    from portal.api.auth import create_api_client

    try:
        client, token = create_api_client(name)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(_explain(error)) from None
    click.echo(f"API client {client.name!r} created. Its token (shown only now):")
    click.echo(token)


@portal_cli.command("seed")
@click.option("--demo", is_flag=True, required=True, help="Load the demo shop (idempotent).")
def seed_command(demo: bool) -> None:
    """Load demo data: a catalogue, ~50 orders in every state, shipments with histories, demo users."""
    from portal.demo import DEMO_GUEST, DEMO_USERS, seed_demo

    summary = seed_demo()
    db.session.commit()
    click.echo(summary)
    click.echo("Demo logins:")
    for role, (email, password) in DEMO_USERS.items():
        click.echo(f"  {role:8} {email} / {password}")
    click.echo(f"  guest    order {DEMO_GUEST[0]} + {DEMO_GUEST[1]}")


@portal_cli.command("dispatch")
@click.option(
    "--until",
    "until",
    default=None,
    metavar="ISO-8601",
    help="Queue what is due by this instant (with an offset) instead of now; guards judge each message as "
    "of its due time.",
)
def dispatch_command(until: str | None) -> None:
    """Queue a send job for every message due by now (or by --until) for the workers, and exit."""
    from datetime import datetime

    from portal.messaging.tasks import dispatch_due_messages

    if until is not None:
        try:
            moment = datetime.fromisoformat(until)
        except ValueError:
            raise click.BadParameter("use an ISO-8601 instant, e.g. 2026-10-12T09:00:00+02:00") from None
        if moment.tzinfo is None:
            raise click.BadParameter("give the instant with its UTC offset, e.g. +02:00 or Z")
        until = moment.isoformat()
    queued = dispatch_due_messages(until)
    click.echo(f"{queued} message(s) queued")


@portal_cli.command("refresh-predictions")
def refresh_predictions_command() -> None:
    """Rebuild the transit-time model and re-check parcels at risk (the worker does this periodically)."""
    from portal.orders.predictions import refresh_predictions

    summary = refresh_predictions()
    db.session.commit()
    click.echo(summary)


def init_app(app: Flask) -> None:
    app.cli.add_command(portal_cli)
