"""Every user-visible message in the code and templates is in every catalog, translated and not fuzzy."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = sorted(path.name for path in (ROOT / "translations").iterdir() if path.is_dir())
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


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


@pytest.mark.parametrize("locale", [locale for locale in LOCALES if locale != "en"])
def test_every_message_is_translated(locale: str) -> None:
    with (ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {
        message.id if isinstance(message.id, str) else message.id[0]: message
        for message in catalog
        if message.id
    }
    code = extracted_messages()
    missing = sorted(code - set(translated))
    assert not missing, (
        f"{len(missing)} message(s) not in the {locale} catalog (run `make extract`): {missing}"
    )
    empty = sorted(mid for mid in code if not _is_translated(translated[mid]))
    assert not empty, f"{len(empty)} message(s) untranslated or fuzzy in {locale}: {empty}"


def test_the_german_catalog_exists() -> None:
    assert "de" in LOCALES
