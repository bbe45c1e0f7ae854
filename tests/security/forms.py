"""Forms as the browser sees them: every <form method=post> and every hx-post/put/patch/delete on a page."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag

UNSAFE_HX = ("hx-post", "hx-put", "hx-patch", "hx-delete")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # the input type ("text", "email", "checkbox", "select", "textarea", "hidden", ...)
    value: str = ""
    options: tuple[str, ...] = ()
    maxlength: int | None = None


@dataclass(frozen=True)
class Form:
    page: str
    action: str  # a path on this site
    method: str
    htmx: bool
    fields: tuple[Field, ...] = field(default_factory=tuple)

    @property
    def key(self) -> tuple[str, str, bool, tuple[str, ...]]:
        return (self.action, self.method, self.htmx, tuple(sorted(f.name for f in self.fields)))

    def defaults(self) -> dict[str, str]:
        """What the browser would send as the page stands (checked boxes, selected options, values)."""
        data: dict[str, str] = {}
        for item in self.fields:
            if item.kind in ("checkbox", "radio", "submit") and not item.value:
                continue
            data.setdefault(item.name, item.value)
        return data


def _fields(form: Tag) -> tuple[Field, ...]:
    found: list[Field] = []
    for element in form.find_all(["input", "select", "textarea", "button"]):
        name = element.get("name")
        if not name or element.has_attr("disabled"):
            continue
        maxlength = element.get("maxlength")
        limit = int(maxlength) if maxlength and str(maxlength).isdigit() else None
        if element.name == "select":
            options = tuple(str(option.get("value", option.text)) for option in element.find_all("option"))
            selected = element.find("option", selected=True) or element.find("option")
            value = str(selected.get("value", selected.text)) if selected else ""
            found.append(Field(str(name), "select", value, options))
        elif element.name == "textarea":
            found.append(Field(str(name), "textarea", element.text, maxlength=limit))
        elif element.name == "button":
            found.append(Field(str(name), "submit", str(element.get("value", ""))))
        else:
            kind = str(element.get("type", "text")).lower()
            value = str(element.get("value", "on" if kind in ("checkbox", "radio") else ""))
            if kind in ("checkbox", "radio") and not element.has_attr("checked"):
                found.append(Field(str(name), kind, "", (value,)))
            else:
                found.append(
                    Field(str(name), kind, value, (value,) if kind in ("checkbox", "radio") else (), limit)
                )
    return tuple(found)


def _local_path(page: str, target: str) -> str | None:
    url = urljoin(page, target or page)
    parts = urlsplit(url)
    if parts.netloc and parts.netloc not in ("localhost", "portal.test"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def forms_on(page: str, html: str) -> list[Form]:
    """The unsafe-method forms and htmx requests on one page."""
    soup = BeautifulSoup(html, "html.parser")
    found = []
    for element in soup.find_all(True):
        hx = [name for name in UNSAFE_HX if element.has_attr(name)]
        if element.name == "form" and str(element.get("method", "get")).lower() == "post" and not hx:
            path = _local_path(page, str(element.get("action", "")))
            if path:
                found.append(Form(page, path, "POST", False, _fields(element)))
        for attribute in hx:
            path = _local_path(page, str(element.get(attribute, "")))
            if path:
                form = element if element.name == "form" else element.find_parent("form")
                fields = _fields(form) if form is not None else ()
                found.append(Form(page, path, attribute.removeprefix("hx-").upper(), True, fields))
    return found
