"""htmx in one place: a full page for normal and boosted requests, one named block for htmx requests."""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template, request
from flask import current_app as app


def wants_fragment() -> bool:
    """True for an htmx request that swaps part of a page (not a boosted navigation or history restore)."""
    htmx = getattr(request, "htmx", None)
    if not htmx:
        return False
    return not htmx.boosted and not htmx.history_restore_request


def render_block(template_name: str, block_name: str, **context: Any) -> str:
    """Render one named block of a template with the full template context."""
    environment = app.jinja_env
    template = environment.get_template(template_name)
    app.update_template_context(context)
    block = template.blocks[block_name]
    return "".join(block(template.new_context(context)))


def render_page_or_block(template_name: str, block_name: str, status: int = 200, **context: Any) -> Response:
    """The whole page, or for a fragment request only `block_name`; varies on HX-Request for caches."""
    if wants_fragment():
        body = render_block(template_name, block_name, **context)
    else:
        body = render_template(template_name, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response
