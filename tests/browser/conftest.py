"""Browser fixtures: Debian's Chromium driven by Playwright (sync API) against the app
served on loopback. Uses `make_app` from tests/conftest.py (tables emptied afterwards).

Chromium is never downloaded: /usr/bin/chromium comes from Debian (`make system-deps`),
axe-core from npm (`make browser-deps`). Without them the tests skip, or fail when CI=true.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.support import (
    AXE_PATH,
    CHROMIUM,
    CHROMIUM_ARGS,
    DEVICES,
    LiveServer,
    PageAudit,
    close_quietly,
)


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell a failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_PATH.is_file():
        _unavailable(f"axe-core missing at {AXE_PATH}: run `cd tests/browser && npm ci`")
    return AXE_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).is_file() or not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"Chromium not found at {CHROMIUM}: install Debian's package "
                     "(`make system-deps`: chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def live_server(make_app) -> Iterator[LiveServer]:
    """The app on 127.0.0.1:<free port>; links in mail point at it."""
    app = make_app(PREFERRED_URL_SCHEME="http", RATELIMIT_ENABLED=False,
                   PUBLIC_HOST="127.0.0.1")  # the real port is set once the socket is bound
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def open_page(request, browser, axe_source):
    """`open_page(device, javascript=True)` → (page, audit) in a fresh browser context.
    On a test failure each open page is saved to test-artifacts/."""
    contexts = []
    audits: list[PageAudit] = []

    def factory(device: str, javascript: bool = True):
        options = {**DEVICES[device], "locale": "ja-JP", "timezone_id": "Asia/Tokyo"}
        context = browser.new_context(java_script_enabled=javascript, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        mirror = None
        if not javascript:
            mirror_context = browser.new_context(**options)
            contexts.append(mirror_context)
            mirror = mirror_context.new_page()
        page = context.new_page()
        audit = PageAudit(page, request.node.name, device, axe_source, mirror=mirror)
        audits.append(audit)
        return page, audit

    yield factory
    failed = any(getattr(request.node, f"rep_{when}", None) is not None
                 and getattr(request.node, f"rep_{when}").failed
                 for when in ("setup", "call"))
    if failed:
        for audit in audits:
            audit.screenshot("at-failure")
    for context in contexts:
        close_quietly(context)
