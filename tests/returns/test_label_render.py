"""The return label PDF: what it prints, that its codes scan, that it is one 4x6 page and fetches nothing."""

from __future__ import annotations

import base64
import http.server
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale, gettext, ngettext
from pypdf import PdfReader
from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError

from portal.returns import label
from portal.returns.label import (
    DEFAULT_ACCENT_COLOR,
    AssetRefused,
    BundledAssetFetcher,
    LabelValues,
    accent_color,
    bundled_root,
    render_label,
    text_direction,
    warm_up,
)

POINTS_PER_INCH = 72

HOSTILE_IMG = '<img src="file:///etc/passwd">'
ARABIC_NAME = "فاطمة الزهراء"
HEBREW_STREET = "רחוב הרצל 12"


def values(**changes: Any) -> LabelValues:
    base = LabelValues(
        rma="R7K3-9QXM",
        method="label",
        locale="en",
        from_lines=("Ada Lovelace", "12 Analytical Engine Way", "London NW1 2AB", "United Kingdom"),
        to_lines=("Doorstep Returns", "Unit 4, Harbour Estate", "Bristol BS1 5TT", "United Kingdom"),
        shop_name="Doorstep Outfitters",
        accent_color="#1f5f8b",
        items=(("Blue linen shirt, M", 1), ("Wool socks (3 pack)", 2)),
        created_on=date(2026, 11, 22),
        qr_payload="https://portal.test/returns/R7K3-9QXM/dropoff",
    )
    return replace(base, **changes)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


def flat(text: str) -> str:
    """Text with all whitespace removed, so a value wrapped over lines still matches."""
    return re.sub(r"\s+", "", text)


def decode(pdf: bytes, tmp_path: Path, symbology: str) -> list[str]:
    """What zbarimg reads of one kind of code from a 300 dpi rendering of the label."""
    (tmp_path / "label.pdf").write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "300",
            "-png",
            "-singlefile",
            str(tmp_path / "label.pdf"),
            str(tmp_path / "label"),
        ],
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        ["zbarimg", "--raw", "-q", "-Sdisable", f"-S{symbology}.enable", str(tmp_path / "label.png")],
        capture_output=True,
        text=True,
    )
    return result.stdout.splitlines()


def words_outside_page(pdf: bytes) -> list[str]:
    """Words whose box pdftotext finds outside the page (anything that overflowed)."""
    layout = subprocess.run(
        ["pdftotext", "-bbox", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    page = re.search(r'<page width="([\d.]+)" height="([\d.]+)"', layout)
    assert page
    width, height = float(page[1]), float(page[2])
    outside = []
    for match in re.finditer(
        r'<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" yMax="([-\d.]+)">(.*?)</word>', layout
    ):
        x_min, y_min, x_max, y_max = (float(match[i]) for i in range(1, 5))
        if x_min < 0 or y_min < 0 or x_max > width + 0.5 or y_max > height + 0.5:
            outside.append(match[5])
    return outside


def test_label_prints_the_rma_and_both_addresses(app: Flask) -> None:
    text = pdf_text(render_label(values()))

    assert "R7K3-9QXM" in text
    for line in values().from_lines + values().to_lines:
        assert line in text
    assert "Doorstep Outfitters" in text
    assert "Blue linen shirt, M" in text and "Wool socks (3 pack)" in text


def test_label_is_one_4_by_6_inch_page(app: Flask) -> None:
    reader = PdfReader(BytesIO(render_label(values())))

    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == (4 * POINTS_PER_INCH, 6 * POINTS_PER_INCH)


@pytest.mark.parametrize("method", ["label", "qr_dropoff"])
def test_barcode_and_qr_code_scan_at_300_dpi(app: Flask, tmp_path: Path, method: str) -> None:
    pdf = render_label(values(method=method))

    assert decode(pdf, tmp_path, "code128") == ["R7K3-9QXM"]
    assert decode(pdf, tmp_path, "qrcode") == ["https://portal.test/returns/R7K3-9QXM/dropoff"]


def test_qr_code_carries_the_rma_without_a_payload(app: Flask, tmp_path: Path) -> None:
    assert decode(render_label(values(qr_payload="")), tmp_path, "qrcode") == ["R7K3-9QXM"]


@pytest.mark.parametrize(
    ("locale", "long_date"),
    [("de", "22. November 2026"), ("fr", "22 novembre 2026"), ("es", "22 de noviembre de 2026")],
)
def test_label_is_in_the_customers_language(app: Flask, locale: str, long_date: str) -> None:
    text = pdf_text(render_label(values(locale=locale, method="qr_dropoff")))

    assert long_date in text
    # Whatever wording the catalog has, it is that language's, not the English source.
    with force_locale(locale):
        keep_receipt = gettext("Keep your receipt until your return is processed.")
    assert keep_receipt != "Keep your receipt until your return is processed."
    assert flat(keep_receipt) in flat(text)


def test_label_in_an_unknown_language_uses_the_default(app: Flask) -> None:
    text = pdf_text(render_label(values(locale="xx-YY")))

    assert "November 22, 2026" in text
    assert flat("Keep your receipt until your return is processed.") not in flat(text)
    assert flat("Stick this label on the outside of the parcel") in flat(text)


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on loopback that records every request it gets."""
    requests: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { background: red }")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], requests
    server.shutdown()
    server.server_close()


def test_html_in_values_is_printed_as_text_and_fetches_nothing(
    app: Flask, listener: tuple[int, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, requests = listener
    hostile_link = f'<link rel=stylesheet href="http://127.0.0.1:{port}/x.css">'
    fetched: list[str] = []
    original_fetch = BundledAssetFetcher.fetch

    def recording_fetch(self: BundledAssetFetcher, url: str, headers: Any = None) -> Any:
        fetched.append(url)
        return original_fetch(self, url, headers)

    monkeypatch.setattr(BundledAssetFetcher, "fetch", recording_fetch)

    pdf = render_label(
        values(
            from_lines=("Mallory", HOSTILE_IMG, "1 Main St"),
            to_lines=(hostile_link, "Returns"),
            shop_name=f'<style>@import "http://127.0.0.1:{port}/i.css"</style>',
            items=((f'<object data="http://127.0.0.1:{port}/o">', 1),),
            accent_color=f'red}}</style><link rel=stylesheet href="http://127.0.0.1:{port}/a.css"><style>',
        )
    )

    text = flat(pdf_text(pdf))
    assert flat(HOSTILE_IMG) in text
    assert flat(hostile_link) in text
    assert flat(f'<style>@import "http://127.0.0.1:{port}/i.css"</style>') in text
    assert requests == []
    # Only the two codes generated for this label (the stylesheet is parsed once per process, not fetched).
    assert len(fetched) == 2
    assert all(url.startswith("data:image/png;base64,") for url in fetched)


def test_right_to_left_and_500_character_lines_stay_on_one_page(app: Flask, tmp_path: Path) -> None:
    long_word = "Ä" * 500
    long_words = " ".join(["Hauptstraße"] * 45)[:500]
    pdf = render_label(
        values(
            from_lines=(ARABIC_NAME, HEBREW_STREET, long_word, long_words, "תל אביב"),
            to_lines=("Returns " + "x" * 492, long_words),
            items=((long_word, 3), (ARABIC_NAME, 1)),
        )
    )

    reader = PdfReader(BytesIO(pdf))
    assert len(reader.pages) == 1
    assert words_outside_page(pdf) == []
    assert decode(pdf, tmp_path, "code128") == ["R7K3-9QXM"]


@pytest.mark.parametrize("locale", ["en", "de", "fr", "es"])
@pytest.mark.parametrize("method", ["label", "qr_dropoff"])
def test_every_value_at_its_worst_still_fits_one_page_and_scans(
    app: Flask, tmp_path: Path, method: str, locale: str
) -> None:
    # "W" is the widest letter; the other languages' instructions are longer than the English ones.
    line = ("W" * 60 + " ") * 9
    pdf = render_label(
        values(
            method=method,
            locale=locale,
            rma="R" + "W" * 39,
            from_lines=tuple(line[:500] for _ in range(12)),
            to_lines=tuple(line[:500] for _ in range(12)),
            shop_name="W" * 500,
            items=tuple((line[:500], 99999) for _ in range(60)),
            qr_payload="https://portal.test/" + "W" * 900,
        )
    )

    assert len(PdfReader(BytesIO(pdf)).pages) == 1
    assert words_outside_page(pdf) == []
    with force_locale(locale):
        more_items = ngettext("+ %(num)d more item", "+ %(num)d more items", 58)
    assert flat(more_items) in flat(pdf_text(pdf))
    assert decode(pdf, tmp_path, "code128") == ["R" + "W" * 39]
    assert decode(pdf, tmp_path, "qrcode") == ["https://portal.test/" + "W" * 900]


def word_boxes(pdf: bytes) -> list[tuple[str, ...]]:
    """Every word pdftotext finds, with its box rounded to a tenth of a point."""
    layout = subprocess.run(
        ["pdftotext", "-bbox", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    return re.findall(
        r'<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" yMax="([-\d.]+)">(.*?)</word>', layout
    )


@pytest.mark.parametrize("method", ["label", "qr_dropoff"])
def test_label_looks_the_same_under_weasyprints_own_html_stylesheet(
    app: Flask, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    # Labels get a small user-agent stylesheet through a private WeasyPrint method; should that stop
    # working, they must print the same with WeasyPrint's full HTML5 sheet.
    label_values = values(method=method, from_lines=(ARABIC_NAME, *values().from_lines))
    with_label_sheet = word_boxes(render_label(label_values))
    monkeypatch.setattr(label, "_LabelHTML", HTML)

    assert word_boxes(render_label(label_values)) == with_label_sheet


def test_a_right_to_left_item_reads_in_its_own_direction_after_its_quantity(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The items are one block of left-to-right lines; each item is isolated and takes its direction from its
    # first strong character, as dir=auto would: "12 שמלות" prints with the number at its right end, after
    # the Hebrew word, and the quantity stays first.
    def item_line() -> dict[str, float]:
        """The left edge of each word on the item's line (pdftotext gives the Hebrew word in visual order)."""
        words = word_boxes(render_label(values(items=(("12 שמלות", 3),))))
        line = next(y_min for _x, y_min, _x2, _y2, text in words if text == "×")
        found = {text: float(x_min) for x_min, y_min, _x2, _y2, text in words if y_min == line}
        return {"word" if text == "תולמש" else text: x for text, x in found.items()}

    isolated = item_line()
    assert isolated["3"] < isolated["×"] < isolated["word"] < isolated["12"]
    monkeypatch.setattr(label, "_FIRST_STRONG_ISOLATE", "")
    monkeypatch.setattr(label, "_POP_ISOLATE", "")
    plain = item_line()  # without the isolation the number runs on from the quantity, left of the word
    assert plain["12"] < plain["word"]


def test_many_short_items_show_as_many_as_fit(app: Flask) -> None:
    text = pdf_text(render_label(values(items=tuple((f"Item number {n}", 1) for n in range(1, 10)))))

    assert "Item number 6" in text
    assert "Item number 7" not in text
    assert "+ 3 more items" in text


def test_one_item_too_many_is_shown_rather_than_counted(app: Flask) -> None:
    text = pdf_text(render_label(values(items=tuple((f"Item number {n}", 1) for n in range(1, 8)))))

    assert "Item number 7" in text
    assert "more item" not in text


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("#1f5f8b", "#1f5f8b"),
        ("#ABC", "#ABC"),
        ("red", DEFAULT_ACCENT_COLOR),
        ("#12345", DEFAULT_ACCENT_COLOR),
        ("#123456;}", DEFAULT_ACCENT_COLOR),
        ("", DEFAULT_ACCENT_COLOR),
    ],
)
def test_accent_colour_is_a_hex_colour_or_the_default(given: str, expected: str) -> None:
    assert accent_color(given) == expected


def test_text_direction_follows_the_first_strong_character() -> None:
    assert text_direction(ARABIC_NAME) == "rtl"
    assert text_direction("12 " + HEBREW_STREET) == "rtl"
    assert text_direction("12 Main Street") == "ltr"
    assert text_direction("12") == "ltr"


@pytest.mark.parametrize(
    "changes",
    [{"rma": ""}, {"rma": "R" * 41}, {"rma": "RÜCK-1"}, {"method": "pigeon"}, {"qr_payload": "x" * 1001}],
)
def test_values_the_codes_cannot_carry_are_refused(app: Flask, changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        render_label(values(**changes))


def _refused_urls(root: Path) -> list[str]:
    svg_with_file = base64.b64encode(
        b'<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>'
    ).decode()
    return [
        "file:///etc/passwd",
        "http://127.0.0.1:8080/x.css",
        "https://example.com/label.css",
        "ftp://127.0.0.1/label.css",
        "data:text/css,body{background:url(http://127.0.0.1/)}",
        f"data:image/svg+xml;base64,{svg_with_file}",
        root.as_uri() + "/../../../etc/passwd",
        root.as_uri() + "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        root.as_uri() + "/..%2f..%2f..%2fetc%2fpasswd",
        "file://localhost" + root.as_posix() + "/label.css",
        "file://127.0.0.1" + root.as_posix() + "/label.css",
        root.as_uri() + "/label.css?v=1",
        root.as_uri() + "/missing.css",
        root.as_uri() + "/",
        root.as_uri() + "/label.css%00.png",
        "label.css",
        "",
    ]


def test_fetcher_refuses_everything_but_bundled_files(app: Flask) -> None:
    root = bundled_root()
    fetcher = BundledAssetFetcher(root)

    for url in _refused_urls(root.resolve()):
        with pytest.raises(AssetRefused):
            fetcher.fetch(url)

    served = fetcher.fetch(root.resolve().as_uri() + "/label.css")
    assert served.content_type == "text/css"
    assert b"@page" in served.read()


def test_fetcher_refuses_a_link_out_of_the_bundled_folder(tmp_path: Path) -> None:
    bundle = tmp_path / "labels"
    bundle.mkdir()
    secret = tmp_path / "secret.css"
    secret.write_text("body { color: red }")
    (bundle / "escape.css").symlink_to(secret)
    (bundle / "ok.css").write_text("body { color: black }")
    fetcher = BundledAssetFetcher(bundle)

    with pytest.raises(AssetRefused):
        fetcher.fetch((bundle / "escape.css").as_uri())
    assert fetcher.fetch((bundle / "ok.css").as_uri()).read() == b"body { color: black }"


def test_a_refused_url_stops_the_rendering(app: Flask) -> None:
    root = bundled_root()
    html = HTML(
        string='<img src="file:///etc/passwd">',
        base_url=root.as_uri() + "/",
        url_fetcher=BundledAssetFetcher(root),
    )

    with pytest.raises(FatalURLFetchingError):
        html.render()


def test_warm_up_renders_without_error(app: Flask) -> None:
    warm_up()
    assert label._font_config() is label._font_config()
