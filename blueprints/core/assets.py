"""Static files with fingerprinted names and long cache lifetimes, and compression.

Fingerprints. `url_for("static", filename="css/app.css")` (in every template, mail or
module: a `url_defaults` hook, the one place these URLs are built) gives
`/static/css/app.<8 hex>.css`, the hex being the start of the SHA-256 of the file's
content, read once per process (in development again when the file changed, so that an
edited stylesheet shows without a restart). The static endpoint answers:

- the current fingerprint: the file, `Cache-Control: public, max-age=31536000, immutable`
  (a new content is a new URL, so a browser never has to ask again);
- an old or wrong fingerprint: a 302 redirect, never cached, to the current URL. A page
  drawn before a deploy (an open tab whose htmx swap asks for a script) still gets a
  working file, and the old URL is not tied to the new content in any cache;
- the plain name (`/static/css/app.css`, for anything built outside url_for): the file
  with a short lifetime (STATIC_PLAIN_MAX_AGE) and an ETag to revalidate;
- anything else: 404.

Compression. Static files are small and few: each is read into memory once, and its
gzip and brotli forms are made once at the highest level, then served to the browsers
that accept them (`Vary: Accept-Encoding`). Dynamic CSS, JavaScript, JSON and CSV
responses are compressed by Flask-Compress per response (COMPRESS_* in config.py).
HTML is not compressed (BREACH: pages carry the session's CSRF token next to input they
echo; see the README's security section), nor are streamed downloads (compressing them
would hold back their chunks), nor bodies under COMPRESS_MIN_SIZE (no round trip saved).
"""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import brotli
from flask import Flask, Response, abort, current_app, redirect, request, url_for
from flask_compress import Compress

DIGEST_LENGTH = 8
IMMUTABLE = "public, max-age=31536000, immutable"
FINGERPRINTED = re.compile(
    rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{DIGEST_LENGTH}}})(?P<suffix>\.[A-Za-z0-9]+)$")
# Types worth compressing; everything else in static/ (pictures) is compressed already.
TEXT_TYPES = {"text/css", "text/javascript", "application/javascript", "application/json",
              "application/manifest+json", "image/svg+xml", "text/plain", "text/csv"}
# Larger files are not held in memory: Flask sends them from disk, without compression.
MAX_IN_MEMORY_BYTES = 2 * 1024 * 1024


@dataclass
class Asset:
    """One file of static/, as read once: its bodies by content coding ("" is identity)."""

    digest: str
    mimetype: str
    mtime_ns: int
    bodies: dict[str, bytes] = field(default_factory=dict)

    def fingerprinted(self, filename: str) -> str:
        stem, dot, suffix = filename.rpartition(".")
        if not dot or "/" in suffix:
            return f"{filename}.{self.digest}"
        return f"{stem}.{self.digest}.{suffix}"


class AssetStore:
    """The static folder's files, read and hashed (and compressed) at most once each per
    process; `reload` (development) reads a file again when its modification time moved."""

    def __init__(self, folder: str, *, reload: bool, min_size: int) -> None:
        self.folder = Path(folder).resolve()
        self.reload = reload
        self.min_size = min_size
        self._assets: dict[str, Asset] = {}

    def path(self, filename: str) -> Path | None:
        """The file under the static folder (None for a path leaving it, or no file)."""
        try:
            path = (self.folder / filename).resolve()
        except (OSError, ValueError):
            return None
        if not path.is_relative_to(self.folder) or not path.is_file():
            return None
        return path

    def get(self, filename: str) -> Asset | None:
        """The file's asset, None when there is no such file. Only files found are kept
        (a request for a missing name costs a stat, and no memory)."""
        asset = self._assets.get(filename)
        if asset is not None and self.reload:
            path = self.path(filename)
            if path is None or path.stat().st_mtime_ns != asset.mtime_ns:
                asset = None
        if asset is None:
            asset = self._read(filename)
            if asset is not None:
                self._assets[filename] = asset
        return asset

    def _read(self, filename: str) -> Asset | None:
        path = self.path(filename)
        if path is None:
            return None
        stat = path.stat()
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if stat.st_size > MAX_IN_MEMORY_BYTES:
            digest = _file_digest(path)
            return Asset(digest=digest, mimetype=mimetype, mtime_ns=stat.st_mtime_ns)
        body = path.read_bytes()
        asset = Asset(digest=hashlib.sha256(body).hexdigest()[:DIGEST_LENGTH],
                      mimetype=mimetype, mtime_ns=stat.st_mtime_ns, bodies={"": body})
        if mimetype in TEXT_TYPES and len(body) >= self.min_size:
            asset.bodies["br"] = brotli.compress(body, quality=11)
            asset.bodies["gzip"] = gzip.compress(body, compresslevel=9, mtime=0)
        return asset


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(1 << 16):
            digest.update(block)
    return digest.hexdigest()[:DIGEST_LENGTH]


def _store() -> AssetStore:
    return current_app.extensions["enelink_assets"]


def static_url_defaults(endpoint: str, values: dict) -> None:
    """url_for("static", filename=…) → the fingerprinted name (when the file exists)."""
    if endpoint != "static":
        return
    filename = values.get("filename")
    if not filename:
        return
    asset = _store().get(filename)
    if asset is not None:
        values["filename"] = asset.fingerprinted(filename)


def serve_static(filename: str) -> Response:
    """The static endpoint: see the module docstring for what each kind of name gets."""
    store = _store()
    asset = store.get(filename)
    if asset is not None:
        return _send(filename, asset, f"public, max-age={_plain_max_age()}")
    match = FINGERPRINTED.match(filename)
    if match is None:
        abort(404)
    plain = match["stem"] + match["suffix"]
    asset = store.get(plain)
    if asset is None:
        abort(404)
    if match["digest"] != asset.digest:
        response = redirect(url_for("static", filename=plain), code=302)
        response.headers["Cache-Control"] = "no-cache"
        return response
    return _send(plain, asset, IMMUTABLE)


def _plain_max_age() -> int:
    return int(current_app.config.get("STATIC_PLAIN_MAX_AGE", 300))


def _send(filename: str, asset: Asset, cache_control: str) -> Response:
    if "" not in asset.bodies:  # too large to hold: from disk, as Flask would
        response = current_app.send_static_file(filename)
        response.headers["Cache-Control"] = cache_control
        return response
    coding = ""
    if len(asset.bodies) > 1:
        coding = request.accept_encodings.best_match(["br", "gzip"]) or ""
    response = Response(asset.bodies[coding], mimetype=asset.mimetype)
    if coding:
        response.headers["Content-Encoding"] = coding
    if len(asset.bodies) > 1:
        response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = cache_control
    # A strong validator per coding: the gzip and brotli bodies are other byte strings.
    response.set_etag(asset.digest + (f"-{coding}" if coding else ""))
    return response.make_conditional(request)


def init_app(app: Flask) -> None:
    """Fingerprinted static URLs and their endpoint; Flask-Compress for the rest."""
    app.extensions["enelink_assets"] = AssetStore(
        app.static_folder, reload=bool(app.config.get("DEVELOPMENT")) or app.debug
        or bool(os.environ.get("FLASK_DEBUG")),
        min_size=int(app.config["COMPRESS_MIN_SIZE"]))
    app.url_defaults(static_url_defaults)
    app.view_functions["static"] = serve_static
    app.session_interface = _without_static(app.session_interface)
    app.config["COMPRESS_REGISTER"] = False
    # One per app: Flask-Compress keeps the types and codings of the app it was bound to.
    app.extensions["enelink_compress"] = Compress(app)
    app.after_request(compress_response)


def _without_static(interface):
    """The app's session interface, but a static file neither renews the session cookie
    nor varies on it: its answer is public, for any cache to keep, so it must carry no
    Set-Cookie and no `Vary: Cookie` (which Flask adds once anything, here Flask-Login's
    remember check, looked at the session)."""

    class StaticFilesWithoutSession(type(interface)):
        def save_session(self, app, session, response):
            if request.endpoint == "static":
                return None
            return super().save_session(app, session, response)

    replaced = StaticFilesWithoutSession.__new__(StaticFilesWithoutSession)
    replaced.__dict__.update(vars(interface))
    return replaced


def compress_response(response: Response) -> Response:
    """Flask-Compress for dynamic responses the browser accepts compressed. Static
    files have their own (made once); and Flask-Compress would pick a coding the
    browser refused with q=0, so the choice is checked here first."""
    if request.endpoint == "static" or not request.accept_encodings.best_match(
            current_app.config["COMPRESS_ALGORITHM"]):
        return response
    return current_app.extensions["enelink_compress"].after_request(response)
