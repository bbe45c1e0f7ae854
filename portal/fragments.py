"""Rendered page parts kept in Redis, dropped the moment a write touches what they show.

The order page, the order list and the loyalty page spend almost all their time loading rows and rendering
them, and they are read far more often than the rows change (a guest reloads the tracking page; a parcel gets
a few scans a day). So each is rendered once per order or customer, viewer kind, language and time zone,
and served from Redis until it changes: the whole page, per what the layout's header shows (signed out, a
shopper, staff) and URL, or only its main part when messages wait to be flashed or the URL has a query string.

- A fragment belongs to one *scope*: "order:42" or "customer:7". A scope is one Redis hash whose fields are
  the fragments' variants, so dropping a scope is one DEL.
- Every flush of an ORM object that belongs to an order (it is the order, or it has an `order_id`, a
  `shipment_id` or a `return_id`) or to a customer (it is the user, or it has a `customer_id` or `user_id`)
  marks those scopes; they are dropped when the transaction commits, and forgotten if it rolls back. An
  order's change also drops its customer's scope (the order list shows the order).
- `PAGE_CACHE_SECONDS` bounds what no flush announces: time passing (a return window closing, an instruction
  cut-off), bulk UPDATEs that bypass the ORM (messages marked sent, the predictions refresh) and a changed
  shop setting (the shop's name in the layout). 0 turns the cache off.
- The session's CSRF token is replaced by a placeholder before a fragment is stored and put back when it is
  served, so a stored fragment never carries one session's token to another.
- If Redis is unavailable the page is rendered as if nothing were stored; a page never fails for the cache.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import redis
from flask import Flask, current_app, has_app_context, make_response, render_template, request, session
from flask_babel import get_locale, get_timezone
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from portal.accounts.views import signed_in_user
from portal.htmx import render_block, wants_fragment
from portal.queue import redis_connection

log = logging.getLogger(__name__)

KEY_PREFIX = "page-fragments:"
CSRF_PLACEHOLDER = "\x00csrf-token\x00"  # cannot occur in rendered HTML (NUL is refused on input)
_PENDING = "fragment_scopes"


def enabled() -> bool:
    return has_app_context() and int(current_app.config.get("PAGE_CACHE_SECONDS", 0)) > 0


def variant(*parts: str) -> str:
    """A fragment's field in its scope: the given parts plus the language and time zone being rendered."""
    return ":".join((*parts, str(get_locale()), str(get_timezone())))


def cached(scope: str, field: str, render: Callable[[], str]) -> Markup:
    """The fragment `field` of `scope`, rendered by `render()` (a template's output) unless it is stored."""
    html = _stored_or_rendered(scope, field, render) if enabled() else render()
    # Markup: a template output, escaped when it was rendered.
    return Markup(html)  # noqa: S704  # nosec B704


def _stored_or_rendered(scope: str, field: str, render: Callable[[], str]) -> str:
    key = KEY_PREFIX + scope
    try:
        stored = redis_connection().hget(key, field)
    except redis.RedisError as error:
        log.warning("page cache unavailable: %s", error)
        return render()
    if stored is not None:
        html = stored.decode() if isinstance(stored, bytes) else str(stored)
        return html.replace(CSRF_PLACEHOLDER, generate_csrf()) if CSRF_PLACEHOLDER in html else html
    html = render()
    token = generate_csrf() if "csrf_token" in html else None
    storable = html.replace(token, CSRF_PLACEHOLDER) if token else html
    try:
        pipeline = redis_connection().pipeline(transaction=False)
        pipeline.hset(key, field, storable)
        pipeline.expire(key, int(current_app.config["PAGE_CACHE_SECONDS"]), nx=True)
        pipeline.execute()
    except redis.RedisError as error:
        log.warning("page cache unavailable: %s", error)
    return html


def render_page_or_block(
    template: str,
    block: str,
    scope: str,
    parts: tuple[str, ...],
    context: Callable[[], dict[str, Any]],
    **page_context: Any,
) -> Response:
    """Like `portal.htmx.render_page_or_block`, with the page (or, for htmx, `block`) stored.

    `context()` gives the block's variables and runs only when nothing is stored, so it is where the rows are
    loaded; `page_context` is what the rest of the page (e.g. the title) needs. When the whole page cannot be
    stored (flashed messages waiting, a query string), only the `content` block is, and the template shows
    `cached_content` in place of its content block.
    """
    body: str
    if wants_fragment():
        body = cached(scope, variant(*parts, block), lambda: render_block(template, block, **context()))
    elif _whole_page_storable():
        # The layout around the content depends only on who is signed in (the header's links) and the URL
        # (the current-page marks, the language switch's return path), so the whole page is stored per
        # those too, and a stored page is one HGET with no template work at all.
        field = variant(*parts, "page", _layout_kind(), request.path)
        body = cached(scope, field, lambda: render_template(template, **{**context(), **page_context}))
    else:
        field = variant(*parts, "content")
        html = cached(scope, field, lambda: render_block(template, "content", **context()))
        body = render_template(template, cached_content=html, **page_context)
    response = make_response(body)
    response.vary.add("HX-Request")
    return response


def _whole_page_storable() -> bool:
    """Whether this request's whole page may be stored and served: not when messages are waiting to be
    flashed (they are shown once, in the layout), nor for a URL with a query string (each would be a copy)."""
    return not request.query_string and not session.get("_flashes")


def _layout_kind() -> str:
    """What the layout's header shows for the viewer: signed out, a shopper's links, or a staff member's."""
    user = signed_in_user()
    return "anonymous" if user is None else "staff" if user.is_staff else "shopper"


def drop(scopes: Iterable[str]) -> None:
    """Forget every stored fragment of these scopes now."""
    keys = [KEY_PREFIX + scope for scope in set(scopes)]
    if not keys:
        return
    try:
        redis_connection().delete(*keys)
    except redis.RedisError as error:
        # Nothing to undo: the fragments expire after PAGE_CACHE_SECONDS at the latest.
        log.warning("page cache: could not drop %d scopes: %s", len(keys), error)


# --- which scopes a flush touches --------------------------------------------------------------------------


def _loaded(obj: Any, name: str) -> Any:
    """An attribute's value if it is loaded (never emits SQL inside a flush)."""
    return inspect(obj).dict.get(name)


def _owners(session: Session, model: Any, ids: set[int], column: str) -> dict[int, Any]:
    """{id: value of `column`} of rows of `model`, from the identity map where possible, else one SELECT."""
    found: dict[int, Any] = {}
    for row_id in ids:
        obj = session.identity_map.get(session.identity_key(model, row_id))
        if obj is not None and column in inspect(obj).dict:
            found[row_id] = inspect(obj).dict[column]
    missing = ids - found.keys()
    if missing:
        table = model.__table__
        rows = session.connection().execute(
            select(table.c.id, table.c[column]).where(table.c.id.in_(missing))
        )
        found.update({row_id: value for row_id, value in rows})
    return found


def _scopes_of_flush(session: Session) -> set[str]:
    from portal.accounts.models import User
    from portal.orders.models import Order, Shipment
    from portal.returns.models import Return

    order_ids: set[int] = set()
    customer_ids: set[int] = set()
    shipment_ids: set[int] = set()
    return_ids: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Order) and _loaded(obj, "id") is not None:
            order_ids.add(_loaded(obj, "id"))
        if isinstance(obj, User) and _loaded(obj, "id") is not None:
            customer_ids.add(_loaded(obj, "id"))
        for name, bucket in (
            ("order_id", order_ids),
            ("customer_id", customer_ids),
            ("user_id", customer_ids),
            ("shipment_id", shipment_ids),
            ("return_id", return_ids),
        ):
            value = _loaded(obj, name)
            if value is not None:
                bucket.add(value)
    if shipment_ids:
        order_ids.update(v for v in _owners(session, Shipment, shipment_ids, "order_id").values() if v)
    if return_ids:
        order_ids.update(v for v in _owners(session, Return, return_ids, "order_id").values() if v)
    if order_ids:
        customer_ids.update(v for v in _owners(session, Order, order_ids, "customer_id").values() if v)
    return {f"order:{i}" for i in order_ids} | {f"customer:{i}" for i in customer_ids}


def _after_flush(session: Session, flush_context: Any) -> None:
    if enabled():
        session.info.setdefault(_PENDING, set()).update(_scopes_of_flush(session))


def _after_commit(session: Session) -> None:
    scopes = session.info.pop(_PENDING, None)
    if scopes and enabled():
        drop(scopes)


def _after_transaction_end(session: Session, transaction: Any) -> None:
    # The outermost transaction ended without a commit (a commit popped them already): nothing was written.
    # A rolled-back savepoint keeps them; dropping a little too much is harmless.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def init_app(app: Flask) -> None:
    """Watch every session's flushes (once per process; the listeners check the current app's setting)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_transaction_end", _after_transaction_end)
