"""The 4×6 inch return label: plain values in, PDF bytes out (WeasyPrint), nothing fetched from outside.

The label job builds a `LabelValues` and calls `render_label`; worker processes serving the `labels` queue
call `warm_up()` once before forking work horses, so every job starts with WeasyPrint and the fonts loaded.
"""

from __future__ import annotations

import base64
import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import segno
from barcode import Code128
from flask import current_app, render_template
from flask_babel import force_locale
from PIL import Image
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from portal.i18n import supported_locale

log = logging.getLogger(__name__)

DEFAULT_ACCENT_COLOR = "#1f5f8b"
METHODS = ("label", "qr_dropoff")
TEMPLATE = "labels/return_label.html"
STYLESHEET = "label.css"  # in bundled_root()
# The user-agent stylesheet of a label: only the `display` of the elements the template uses (label.css sets
# everything else, so the label looks the same under WeasyPrint's own HTML5 sheet; a test checks that).
LABEL_UA_CSS = """
html, body, header, section, footer, div, h2, p { display: block }
head { display: none }
"""

_ACCENT_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
# Embedding, override and isolate controls: a customer's name must not reorder the text printed after it.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
# Isolates an item's text from the quantity before it (_clean removed the value's own bidi controls).
_FIRST_STRONG_ISOLATE = "\u2068"
_POP_ISOLATE = "\u2069"
# What the bundled folder may serve, by file suffix (anything else there is refused too).
_BUNDLED_TYPES = {".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}
MAX_RMA_LENGTH = 40
MAX_QR_PAYLOAD_LENGTH = 1000


@dataclass(frozen=True)
class LabelValues:
    """Everything printed on one label, as plain values (the template sees nothing else)."""

    rma: str
    method: str  # "label" (printable) | "qr_dropoff"
    locale: str  # "en", "de", "fr", "es": a language without a catalog prints in the default one
    from_lines: tuple[str, ...]  # customer name + address lines
    to_lines: tuple[str, ...]  # the shop's returns address lines
    shop_name: str
    accent_color: str  # "#rgb" or "#rrggbb"; anything else prints in DEFAULT_ACCENT_COLOR
    items: tuple[tuple[str, int], ...]  # (item text, quantity)
    created_on: date
    qr_payload: str


class LabelRenderError(RuntimeError):
    """The label could not be rendered (a refused resource, or content that would not fit one page)."""


class AssetRefused(ValueError):
    """The label asked for a URL that is not one of its bundled or generated resources."""


@dataclass(frozen=True)
class _Fit:
    """How much of each value fits: the label is tried with each fit in turn until it is one page."""

    font_pt: float
    rma_pt: float
    line_chars: int  # characters kept of one address line
    address_lines: int  # lines kept of one address (the rest joined onto the last)
    items_shown: int
    item_chars: int
    name_chars: int  # characters kept of the shop's name


# The last fit holds the worst case (every value at its cap) on one page: tests/returns/test_label_render.py.
FITS = (
    _Fit(font_pt=9, rma_pt=22, line_chars=160, address_lines=6, items_shown=6, item_chars=90, name_chars=60),
    _Fit(
        font_pt=7.5, rma_pt=18, line_chars=100, address_lines=6, items_shown=4, item_chars=60, name_chars=48
    ),
    _Fit(font_pt=6, rma_pt=16, line_chars=48, address_lines=4, items_shown=2, item_chars=40, name_chars=30),
)
# The width the RMA number has (3.7in, in points), and an upper bound of the advance of each printable ASCII
# character in DejaVu Sans Bold (em): 0.85 but for the few wider ones.
_RMA_WIDTH_PT = 260
_RMA_ADVANCE_EM = 0.85
_RMA_WIDE_ADVANCES_EM = {"W": 1.11, "m": 1.05, "%": 1.01, "@": 1.0, "M": 1.0, "w": 0.93, "&": 0.88}


class BundledAssetFetcher(URLFetcher):
    """Serves files under the bundled folder and the images generated for this label; refuses everything else.

    No network, no other file, no data URL but the ones generated here: a refusal raises `AssetRefused`,
    which WeasyPrint turns into a fatal error (fail_on_errors) instead of printing a label with a hole.
    """

    def __init__(self, root: Path, generated: Mapping[str, tuple[bytes, str]] | None = None) -> None:
        super().__init__(allowed_protocols=("file", "data"), allow_redirects=False, fail_on_errors=True)
        self._root = root.resolve()
        self._generated = dict(generated or {})

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        """The response for one of our own URLs; raises AssetRefused for any other."""
        if url in self._generated:
            body, content_type = self._generated[url]
            return URLFetcherResponse(url, body=body, headers={"Content-Type": content_type})
        path = self.bundled_path(url)
        return URLFetcherResponse(
            url, body=path.read_bytes(), headers={"Content-Type": _BUNDLED_TYPES[path.suffix]}
        )

    def bundled_path(self, url: str) -> Path:
        """The bundled file a file:// URL names; raises AssetRefused unless it is a regular file in root."""
        try:
            parts = urlsplit(url)
        except ValueError as error:
            raise AssetRefused(f"not a URL: {url[:80]!r}") from error
        if parts.scheme != "file" or parts.netloc or parts.query:
            raise AssetRefused(f"only bundled label files are served, not {url[:80]!r}")
        raw_path = unquote(parts.path)
        if "\x00" in raw_path or not raw_path.startswith("/"):
            raise AssetRefused(f"not a bundled label file: {url[:80]!r}")
        try:
            path = Path(raw_path).resolve(strict=True)
        except (OSError, RuntimeError) as error:
            raise AssetRefused(f"not a bundled label file: {url[:80]!r}") from error
        if not path.is_relative_to(self._root) or not path.is_file() or path.suffix not in _BUNDLED_TYPES:
            raise AssetRefused(f"not a bundled label file: {url[:80]!r}")
        return path


def bundled_root() -> Path:
    """The folder of files a label may load (`static/labels/`)."""
    return Path(current_app.static_folder or "static") / "labels"


@lru_cache(maxsize=1)
def _font_config() -> FontConfiguration:
    # One Fontconfig/Pango font map per process: building it loads every system font, and its caches are
    # what makes the second label fast. Labels declare no @font-face, so nothing accumulates in it.
    return FontConfiguration()


class _LabelHTML(HTML):
    """A label's HTML document, styled with LABEL_UA_CSS instead of WeasyPrint's full HTML5 sheet.

    Matching every element (and the 16 page-margin boxes) against the few hundred rules of the HTML5 sheet
    was an eighth of a label's time. `_ua_stylesheets` is a private WeasyPrint method (WeasyPrint 70):
    should a release rename it, this override is not called and labels render with the full sheet, slower
    but alike (label.css relies on LABEL_UA_CSS for nothing but `display`); should it change its
    arguments, the override still accepts them.
    """

    def _ua_stylesheets(self, *args: Any, **kwargs: Any) -> list[CSS]:
        return [_ua_stylesheet()]


@lru_cache(maxsize=1)
def _ua_stylesheet() -> CSS:
    return CSS(string=LABEL_UA_CSS, font_config=_font_config())


@lru_cache(maxsize=4)
def _stylesheet(root: Path) -> CSS:
    # Parsed once per process (a sixth of a label's time otherwise). Anything it refers to is fetched through
    # the same kind of fetcher as the label, so the cached sheet cannot reach out either.
    return CSS(
        string=(root / STYLESHEET).read_text(encoding="utf-8"),
        base_url=root.resolve().as_uri() + "/",
        url_fetcher=BundledAssetFetcher(root),
        font_config=_font_config(),
    )


def render_label(values: LabelValues) -> bytes:
    """The label as the bytes of a one-page 4×6 inch PDF.

    Needs an application context (templates, translations). Raises ValueError for an RMA or QR payload the
    codes cannot carry, LabelRenderError if rendering fails.
    """
    _check_codes(values)
    barcode_url, barcode_png = _png_data_url(code128_png(values.rma))
    qr_url, qr_png = _png_data_url(qr_png_bytes(values.qr_payload or values.rma))
    root = bundled_root()
    fetcher = BundledAssetFetcher(
        root, generated={barcode_url: (barcode_png, "image/png"), qr_url: (qr_png, "image/png")}
    )
    locale = supported_locale(values.locale) or str(current_app.config["DEFAULT_LOCALE"])
    try:
        with force_locale(locale):
            for fit in FITS:
                html = render_template(TEMPLATE, **_template_values(values, fit, locale, barcode_url, qr_url))
                document = _LabelHTML(string=html, base_url=root.as_uri() + "/", url_fetcher=fetcher).render(
                    font_config=_font_config(), stylesheets=[_stylesheet(root)]
                )
                if len(document.pages) == 1:
                    return bytes(document.write_pdf())
                log.info(
                    "label %s needs %d pages at %spt; trying smaller",
                    values.rma,
                    len(document.pages),
                    fit.font_pt,
                )
    except FatalURLFetchingError as error:
        # A BaseException in WeasyPrint: turn it into an ordinary error the job machinery handles.
        raise LabelRenderError(f"label {values.rma}: {error.__cause__ or error}") from error
    raise LabelRenderError(f"label {values.rma} does not fit on one page")


def warm_up() -> None:
    """Render a small label once, so this process (and the work horses it forks) starts with fonts loaded.

    Needs an application context.
    """
    render_label(
        LabelValues(
            rma="WARMUP",
            method="label",
            locale=str(current_app.config["DEFAULT_LOCALE"]),
            from_lines=("Ada Lovelace", "1 Example Street", "Ünïcødé ١٢٣ עברית"),
            to_lines=("Returns", "2 Example Road"),
            shop_name="Doorstep",
            accent_color=DEFAULT_ACCENT_COLOR,
            items=(("Item", 1),),
            created_on=date(2000, 1, 1),
            qr_payload="WARMUP",
        )
    )


def _check_codes(values: LabelValues) -> None:
    if values.method not in METHODS:
        raise ValueError(f"unknown label method {values.method!r}")
    if not values.rma or len(values.rma) > MAX_RMA_LENGTH or not _printable_ascii(values.rma):
        raise ValueError("an RMA number for a label is 1–40 printable ASCII characters")
    if len(values.qr_payload) > MAX_QR_PAYLOAD_LENGTH:
        raise ValueError(f"a QR payload is at most {MAX_QR_PAYLOAD_LENGTH} characters")


def _printable_ascii(text: str) -> bool:
    return all(" " <= character <= "~" for character in text)


QUIET_MODULES = 10  # white modules either side of a Code128 barcode, as the symbology asks
QR_BORDER = 4  # white modules around a QR code (its quiet zone)
# Pixels per QR module. Scaled without smoothing to a 0.95in box, a one-pixel-per-module image of a long
# payload (~110 modules) rasterises into uneven 2- and 3-dot modules that do not scan; four pixels each do.
QR_PIXELS_PER_MODULE = 4
# Module values (0 = light, 1 = dark) to 8-bit grey levels (white, black).
_GREY = bytes([255, 0]) + bytes(254)


def code128_png(text: str) -> bytes:
    """A Code128 barcode of `text` as a PNG one pixel high and one pixel per module, quiet zones included.

    The label stretches it over its box without smoothing (image-rendering: pixelated): an image is one cheap
    draw for WeasyPrint, where an SVG of bars is parsed and filled path by path.
    """
    modules = Code128(text).build()[0]
    bars = Image.frombytes("L", (len(modules), 1), bytes(int(module) for module in modules).translate(_GREY))
    image = Image.new("L", (len(modules) + 2 * QUIET_MODULES, 1), 255)
    image.paste(bars, (QUIET_MODULES, 0))
    return _png(image)


def qr_png_bytes(payload: str) -> bytes:
    """A QR code of `payload` as a PNG of QR_PIXELS_PER_MODULE² pixels per module, quiet zone included."""
    matrix = segno.make(payload, error="m", micro=False).matrix
    modules = Image.frombytes(
        "L", (len(matrix), len(matrix)), b"".join(bytes(row).translate(_GREY) for row in matrix)
    )
    image = Image.new("L", (len(matrix) + 2 * QR_BORDER,) * 2, 255)
    image.paste(modules, (QR_BORDER, QR_BORDER))
    return _png(image.resize((image.width * QR_PIXELS_PER_MODULE,) * 2, Image.Resampling.NEAREST))


def _png(image: Image.Image) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _png_data_url(png: bytes) -> tuple[str, bytes]:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii"), png


def _template_values(
    values: LabelValues, fit: _Fit, locale: str, barcode_url: str, qr_url: str
) -> dict[str, Any]:
    items = [(_line(text, fit.item_chars), quantity) for text, quantity in values.items]
    shown = items[: fit.items_shown] if len(items) > fit.items_shown + 1 else items
    shop_name = _line(values.shop_name, fit.name_chars)
    return {
        "lang": locale,
        "rma": values.rma,
        "qr_dropoff": values.method == "qr_dropoff",
        "shop_name": shop_name,
        "shop_name_direction": text_direction(shop_name),
        "accent_color": accent_color(values.accent_color),
        "from_lines": _address(values.from_lines, fit),
        "to_lines": _address(values.to_lines, fit),
        # Each item isolated as HTML's dir=auto would (first strong character), inside the one block of items.
        "items": [(f"{_FIRST_STRONG_ISOLATE}{text}{_POP_ISOLATE}", quantity) for text, quantity in shown],
        "more_items": len(items) - len(shown),
        "created_on": values.created_on,
        "barcode_url": barcode_url,
        "qr_url": qr_url,
        "font_pt": fit.font_pt,
        # Shrunk to stay on one line: the number is what a clerk reads off, and it is short unless corrupt.
        "rma_pt": round(min(fit.rma_pt, _RMA_WIDTH_PT / _rma_width_em(values.rma)), 1),
    }


def _rma_width_em(rma: str) -> float:
    """At least the width of `rma` (printable ASCII) in DejaVu Sans Bold, in em."""
    return sum(_RMA_WIDE_ADVANCES_EM.get(character, _RMA_ADVANCE_EM) for character in rma)


def accent_color(value: str) -> str:
    """`value` if it is a #rgb or #rrggbb colour, else the default accent."""
    return value if _ACCENT_COLOR.fullmatch(value or "") else DEFAULT_ACCENT_COLOR


def _address(lines: tuple[str, ...], fit: _Fit) -> list[tuple[str, str]]:
    """Non-empty lines, at most fit.address_lines (the rest joined onto the last), as (text, direction).

    Consecutive lines of one direction are one block, its lines joined by newlines (the template prints
    them with `white-space: pre-line`): one box instead of one per line, and a right-to-left line still
    gets a block of its own, aligned to the right.
    """
    cleaned = [_clean(line) for line in lines]
    kept = [line for line in cleaned if line]
    if len(kept) > fit.address_lines:
        kept = [*kept[: fit.address_lines - 1], ", ".join(kept[fit.address_lines - 1 :])]
    blocks: list[tuple[str, str]] = []
    for text in (_line(line, fit.line_chars) for line in kept):
        direction = text_direction(text)
        if blocks and blocks[-1][1] == direction:
            blocks[-1] = (blocks[-1][0] + "\n" + text, direction)
        else:
            blocks.append((text, direction))
    return blocks


def _clean(text: str) -> str:
    """One line of text: control characters become spaces, bidi overrides go, whitespace collapses."""
    text = "".join(" " if unicodedata.category(character) == "Cc" else character for character in text)
    return " ".join(text.translate(_BIDI_CONTROLS).split())


def _line(text: str, limit: int) -> str:
    text = _clean(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def text_direction(text: str) -> str:
    """ "rtl" or "ltr" from the first strongly directional character, as HTML's dir=auto decides."""
    for character in text:
        kind = unicodedata.bidirectional(character)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"
