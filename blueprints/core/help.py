"""Help where people get stuck: よくある質問 (FAQ) pages read from files the operator
edits, the sample slip, and the 商品マニュアル of a gateway's model.

A service declares its FAQ in its `__init__.py`:

    registry.faq("gateways", _l("遠隔モニタリングの登録に関するよくある質問"), "gateways.toml")

and the file lives in `HELP_DIR/faq/` (default: the project's `help/` folder; an operator
points HELP_DIR at their own copy). The format is TOML, read with the standard library:

    intro = "この画面では…"            # optional, plain text
    [[faq]]
    id = "slip-lost"                   # optional anchor (a-z, 0-9, -); default q1, q2 …
    question = "伝票をなくしました"
    answer = \"\"\"
    最初の段落。

    次の段落（空行で区切ります）。
    \"\"\"

Everything is plain text and escaped on output: no HTML comes from a file. A missing or
broken file gives a page that says help is not available (and a log warning), never an
error. Files are read once per process and read again when their modification time or
size changes.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

from flask import abort, current_app, render_template, url_for
from sqlalchemy import select

from blueprints.core import bp, registry
from models import db
from models.gateway import SystemModel

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 512 * 1024
ANCHOR = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


@dataclass(frozen=True)
class FaqEntry:
    anchor: str
    question: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class FaqPage:
    """A service's FAQ as read: `entries` is None when its file is missing or broken."""

    source: registry.FaqSource
    intro: tuple[str, ...]
    entries: tuple[FaqEntry, ...] | None

    @property
    def available(self) -> bool:
        return self.entries is not None


class FaqFileError(ValueError):
    """The file is not a FAQ in the documented format (the message says where)."""


_cache: dict[str, tuple[tuple[int, int] | None, tuple | None]] = {}
_lock = threading.Lock()


def help_dir() -> Path:
    return Path(current_app.config["HELP_DIR"])


def paragraphs(text: str) -> tuple[str, ...]:
    """Blank-line separated paragraphs, each with its lines' outer spaces trimmed."""
    blocks = re.split(r"\n[ \t\u3000]*\n", text.replace("\r\n", "\n").strip())
    return tuple("\n".join(line.strip() for line in block.splitlines()).strip()
                 for block in blocks if block.strip())


def parse_faq(data: dict) -> tuple[tuple[str, ...], tuple[FaqEntry, ...]]:
    """The intro and entries of a parsed TOML document; FaqFileError when it is not one."""
    intro = data.get("intro", "")
    if not isinstance(intro, str):
        raise FaqFileError("intro must be a string")
    items = data.get("faq")
    if not isinstance(items, list) or not items:
        raise FaqFileError("no [[faq]] entries")
    entries, seen = [], set()
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise FaqFileError(f"faq #{number} is not a table")
        question, answer = item.get("question"), item.get("answer")
        if not isinstance(question, str) or not question.strip():
            raise FaqFileError(f"faq #{number} has no question")
        if not isinstance(answer, str) or not answer.strip():
            raise FaqFileError(f"faq #{number} has no answer")
        anchor = item.get("id", f"q{number}")
        if not isinstance(anchor, str) or not ANCHOR.match(anchor) or anchor in seen:
            raise FaqFileError(f"faq #{number} has a bad or repeated id")
        seen.add(anchor)
        entries.append(FaqEntry(anchor, " ".join(question.split()), paragraphs(answer)))
    return paragraphs(intro), tuple(entries)


def _read(path: Path) -> tuple | None:
    """(intro, entries) of the file, cached per process by modification time and size;
    None (with a warning in the log) when it is missing or broken."""
    key = str(path)
    try:
        stat = path.stat()
        stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    cached = _cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    result = None
    if stamp is None:
        log.warning("help file %s is missing: its FAQ page says help is not available", path)
    elif stamp[1] > MAX_FILE_BYTES:
        log.warning("help file %s is larger than %d bytes: not read", path, MAX_FILE_BYTES)
    else:
        try:
            with path.open("rb") as handle:
                result = parse_faq(tomllib.load(handle))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, FaqFileError) as error:
            log.warning("help file %s cannot be read: %s", path, error)
    with _lock:
        _cache[key] = (stamp, result)
    return result


def faq_page(service: str) -> FaqPage | None:
    """The FAQ a service declared, read from the help folder; None for no such FAQ."""
    source = registry.faq_of(service)
    if source is None:
        return None
    read = _read(help_dir() / "faq" / os.path.basename(source.filename))
    if read is None:
        return FaqPage(source, (), None)
    return FaqPage(source, read[0], read[1])


def help_url(service: str | None) -> str:
    """The FAQ page of the service when it declared one, else the list of FAQs."""
    if service and registry.faq_of(service) is not None:
        return url_for("core.help_faq", service=service)
    return url_for("core.help_index")


@bp.app_template_global()
def product_manual(model_code: str | None) -> str | None:
    """The 商品マニュアル URL of a gateway's model (SystemModel.manual_url, kept by staff),
    or None: one query, and none for a gateway without a model."""
    if not model_code:
        return None
    return db.session.scalar(select(SystemModel.manual_url)
                             .where(SystemModel.code == model_code).limit(1)) or None


@bp.app_template_global("help_url")
def _help_url_global(service: str | None = None) -> str:
    return help_url(service)


# -- pages ----------------------------------------------------------------------------------
@bp.get("/help/")
def help_index():
    """よくある質問: the FAQ of every service, and the ways back in (forgotten address or
    password). Public."""
    return render_template("help/index.html", sources=registry.faqs())


@bp.get("/help/sample-slip")
def help_sample_slip():
    """「サンプル画像はこちら」: where the ゲートウェイID and password are on the slip."""
    return render_template("help/sample_slip.html")


@bp.get("/help/<service>")
def help_faq(service: str):
    """One service's questions (a list of links to anchors) and answers. Public."""
    page = faq_page(service)
    if page is None:
        abort(404)
    return render_template("help/faq.html", page=page, sources=registry.faqs())
