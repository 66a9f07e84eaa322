"""Every text of the interface and the mails has its English (the ID's language switch):
the messages extracted from the code now are exactly those of the English catalog, and
none is left untranslated. After changing texts: `make messages`, then translate."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def _ids(catalog) -> set:
    return {message.id for message in catalog if message.id}


def test_english_catalog_covers_every_text_of_the_code(tmp_path):
    template = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "_l", "-o", str(template), "--no-location",
         "--ignore-dirs=.venv node_modules tests", "."],
        cwd=ROOT, check=True, capture_output=True)
    with template.open("rb") as handle:
        extracted = _ids(read_po(handle))
    with (ROOT / "translations/en/LC_MESSAGES/messages.po").open("rb") as handle:
        english = read_po(handle)
    assert sorted(map(str, extracted - _ids(english))) == [], "run `make messages`"
    untranslated = [message.id for message in english if message.id and (
        not message.string or (isinstance(message.string, tuple) and not all(message.string)))]
    assert untranslated == []
