"""Every user-visible message is in every catalog, translated, not fuzzy and with the same placeholders; and
no template shows text that bypasses the catalogs.

The template check reads each template under templates/ (pages, e-mails, SMS, labels) through Jinja's parser:
the literal text between tags and expressions is what a reader sees unless it goes through `_()`, `ngettext()`
or `{% trans %}`. In HTML templates that is every text node and the alt, title, aria-label and placeholder
attributes (and the value of buttons); in .txt templates (e-mail and SMS bodies) every literal character. A
string constant inside an expression that reads like a phrase ("Your order", not "main.index") counts too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from jinja2 import Environment, nodes

from portal.config import SUPPORTED_LOCALES
from portal.i18n import LANGUAGE_NAMES

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
LOCALES = sorted(path.name for path in (ROOT / "translations").iterdir() if path.is_dir())
TRANSLATED_LOCALES = [locale for locale in LOCALES if locale != "en"]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
# %(name)s / %(num)d (Python format) and {n} (str.format) must survive translation unchanged.
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|\{\w*\}")

# Literal template text that needs no translation: the same in every language. Keep this list short.
ALLOWED_TEXT = {
    "Doorstep",  # the product's name
    "×",  # a close or multiplication sign
    "·",  # a separator between inline items
    "–",
    "—",
    "/",
}
TRANSLATION_CALLS = {"_", "gettext", "ngettext", "pgettext", "npgettext", "lazy_gettext", "_l"}
HTML_TEXT_ATTRIBUTES = {"alt", "title", "aria-label", "placeholder"}
# Leaves a mark where an expression was, so "{{ n }} items" still shows " items", and "{{ x }}" alone nothing.
EXPRESSION_MARK = "\x1a"
ATTRIBUTE_LIST = re.compile(r'(?:\s+[\w:.-]+(?:="[^"]*")?)*\s*')
# A phrase in a string constant: a capitalised word followed by more words ("Your order"), or a sentence.
PHRASE = re.compile(r"[A-Z][a-z]+(?:[\s,]+\S+)+|.*[a-z]{2,}[.!?]")


def _catalog(locale: str) -> Catalog:
    with (ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def _key(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def extracted_messages() -> set[str]:
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _is_translated(message: Message) -> bool:
    forms = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return all(forms) and not message.fuzzy


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def test_every_supported_language_has_a_catalog_and_a_name() -> None:
    assert set(SUPPORTED_LOCALES) == set(LOCALES)
    assert set(LANGUAGE_NAMES) == set(SUPPORTED_LOCALES)
    assert {"en", "de", "fr", "es"} <= set(LOCALES)


@pytest.mark.parametrize("locale", TRANSLATED_LOCALES)
def test_every_message_is_translated(locale: str) -> None:
    catalog = _catalog(locale)
    translated = {_key(message): message for message in catalog if message.id}
    code = extracted_messages()
    missing = sorted(code - set(translated))
    assert not missing, (
        f"{len(missing)} message(s) not in the {locale} catalog (run `make extract`): {missing}"
    )
    empty = sorted(mid for mid in code if not _is_translated(translated[mid]))
    assert not empty, f"{len(empty)} message(s) untranslated or fuzzy in {locale}: {empty}"


@pytest.mark.parametrize("locale", LOCALES)
def test_no_message_is_fuzzy_and_no_translation_breaks_its_placeholders(locale: str) -> None:
    catalog = _catalog(locale)
    problems: list[str] = []
    fuzzy = [_key(message) for message in catalog if message.id and message.fuzzy]
    if fuzzy:
        problems.append(f"fuzzy: {fuzzy}")
    for message, errors in catalog.check():
        problems.extend(f"{_key(message)!r}: {error}" for error in errors)
    for message in catalog:
        if not message.id or not message.string:
            continue
        if isinstance(message.id, str):
            expected = [(_placeholders(message.id), message.string)]
        else:
            singular, plural = (_placeholders(text) for text in message.id[:2])
            forms = list(message.string)
            # The first form is the singular in every language we ship (one: n == 1, or n <= 1 in French).
            expected = [(singular, forms[0])] + [(plural, form) for form in forms[1:]]
        for wanted, text in expected:
            if text and _placeholders(text) != wanted:
                problems.append(f"{_key(message)!r}: {text!r} has {_placeholders(text)}, expected {wanted}")
    assert not problems, f"{len(problems)} problem(s) in the {locale} catalog:\n" + "\n".join(problems)


@pytest.mark.parametrize("locale", TRANSLATED_LOCALES)
def test_catalog_header_has_the_language_and_its_plural_rule(locale: str) -> None:
    catalog = _catalog(locale)
    assert str(catalog.locale) == locale
    assert catalog.plural_forms == get_plural(locale).plural_forms


# Characters a text message can carry in GSM-7 (the basic set and its extension table); one character outside
# them switches the whole message to UCS-2, which fits 70 characters per part instead of 160.
GSM_7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)
SMS_SOURCES = [*sorted((TEMPLATES / "sms").glob("*.txt")), ROOT / "portal" / "messaging" / "optouts.py"]


def sms_messages() -> set[str]:
    """The SMS templates' messages, and the replies to STOP and START (the rest of optouts.py is pages)."""
    found: set[str] = set()
    for path in SMS_SOURCES:
        method = "python" if path.suffix == ".py" else "jinja2"
        with path.open("rb") as handle:
            for _lineno, message, _comments, _context in extract(method, handle, keywords=KEYWORDS):
                text = message[0] if isinstance(message, tuple) else message
                if method == "jinja2" or "STOP" in text or "START" in text:
                    found.add(text)
    return found


@pytest.mark.parametrize("locale", LOCALES)
def test_text_messages_fit_gsm_7_in_every_language(locale: str) -> None:
    catalog = _catalog(locale)
    wanted = sms_messages()
    assert len(wanted) >= 5, wanted
    outside = {}
    for message in catalog:
        if message.id and _key(message) in wanted:
            forms = message.string if isinstance(message.string, tuple | list) else (message.string,)
            for form in forms:
                if bad := sorted(set(form or "") - GSM_7):
                    outside[_key(message)] = (form, bad)
    assert not outside, f"SMS texts in {locale} with characters outside GSM-7: {outside}"


# --- Templates: no user-visible text outside the translation calls ---


def _template_paths() -> list[Path]:
    return sorted(path for path in TEMPLATES.rglob("*") if path.suffix in {".html", ".txt"})


def _skeleton(node: nodes.Node) -> str:
    """The template's literal text in source order, with a mark where each printed expression goes."""
    if isinstance(node, nodes.TemplateData):
        return node.data
    if isinstance(node, nodes.Output):
        return "".join(
            child.data if isinstance(child, nodes.TemplateData) else EXPRESSION_MARK for child in node.nodes
        )
    if isinstance(node, nodes.AssignBlock):
        body = "".join(_skeleton(child) for child in node.body)
        # `{% set attributes %} id="x" aria-invalid="true"{% endset %}`: attributes for a tag, not text.
        return "" if ATTRIBUTE_LIST.fullmatch(body) else body
    return "".join(_skeleton(child) for child in node.iter_child_nodes())


def _phrases_in_expressions(node: nodes.Node) -> Iterator[tuple[int, str]]:
    """String constants that read like phrases, anywhere outside a translation call."""
    callee = node.node if isinstance(node, nodes.Call) else None
    if isinstance(callee, nodes.Name) and callee.name in TRANSLATION_CALLS:
        return
    if isinstance(node, nodes.Const) and isinstance(node.value, str) and PHRASE.fullmatch(node.value.strip()):
        yield node.lineno, node.value
    for child in node.iter_child_nodes():
        yield from _phrases_in_expressions(child)


def _is_visible_text(text: str) -> bool:
    text = " ".join(text.replace(EXPRESSION_MARK, " ").split())
    if not text or text in ALLOWED_TEXT:
        return False
    return any(char.isalpha() for char in text)


class _VisibleTextFinder(HTMLParser):
    """Collects (line, text) of HTML text nodes and text attributes; skips scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._skipping.append(tag)
        values = dict(attrs)
        names = set(HTML_TEXT_ATTRIBUTES)
        if tag == "input" and values.get("type") in {"submit", "button", "reset"}:
            names.add("value")
        for name, value in attrs:
            if name in names and value and _is_visible_text(value):
                self.found.append((self.getpos()[0], f'{name}="{value}"'))

    def handle_endtag(self, tag: str) -> None:
        if self._skipping and self._skipping[-1] == tag:
            self._skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self._skipping and _is_visible_text(data):
            self.found.append((self.getpos()[0], data.strip()))


def untranslated_text(path: Path, environment: Environment, base: Path = ROOT) -> list[str]:
    """Every piece of user-visible text in the template at `path` that bypasses the catalogs."""
    source = path.read_text()
    tree = environment.parse(source, name=str(path))
    skeleton = _skeleton(tree)
    where = path.relative_to(base)
    if path.suffix == ".html":
        finder = _VisibleTextFinder()
        # A tag named by an expression (<{{ heading }}>) is still a tag.
        finder.feed(skeleton.replace("<" + EXPRESSION_MARK, "<x").replace("</" + EXPRESSION_MARK, "</x"))
        finder.close()
        # Line numbers count the skeleton's lines: a hint, exact as long as expressions stay on one line.
        found = [f"{where}:~{line}: {text!r}" for line, text in finder.found]
    else:
        found = [f"{where}: {line.strip()!r}" for line in skeleton.splitlines() if _is_visible_text(line)]
    found += [f"{where}:{line}: {value!r}" for line, value in _phrases_in_expressions(tree)]
    return found


@pytest.fixture(scope="module")
def jinja() -> Environment:
    # Only parsed, never rendered: autoescaping does not apply.
    return Environment(  # noqa: S701
        extensions=["jinja2.ext.i18n", "jinja2.ext.do", "jinja2.ext.loopcontrols"]
    )


def test_templates_show_no_text_outside_translation_calls(jinja: Environment) -> None:
    paths = _template_paths()
    assert any("email" in path.parts for path in paths) and any("sms" in path.parts for path in paths)
    found = [problem for path in paths for problem in untranslated_text(path, jinja)]
    assert not found, (
        f"{len(found)} piece(s) of text outside _() / ngettext() / {{% trans %}} (or add it to ALLOWED_TEXT "
        "in tests/test_translations.py if it is the same in every language):\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    "source",
    [
        "<p>Hello</p>",
        '<img alt="A parcel" src="x.png">',
        '<input placeholder="name@example.com">',
        '<button aria-label="Close">×</button>',
        "<p>{{ count }} items</p>",
        '{{ forms.field(form.email, hint="Enter your email address.") }}',
        "{% if x %}<span>Done</span>{% endif %}",
        "{% set label %}Your order{% endset %}<h1>{{ label }}</h1>",
        "Hello {{ name }},\n",
    ],
)
def test_the_template_check_finds_untranslated_text(jinja: Environment, tmp_path: Path, source: str) -> None:
    path = tmp_path / "check.html"
    path.write_text(source)
    assert untranslated_text(path, jinja, base=tmp_path)


@pytest.mark.parametrize(
    "source",
    [
        "<p>{{ _('Hello') }}</p>",
        "<a href=\"{{ url_for('main.index') }}\" aria-label=\"{{ _('Start') }}\">{{ config.SHOP_NAME }}</a>",
        '<p>{{ count }} ×</p><script src="x.js"></script><style>p { color: red }</style>',
        '{{ forms.field(form.email, autocomplete="email", class_="input input--wide") }}',
        "{% trans %}Welcome{% endtrans %}",
        "<p>{{ ngettext('%(num)d item', '%(num)d items', n) }}</p>",
        '{% set attributes %} id="x-{{ n }}" aria-invalid="true"{% endset %}<input{{ attributes }}>',
    ],
)
def test_the_template_check_accepts_translated_text(jinja: Environment, tmp_path: Path, source: str) -> None:
    path = tmp_path / "check.html"
    path.write_text(source)
    assert untranslated_text(path, jinja, base=tmp_path) == []
