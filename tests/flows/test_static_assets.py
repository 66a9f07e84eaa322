"""Static files and what Lighthouse reads of every page (issue 14 item 6): fingerprinted
static URLs with a year's cache lifetime, the plain names with a short one, an old
fingerprint redirected; brotli/gzip for CSS, JavaScript, JSON and CSV when the browser
asks (and only then), never for HTML, streamed downloads or small bodies; a description
on public pages and `noindex` on signed-in, error and mailed-link pages."""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import brotli
import pytest
from flask.testing import FlaskClient

from blueprints.core.assets import IMMUTABLE, AssetStore
from blueprints.core.staff import ADMIN
from blueprints.gateways.credentials import set_api_key
from blueprints.monitoring import telemetry
from models import db
from models.gateway import Gateway
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.helpers import add_units, login, make_staff, reading, slot_end

STATIC = Path(__file__).resolve().parents[2] / "static"
STATIC_URL = re.compile(r'(?:href|src)="(/static/[^"]+)"')
FINGERPRINTED = re.compile(r"^/static/(?P<stem>.+)\.(?P<digest>[0-9a-f]{8})(?P<suffix>\.\w+)$")
GATEWAY = "01AB12345678"
PUBLIC_PAGES = ("/", "/account/login", "/account/signup/name", "/monitoring/register",
                "/account/password/reset", "/terms", "/privacy", "/help/",
                "/help/sample-slip")
SIGNED_IN_PAGES = ("/", "/monitoring/", f"/monitoring/gateways/{GATEWAY}/monitor",
                   "/account/settings", "/help/")
DECODE = {"br": brotli.decompress, "gzip": gzip.decompress}


def text_of(response) -> str:
    return response.get_data(as_text=True)


def static_urls(html: str) -> list[str]:
    return STATIC_URL.findall(html)


@pytest.fixture
def owner_client(app):
    owner = make_owner()
    gateway = make_gateway(owner, GATEWAY, site="山田様邸")
    add_units(gateway, 2)
    end = slot_end()
    result = telemetry.ingest(db.session.get(Gateway, gateway.id), [reading(end)])
    assert not result.rejected
    client = app.test_client()
    assert login(client, "owner@example.com").status_code == 303
    return client


# -- fingerprinted URLs ----------------------------------------------------------------------
def test_every_static_url_of_the_pages_is_fingerprinted_and_kept_for_a_year(client,
                                                                             owner_client):
    seen = set()
    pages = [client.get(path) for path in PUBLIC_PAGES]
    pages += [owner_client.get(path) for path in SIGNED_IN_PAGES]
    for page in pages:
        assert page.status_code == 200
        urls = static_urls(text_of(page))
        assert urls, "base.html links its stylesheet and scripts"
        seen.update(urls)
    assert {FINGERPRINTED.match(url)["stem"] for url in seen} >= {
        "css/app", "js/app", "vendor/htmx-2.0.11.min", "favicon", "img/sample-slip"}
    for url in seen:
        match = FINGERPRINTED.match(url)
        assert match, url
        plain = STATIC / (match["stem"] + match["suffix"])
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == IMMUTABLE
        assert "Content-Encoding" not in response.headers
        assert response.get_data() == plain.read_bytes()


def test_static_answers_carry_no_cookie_for_shared_caches(owner_client):
    """Public, cacheable answers: no session cookie set or varied on, even signed in."""
    page = text_of(owner_client.get(f"/monitoring/gateways/{GATEWAY}/monitor"))
    for url in static_urls(page) + ["/static/css/app.css"]:
        response = owner_client.get(url, headers={"Accept-Encoding": "br"})
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
        assert "Cookie" not in response.headers.get("Vary", "")
    # Pages keep theirs.
    assert "Cookie" in owner_client.get("/account/settings").headers["Vary"]


def test_the_fingerprint_is_the_contents_hash(client):
    page = text_of(client.get("/account/login"))
    css = next(url for url in static_urls(page) if "css/app." in url)
    import hashlib

    digest = hashlib.sha256((STATIC / "css" / "app.css").read_bytes()).hexdigest()[:8]
    assert css == f"/static/css/app.{digest}.css"


def test_the_plain_name_works_with_a_short_lifetime_and_revalidates(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.get_data() == (STATIC / "css" / "app.css").read_bytes()
    again = client.get("/static/css/app.css", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and not again.get_data()


def test_an_old_fingerprint_is_redirected_uncached_to_the_current_one(client):
    current = next(url for url in static_urls(text_of(client.get("/account/login")))
                   if "js/app." in url)
    old = client.get("/static/js/app.0123abcd.js")
    assert old.status_code == 302
    assert old.headers["Location"] == current
    assert old.headers["Cache-Control"] == "no-cache"
    assert "immutable" not in old.headers["Cache-Control"]


@pytest.mark.parametrize("path", ["/static/js/nothing.0123abcd.js", "/static/js/nothing.js",
                                  "/static/../app.py", "/static/%2e%2e/app.py",
                                  "/static/css/app.0123abcd.css/x"])
def test_unknown_static_names_are_404(client, path):
    assert client.get(path).status_code == 404


def test_fingerprints_are_computed_once_per_process_and_again_in_development(tmp_path):
    (tmp_path / "site.css").write_text("body { color: red; }")
    once, watching = (AssetStore(str(tmp_path), reload=False, min_size=1024),
                      AssetStore(str(tmp_path), reload=True, min_size=1024))
    first = once.get("site.css").fingerprinted("site.css")
    assert watching.get("site.css").fingerprinted("site.css") == first
    assert re.fullmatch(r"site\.[0-9a-f]{8}\.css", first)
    (tmp_path / "site.css").write_text("body { color: blue; }")
    import os

    os.utime(tmp_path / "site.css", ns=(1, 1))  # a modification time surely different
    assert once.get("site.css").fingerprinted("site.css") == first  # read once
    changed = watching.get("site.css")
    assert changed.fingerprinted("site.css") != first
    assert changed.bodies[""] == b"body { color: blue; }"
    assert once.get("missing.css") is None and "missing.css" not in once._assets


# -- compression -------------------------------------------------------------------------
@pytest.mark.parametrize("coding", ["br", "gzip"])
def test_css_and_javascript_come_compressed_when_asked(client, coding):
    for url in static_urls(text_of(client.get("/account/login"))):
        if not url.endswith((".css", ".js")):
            continue
        plain = client.get(url).get_data()
        response = client.get(url, headers={"Accept-Encoding": f"{coding}, deflate"})
        assert response.headers["Content-Encoding"] == coding, url
        assert "Accept-Encoding" in response.headers["Vary"]
        assert response.headers["Cache-Control"] == IMMUTABLE
        assert len(response.get_data()) < len(plain)
        assert DECODE[coding](response.get_data()) == plain


def test_brotli_is_preferred_and_quality_values_are_heeded(client):
    url = "/static/css/app.css"
    assert client.get(url, headers={"Accept-Encoding": "gzip, br"}).headers[
        "Content-Encoding"] == "br"
    assert client.get(url, headers={"Accept-Encoding": "br;q=0.5, gzip"}).headers[
        "Content-Encoding"] == "gzip"
    refused = client.get(url, headers={"Accept-Encoding": "br;q=0, gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    # Each coding has its own validator: a cache never mixes the bodies.
    etags = {client.get(url, headers={"Accept-Encoding": c}).headers["ETag"]
             for c in ("br", "gzip", "identity")}
    assert len(etags) == 3


def test_nothing_is_compressed_without_accept_encoding(client, owner_client):
    for url in static_urls(text_of(client.get("/account/login"))):
        assert "Content-Encoding" not in client.get(url).headers
    csv = owner_client.get(f"/monitoring/gateways/{GATEWAY}/monitor.csv")
    assert csv.status_code == 200 and "Content-Encoding" not in csv.headers


def test_small_files_are_not_compressed(client):
    favicon = next(url for url in static_urls(text_of(client.get("/account/login")))
                   if "favicon" in url)
    response = client.get(favicon, headers={"Accept-Encoding": "br, gzip"})
    assert len(response.get_data()) < 1024
    assert "Content-Encoding" not in response.headers


@pytest.mark.parametrize("coding", ["br", "gzip"])
def test_the_monitoring_csv_comes_compressed_when_asked(make_app, coding):
    app = make_app(COMPRESS_MIN_SIZE=64)  # the CSV of one reading is small
    with app.app_context():
        gateway = make_gateway(make_owner(), GATEWAY)
        add_units(gateway, 2)
        assert not telemetry.ingest(gateway, [reading(slot_end())]).rejected
    owner_client = app.test_client()
    assert login(owner_client, "owner@example.com").status_code == 303
    url = f"/monitoring/gateways/{GATEWAY}/monitor.csv"
    plain = owner_client.get(url)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    response = owner_client.get(url, headers={"Accept-Encoding": coding})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Encoding"] == coding
    assert "Accept-Encoding" in response.headers["Vary"]
    assert response.headers["Content-Disposition"] == plain.headers["Content-Disposition"]
    assert DECODE[coding](response.get_data()) == plain.get_data()


@pytest.mark.parametrize("coding", ["br", "gzip"])
def test_json_comes_compressed_when_asked_and_not_when_small(make_app, coding):
    def settings_json(app, gateway_id):
        with app.app_context():
            gateway = make_gateway(make_owner(f"{gateway_id}@example.com"), gateway_id)
            key = set_api_key(gateway)
            db.session.commit()
        client = app.test_client()
        url = f"/api/v1/gateways/{gateway_id}/settings"
        auth = {"Authorization": f"Bearer {key}"}
        return (client.get(url, headers=auth),
                client.get(url, headers={**auth, "Accept-Encoding": coding}))

    # The answer is a few hundred bytes: under the default threshold it stays as it is.
    plain, asked = settings_json(make_app(), GATEWAY)
    assert plain.status_code == 200 and plain.mimetype == "application/json"
    assert len(plain.get_data()) < 1024 and "Content-Encoding" not in asked.headers
    plain, asked = settings_json(make_app(COMPRESS_MIN_SIZE=64), "02CD87654321")
    assert asked.headers["Content-Encoding"] == coding
    assert DECODE[coding](asked.get_data()) == plain.get_data()


def test_html_is_never_compressed(client, owner_client):
    """BREACH: pages carry the session's CSRF token next to input they echo."""
    asked = {"Accept-Encoding": "br, gzip"}
    for response in (client.get("/account/login", headers=asked),
                     client.get("/account/signup/name", headers={**asked, "HX-Request": "true"}),
                     owner_client.get(f"/monitoring/gateways/{GATEWAY}/monitor", headers=asked),
                     client.get("/nowhere", headers=asked)):
        assert response.mimetype == "text/html"
        assert len(response.get_data()) > 1024
        assert "Content-Encoding" not in response.headers
        assert "<html" in text_of(response) or "<form" in text_of(response)


def test_streamed_downloads_are_not_compressed(make_app):
    app = make_app(COMPRESS_MIN_SIZE=1)
    with app.app_context():
        make_staff(make_owner("admin@example.com", "管理", "一郎"), ADMIN)
    client = FlaskClient(app, app.response_class)  # streams (the suite's client buffers)
    assert login(client, "admin@example.com").status_code == 303
    response = client.get("/staff/audit.csv", headers={"Accept-Encoding": "br, gzip"})
    assert response.status_code == 200 and response.is_streamed
    assert "Content-Encoding" not in response.headers
    assert response.get_data().startswith("\ufeff".encode())


# -- what search engines read ----------------------------------------------------------------
def descriptions(html: str) -> list[str]:
    return re.findall(r'<meta name="description" content="([^"]*)">', html)


def noindex(html: str) -> bool:
    return '<meta name="robots" content="noindex">' in html


def test_public_pages_have_a_description_of_their_own_and_may_be_indexed(client):
    found = {}
    for path in PUBLIC_PAGES:
        html = text_of(client.get(path))
        described = descriptions(html)
        assert len(described) == 1 and len(described[0]) >= 20, path
        assert not noindex(html), path
        found[path] = described[0]
    assert "ログイン" in found["/account/login"]
    assert "アカウントの作成" in found["/account/signup/name"]
    assert "STEP1" in found["/monitoring/register"]
    assert len({found[p] for p in ("/account/login", "/account/signup/name",
                                   "/monitoring/register", "/terms", "/help/")}) == 5


def test_signed_in_pages_are_noindex(owner_client):
    for path in SIGNED_IN_PAGES:
        assert noindex(text_of(owner_client.get(path))), path


def test_error_pages_and_mailed_link_pages_are_noindex(client):
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and noindex(text_of(missing))
    for path in ("/account/password/reset/not-a-real-token", "/account/activate/x",
                 "/monitoring/alert-recipients/confirm/x"):
        response = client.get(path, follow_redirects=True)
        assert noindex(text_of(response)), path
