"""Pages at phone size (360x740, touch) in Chromium, where a layout can hide or garble
what a page says: the monitoring page's current values (3.2 kW, 18.3 kWh …) must not run
into each other; a table that stacks its cells must name each value (its headings are
hidden); registration STEP2 must not show the 設置先住所 block with its 必須 badges while
「お客様住所と同じ」 is chosen, with JavaScript (app.js sets `hidden`) and without (CSS).

Every page state is checked by `PageAudit.check` (axe-core WCAG 2.1 A/AA, no horizontal
scroll, 44 px touch targets, no console or server errors)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from blueprints.dealers.services import link_dealer
from blueprints.monitoring import telemetry
from models import db
from models.gateway import Gateway
from tests.browser.support import LiveServer, PageAudit
from tests.browser.test_browser_monitoring import SLIP_ID, SLIP_PASSWORD, slips
from tests.browser.test_browser_pages import Person, check, in_db, sign_in
from tests.flows.test_dealer_links import make_dealer, make_gateway, make_owner
from tests.helpers import PASSWORD, add_units, reading, slot_end

pytestmark = pytest.mark.browser

OWNER = Person("owner@example.com", "山田", "太郎")
GATEWAY_ID = "01AB12345678"
BIG = {"pv_kw": 100.0, "load_kw": 88.8, "battery_kw": 5.0, "battery_state": "charging",
       "soc": 100, "sell_kw": 77.7, "buy_kw": 66.6}  # the widest values a gateway reports


def owner_with_gateway(live: LiveServer, **values) -> None:
    """The owner, a gateway with an hour of readings of `values`, a linked dealer."""
    def write():
        owner = make_owner(OWNER.email, OWNER.family_name, OWNER.given_name)
        gateway = make_gateway(owner, GATEWAY_ID, site="山田様邸")
        add_units(gateway, 2)
        end = slot_end()
        batch = [reading(end - timedelta(minutes=5 * i), **values) for i in range(12)]
        assert telemetry.ingest(db.session.get(Gateway, gateway.id), batch).accepted == 12
        dealer = make_dealer(1, phone="0312345678")
        link_dealer(owner, db.session.get(Gateway, gateway.id), dealer.dealer_code,
                    "0312345678")
    in_db(live, write)


# -- the monitoring page's current values --------------------------------------------------
# Each value's text as laid out (a Range's line boxes, not its grid cell, which stays in
# its column however wide the text is), per box of current values.
VALUE_BOXES_JS = """
() => [...document.querySelectorAll('#now .now-item')].map(item => {
  const box = item.getBoundingClientRect();
  const style = getComputedStyle(item);
  return {
    name: item.querySelector('.now-name').innerText,
    inner: {left: box.left + parseFloat(style.borderLeftWidth) + parseFloat(style.paddingLeft),
            right: box.right - parseFloat(style.borderRightWidth) - parseFloat(style.paddingRight)},
    values: [...item.querySelectorAll('dd')].map(dd => {
      const range = document.createRange();
      range.selectNodeContents(dd);
      return {text: dd.innerText,
              lines: [...range.getClientRects()].map(r => ({left: r.left, right: r.right,
                                                            top: r.top, bottom: r.bottom}))};
    }),
  };
})
"""
GAP_PX = 4  # values closer than this read as one


def _apart(a: dict, b: dict) -> bool:
    return (a["right"] + GAP_PX <= b["left"] or b["right"] + GAP_PX <= a["left"]
            or a["bottom"] <= b["top"] or b["bottom"] <= a["top"])


def test_current_values_stay_apart_at_360(live_server, open_page):
    owner_with_gateway(live_server, **BIG)
    page, audit = open_page("phone")
    sign_in(page, audit, live_server, OWNER, PASSWORD)
    page.goto(live_server.url + f"/monitoring/gateways/{GATEWAY_ID}/monitor")
    expect(page.locator("#now")).to_contain_text("100.0 kW")
    check(page, audit, "monitor-big-values")

    items = page.evaluate(VALUE_BOXES_JS)
    assert [item["name"] for item in items] == ["発電", "消費", "蓄電池", "売電", "買電"]
    texts = [value["text"] for item in items for value in item["values"]]
    assert "100.0 kW" in texts and any(re.fullmatch(r"\d+\.\d kWh", t) for t in texts)
    for item in items:
        for value in item["values"]:
            for line in value["lines"]:  # inside its own box
                assert item["inner"]["left"] - 0.5 <= line["left"], (item["name"], value)
                assert line["right"] <= item["inner"]["right"] + 0.5, (item["name"], value)
        for i, first in enumerate(item["values"]):
            for second in item["values"][i + 1:]:
                for a in first["lines"]:
                    for b in second["lines"]:
                        assert _apart(a, b), (
                            f"{item['name']}: '{first['text']}' runs into '{second['text']}'")


# -- tables whose cells stack --------------------------------------------------------------
LABELS_JS = """
() => [...document.querySelectorAll('main table.table')].map(table => ({
  head: getComputedStyle(table.querySelector('thead')).display,
  cells: [...table.querySelectorAll('tbody td')].map(td => {
    const before = getComputedStyle(td, '::before');
    return {label: td.dataset.label || null, content: before.content, display: before.display};
  }),
}))
"""


def test_stacked_tables_name_each_value_at_360(live_server, open_page):
    owner_with_gateway(live_server)
    page, audit = open_page("phone")
    sign_in(page, audit, live_server, OWNER, PASSWORD)
    for path, label in (("/monitoring/", "ゲートウェイID"), ("/dealers/my", "電話番号"),
                        (f"/monitoring/gateways/{GATEWAY_ID}", "製造番号")):
        page.goto(live_server.url + path)
        check(page, audit, "stacked" + path.replace("/", "-"))
        tables = page.evaluate(LABELS_JS)
        assert tables, path
        for table in tables:
            assert table["head"] == "none", path  # the headings are hidden …
            labelled = [cell for cell in table["cells"] if cell["label"]]
            assert labelled, path
            for cell in labelled:  # … and each value shows its own
                assert cell["content"] == f'"{cell["label"]}"', (path, cell)
                assert cell["display"] == "block", (path, cell)
        assert any(cell["label"] == label for table in tables for cell in table["cells"])
    expect(page.locator("main td[data-label='製造番号']").first).to_be_visible()


def test_tables_keep_their_headings_on_a_desktop(live_server, open_page):
    owner_with_gateway(live_server)
    page, audit = open_page("desktop")
    sign_in(page, audit, live_server, OWNER, PASSWORD)
    page.goto(live_server.url + "/monitoring/")
    check(page, audit, "menu-desktop")
    [table] = page.evaluate(LABELS_JS)
    assert table["head"] == "table-header-group"
    assert {cell["content"] for cell in table["cells"]} == {"none"}


# -- registration STEP2: 「お客様住所と同じ」 --------------------------------------------------
def _to_step2(page: Page, audit: PageAudit, live: LiveServer, javascript: bool) -> None:
    page.goto(live.url + "/monitoring/register/terms")
    page.get_by_label("同意する", exact=True).check()
    page.get_by_label("アカウント（ID）の利用規約を読み、これに同意します").check()
    page.get_by_label("プライバシーポリシーを読み、個人情報の取扱いに同意します").check()
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/monitoring/register/terms")):
        page.locator("#wizard").get_by_role("button", name="次に進む", exact=True).click()
    expect(page.locator("#wizard .step-title")).to_contain_text("ステップ 2/3")
    assert page.evaluate("() => typeof window.htmx === 'object'") is javascript


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_same_address_hides_the_site_address_block(live_server, open_page, javascript):
    slips(live_server, (SLIP_ID, SLIP_PASSWORD))
    page, audit = open_page("phone", javascript=javascript)
    _to_step2(page, audit, live_server, javascript)
    block = page.locator(".site-address")
    fields = page.locator("#site_address-address")
    same = page.get_by_label("お客様住所と同じ")
    other = page.get_by_label("別の住所を入力する")

    expect(same).to_be_checked()  # the default: nothing more to type, nothing shown
    expect(fields).to_be_hidden()
    expect(page.locator("#site_address-postal_code")).to_be_hidden()
    # With JavaScript app.js hides it (`hidden`); without, the CSS :has() rule alone.
    assert (block.get_attribute("hidden") is not None) is javascript
    check(page, audit, "step2-same")

    other.check()
    expect(fields).to_be_visible()
    expect(fields.locator(".required").first).to_be_visible()
    check(page, audit, "step2-other")

    same.check()
    expect(fields).to_be_hidden()

    # Shown again after a mistake (422): the block follows the choice that came back.
    other.check()
    audit.allow_console_error(r"status of 422")
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/monitoring/register/details")) as info:
        page.locator("#wizard").get_by_role("button", name="次に進む", exact=True).click()
    assert info.value.status == 422
    expect(page.locator("#site_address-street-error")).to_be_visible()
    expect(page.get_by_label("別の住所を入力する")).to_be_checked()
    expect(fields).to_be_visible()
    check(page, audit, "step2-other-422")
    page.get_by_label("お客様住所と同じ").check()
    expect(fields).to_be_hidden()
    check(page, audit, "step2-same-after-422")
