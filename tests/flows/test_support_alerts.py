"""「サポートに相談」 where a fault is first seen: the error's alert mail (owner and linked
dealers) and the monitoring page while the error lasts open a new case pre-filled from the
alert; silence, a recovery and a page without an error offer nothing."""
from __future__ import annotations

from html import unescape

from sqlalchemy import func, select

from blueprints.monitoring.alerts import check_silence
from models import db
from models.support import SupportCase
from tests.conftest import SmtpServer, csrf_from, path_of
from tests.flows.test_alerts import (CONTACTS, OWNER, alerts, linked_gateway, new_mail,
                                     send)
from tests.flows.test_gateway_api import GATEWAY_ID, SLOT, error_units
from tests.helpers import login, reading, slot_end

MONITOR = f"/monitoring/gateways/{GATEWAY_ID}/monitor"
CONSULT = "サポートに相談する"


def _case_link(body: str) -> str:
    [line] = [line for line in body.splitlines() if "/support/cases/new?alert=" in line]
    return line.strip()


def test_the_error_mail_links_a_prefilled_case_and_the_recovery_mail_does_not(smtp_app, smtp):
    _owner, _gateway, key = linked_gateway(smtp)
    gateway_client = smtp_app.test_client()
    now = slot_end()
    send(gateway_client, key, reading(now - 3 * SLOT, units=error_units("E201")))
    arrived = new_mail(smtp)
    [alert] = alerts()
    expected = f"http://enelink.test/support/cases/new?alert={alert.id}"
    by_address = {m["To"]: SmtpServer.text_of(m) for m in arrived}
    for address in (OWNER, *CONTACTS):
        assert CONSULT in by_address[address]
        assert _case_link(by_address[address]) == expected

    browser = smtp_app.test_client()
    assert login(browser, OWNER).status_code == 303
    page = unescape(browser.get(path_of(expected)).get_data(as_text=True))
    # The form opens with the gateway's site, the unit in error, its serial and the code.
    assert GATEWAY_ID in page and "SER00001" in page and "1:E201" in page

    send(gateway_client, key, reading(now - 2 * SLOT))
    recovered = new_mail(smtp)
    assert recovered and all("/support/cases/new" not in SmtpServer.text_of(m)
                             for m in recovered)


def test_a_silence_mail_offers_no_case(smtp_app, smtp):
    _owner, gateway, key = linked_gateway(smtp)
    send(smtp_app.test_client(), key, reading(slot_end() - 40 * SLOT))
    new_mail(smtp)
    check_silence()
    db.session.commit()
    arrived = new_mail(smtp)
    assert arrived and all("/support/cases/new" not in SmtpServer.text_of(m) for m in arrived)


def test_the_monitoring_page_offers_support_only_while_the_error_lasts(app):
    _owner, _gateway, key = linked_gateway()
    gateway_client = app.test_client()
    browser = app.test_client()
    assert login(browser, OWNER).status_code == 303
    now = slot_end()

    send(gateway_client, key, reading(now - 3 * SLOT))
    assert CONSULT not in browser.get(MONITOR).get_data(as_text=True)

    send(gateway_client, key, reading(now - 2 * SLOT, units=error_units("E305")))
    [alert] = alerts()
    page = browser.get(MONITOR).get_data(as_text=True)
    assert CONSULT in page and f"/support/cases/new?alert={alert.id}" in page
    assert "1:E305" in page

    send(gateway_client, key, reading(now - SLOT))
    assert CONSULT not in browser.get(MONITOR).get_data(as_text=True)


def test_a_linked_dealer_opens_the_alerts_case_prefilled_and_an_outsider_does_not(app):
    """The alert mail goes to the linked dealer too: its employees get the same pre-filled
    form (the gateway they maintain is offered for this case only); a dealer not linked
    to the gateway gets the empty form, and can file about it by no tampered value."""
    _owner, _gateway, key = linked_gateway()
    send(app.test_client(), key, reading(slot_end() - 2 * SLOT, units=error_units("E201")))
    [alert] = alerts()
    linked, outsider = app.test_client(), app.test_client()
    assert login(linked, "admin1@dealer1.example").status_code == 303
    assert login(outsider, "admin2@dealer2.example").status_code == 303

    page = unescape(linked.get(f"/support/cases/new?alert={alert.id}").get_data(as_text=True))
    assert GATEWAY_ID in page and "SER00001" in page and "1:E201" in page
    page = unescape(outsider.get(f"/support/cases/new?alert={alert.id}").get_data(as_text=True))
    assert GATEWAY_ID not in page and "1:E201" not in page

    token = csrf_from(page)
    response = outsider.post("/support/cases/new", data={
        "csrf_token": token, "subject": "故障", "site": GATEWAY_ID, "category": "1",
        "alert": str(alert.id)})
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(SupportCase)) == 0
