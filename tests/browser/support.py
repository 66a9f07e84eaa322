"""What every browser test uses: the per-page checks (axe-core, no horizontal scroll,
touch targets, no console errors), the live server and mail links read from the outbox."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from playwright.sync_api import BrowserContext, ConsoleMessage, Page
from werkzeug.serving import BaseWSGIServer, make_server

from blueprints.core.security import CSP

from tests.conftest import links_in
from tests.helpers import outbox

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = ROOT / "test-artifacts"
AXE_PATH = HERE / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
MIN_TARGET_PX = 44

DEVICES = {
    "phone": {"viewport": {"width": 360, "height": 740}, "is_mobile": True,
              "has_touch": True, "device_scale_factor": 2},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}

# -- live server -------------------------------------------------------------------------


@dataclass
class LiveServer:
    """The app served by werkzeug on 127.0.0.1 in a daemon thread."""

    app: Flask
    server: BaseWSGIServer = field(init=False)
    thread: threading.Thread = field(init=False)

    def start(self) -> LiveServer:
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        # Links in mail must point here: the port is known only once the socket is bound.
        self.app.config["PUBLIC_HOST"] = f"127.0.0.1:{self.server.server_port}"
        # stop() waits for the serving loop's next poll: 0.05 s, not the default 0.5 s.
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       name="live-server", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def mail_link(self, recipient: str, kind: str) -> str:
        """The first link of the newest `kind` mail to `recipient`, read from the outbox."""
        with self.app.app_context():
            mails = outbox(recipient, kind)
            assert mails, f"no {kind} mail to {recipient} in the outbox"
            links = links_in(mails[-1].text_body)
        assert links, f"the {kind} mail to {recipient} has no link"
        assert links[0].startswith(self.url + "/"), (
            f"the {kind} link {links[0]!r} does not point at the live server {self.url}")
        return links[0]


# -- per-page checks ---------------------------------------------------------------------

SCRIPT_TAG = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)

# Interactive elements and their touch-target heights. A checkbox or radio counts by the
# label around it (the whole label is the target). Inline text links inside a paragraph
# are exempt (WCAG 2.5.8's inline exception); links styled as buttons are not.
TOUCH_TARGETS_JS = """
(minimum) => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, '
                 + '[role=button], [role=link]';
  const describe = (el) => {
    let text = (el.getAttribute('aria-label') || el.innerText || el.value || el.name || '')
      .trim().replace(/\\s+/g, ' ').slice(0, 40);
    return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (el.name ? '[name=' + el.name + ']' : '') + (text ? ' "' + text + '"' : '');
  };
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    if (el.tagName === 'A' && !el.classList.contains('button') && el.closest('p')) continue;
    let target = el;
    if ((el.type === 'checkbox' || el.type === 'radio') && el.closest('label')) {
      target = el.closest('label');
    }
    const box = target.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;       // not rendered / visually hidden
    if (box.right <= 0 || box.bottom + window.scrollY <= 0) continue;  // parked off-screen
    if (box.height + 0.5 < minimum) {
      small.push(describe(el) + ': ' + box.height.toFixed(1) + 'px tall');
    }
  }
  return small;
}
"""

OVERFLOW_JS = """
() => {
  const doc = document.documentElement;
  const wide = [];
  if (doc.scrollWidth > window.innerWidth) {
    for (const el of document.body.querySelectorAll('*')) {
      const box = el.getBoundingClientRect();
      if (box.right > window.innerWidth + 0.5 && box.width > 0) {
        wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
          + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '')
          + ' right=' + box.right.toFixed(0));
        if (wide.length >= 5) break;
      }
    }
  }
  return {scrollWidth: doc.scrollWidth, innerWidth: window.innerWidth, wide: wide};
}
"""

AXE_RUN_JS = """
(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags},
                             resultTypes: ['violations']})
  .then(result => result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '),
                              summary: (n.failureSummary || '').split('\\n').slice(0, 3).join(' ')}))
  })))
"""


def format_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"  [{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:10]:
            lines.append(f"      {node['target']}  -- {node['summary']}")
        if len(violation["nodes"]) > 10:
            lines.append(f"      ... and {len(violation['nodes']) - 10} more")
    return "\n".join(lines)


class PageAudit:
    """Watches one page's console and runs the checks of every page visited.

    A page in a context with JavaScript disabled cannot run axe (its timers never fire):
    its DOM is then copied, scripts removed, into `mirror`, a JavaScript-enabled page of
    the same size and with the same CSP, and audited there."""

    def __init__(self, page: Page, name: str, device: str, axe_source: str,
                 mirror: Page | None = None):
        self.page = page
        self.name = name
        self.device = device
        self.axe_source = axe_source
        self.mirror = mirror
        self.console_errors: list[str] = []
        self.server_errors: list[str] = []
        self.allowed: list[re.Pattern] = []
        self.checked: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.console_errors.append(f"pageerror: {error}"))
        page.on("response", self._on_response)

    # -- events ------------------------------------------------------------------------
    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            location = message.location or {}
            where = location.get("url", "")
            self.console_errors.append(f"console.error: {message.text}"
                                       + (f" ({where})" if where else ""))

    def _on_response(self, response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.request.method} "
                                      f"{response.url}")

    def allow_console_error(self, pattern: str) -> None:
        """Expect one console error matching `pattern` (e.g. the browser's own notice of
        a deliberate 401 page); it is not reported by the next check."""
        self.allowed.append(re.compile(pattern))

    # -- checks ------------------------------------------------------------------------
    def check(self, label: str) -> None:
        """Run every check on the page as it is now; fail with all problems at once."""
        self.checked.append(label)
        problems: list[str] = []
        violations = self._axe()
        if violations:
            problems.append(f"axe-core found {len(violations)} WCAG 2.1 A/AA violation(s):\n"
                            + format_violations(violations))
        overflow = self.page.evaluate(OVERFLOW_JS)
        width = self.page.viewport_size["width"]
        if overflow["scrollWidth"] > min(overflow["innerWidth"], width):
            problems.append(
                f"horizontal scroll: scrollWidth {overflow['scrollWidth']} > viewport "
                f"{min(overflow['innerWidth'], width)}; too wide: {overflow['wide']}")
        if self.device == "phone":
            small = self.page.evaluate(TOUCH_TARGETS_JS, MIN_TARGET_PX)
            if small:
                problems.append(f"touch targets under {MIN_TARGET_PX}px:\n    "
                                + "\n    ".join(small))
        errors = self._take_console_errors()
        if errors:
            problems.append("console errors:\n    " + "\n    ".join(errors))
        if self.server_errors:
            problems.append("server errors:\n    " + "\n    ".join(self.server_errors))
            self.server_errors = []
        if problems:
            shot = self.screenshot(label)
            raise AssertionError(
                f"{self.name} [{self.device}] page '{label}' ({self.page.url}):\n"
                + "\n".join(problems) + f"\nscreenshot: {shot}")

    def _take_console_errors(self) -> list[str]:
        errors, self.console_errors = self.console_errors, []
        remaining = []
        for error in errors:
            match = next((p for p in self.allowed if p.search(error)), None)
            if match is not None:
                self.allowed.remove(match)
            else:
                remaining.append(error)
        self.allowed = []  # an allowance covers the page it was made for, no later one
        return remaining

    def _axe(self) -> list[dict]:
        target = self.page
        if self.mirror is not None:
            target = self._mirror_page()
        if not target.evaluate("() => typeof window.axe === 'object'"):
            # Evaluated by DevTools, not as an inline <script>: the app's CSP would refuse
            # that (and add_script_tag(content=...)), and a CSP error must fail a test.
            target.evaluate(self.axe_source)
        return target.evaluate(AXE_RUN_JS, AXE_TAGS)

    def _mirror_page(self) -> Page:
        """Load the no-JS page's current DOM into the JavaScript-enabled mirror page."""
        html = SCRIPT_TAG.sub("", self.page.content())
        url = self.page.url

        def serve(route):
            route.fulfill(status=200, body=html, content_type="text/html; charset=utf-8",
                          headers={"Content-Security-Policy": CSP})

        mirror = self.mirror
        assert mirror is not None
        mirror.route(url, serve)
        try:
            mirror.goto(url)
        finally:
            mirror.unroute(url, serve)
        return mirror

    def screenshot(self, label: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.name}-{self.device}-{label}")
        path = ARTIFACTS / f"{safe}.png"
        try:
            self.page.screenshot(path=str(path), full_page=True)
        except Exception as error:  # a screenshot must never hide the real failure
            return Path(f"(screenshot failed: {error})")
        return path


def close_quietly(context: BrowserContext) -> None:
    try:
        context.close()
    except Exception:
        pass
