"""The whole database as plain values, to prove that something (a GET, a refused POST) changed nothing."""

from __future__ import annotations

from typing import Any

from portal.extensions import db


def database_snapshot() -> dict[str, list[tuple[Any, ...]]]:
    db.session.expire_all()
    snapshot = {}
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            rows = connection.execute(table.select()).all()
            snapshot[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return snapshot
