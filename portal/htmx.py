"""htmx in one place: a full page for normal and boosted requests, one named block for htmx requests."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Response, make_response, render_template, request
from flask import current_app as app
from jinja2 import Environment, nodes
from jinja2.runtime import Context


def wants_fragment() -> bool:
    """True for an htmx request that swaps part of a page (not a boosted navigation or history restore)."""
    htmx = getattr(request, "htmx", None)
    if not htmx:
        return False
    return not htmx.boosted and not htmx.history_restore_request


@cache
def _top_level_imports(environment: Environment, template_name: str) -> tuple[nodes.Node, ...]:
    source, _, _ = environment.loader.get_source(environment, template_name)  # type: ignore[union-attr]
    tree = environment.parse(source)
    return tuple(node for node in tree.body if isinstance(node, nodes.Import | nodes.FromImport))


def _run_imports(environment: Environment, template_name: str, context: Context) -> None:
    """Do what the template's top level would do before its blocks run: its `{% import %}`s.

    Rendering one block skips the top level, so macros imported there would be undefined in the fragment.
    """
    for node in _top_level_imports(environment, template_name):
        assert isinstance(node, nodes.Import | nodes.FromImport)
        assert isinstance(node.template, nodes.Const)
        imported = environment.get_template(node.template.value)
        module = imported.make_module(context.get_all()) if node.with_context else imported.module
        if isinstance(node, nodes.Import):
            context.vars[node.target] = module
        else:
            for name in node.names:
                source_name, alias = name if isinstance(name, tuple) else (name, name)
                context.vars[alias] = getattr(module, source_name)


def render_block(template_name: str, block_name: str, **context: Any) -> str:
    """Render one named block of a template with the full template context."""
    environment = app.jinja_env
    template = environment.get_template(template_name)
    app.update_template_context(context)
    block_context = template.new_context(context)
    _run_imports(environment, template_name, block_context)
    block = template.blocks[block_name]
    return "".join(block(block_context))


def render_page_or_block(template_name: str, block_name: str, status: int = 200, **context: Any) -> Response:
    """The whole page, or for a fragment request only `block_name`; varies on HX-Request for caches."""
    if wants_fragment():
        body = render_block(template_name, block_name, **context)
    else:
        body = render_template(template_name, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response
