"""Who may open what (issues 3 and 4): every page of gateway registration, gateway
management, monitoring, dealers and slips, as anonymous, owner, another owner, linked
dealer, unlinked dealer and staff. Anything not theirs is 404 (or the sign-in page for
anonymous visitors)."""
from __future__ import annotations

import pytest

from blueprints.dealers.services import become_dealer, link_dealer
from models import db
from models.account import Role
from tests.flows.test_dealer_links import make_company, make_gateway, make_owner
from tests.helpers import login

GATEWAY = "01AB12345678"
DEALER_PHONE = "0312345678"

# path -> expected GET status per role. 302 = sent to sign in.
ROUTES = {
    "/monitoring/": dict(anonymous=302, owner=200, other=200, linked=200, unlinked=200, staff=200),
    f"/monitoring/gateways/{GATEWAY}": dict(anonymous=302, owner=200, other=404, linked=404,
                                            unlinked=404, staff=404),
    f"/monitoring/gateways/{GATEWAY}/edit": dict(anonymous=302, owner=200, other=404, linked=404,
                                                 unlinked=404, staff=404),
    f"/monitoring/gateways/{GATEWAY}/exchange": dict(anonymous=302, owner=200, other=404,
                                                     linked=404, unlinked=404, staff=404),
    f"/monitoring/gateways/{GATEWAY}/dispose": dict(anonymous=302, owner=200, other=404,
                                                    linked=404, unlinked=404, staff=404),
    f"/monitoring/gateways/{GATEWAY}/monitor": dict(anonymous=302, owner=200, other=404,
                                                    linked=200, unlinked=404, staff=404),
    f"/monitoring/gateways/{GATEWAY}/monitor?period=year&date=2026": dict(
        anonymous=302, owner=200, other=404, linked=200, unlinked=404, staff=404),
    f"/monitoring/gateways/{GATEWAY}/monitor.csv": dict(anonymous=302, owner=200, other=404,
                                                        linked=200, unlinked=404, staff=404),
    # Without htmx the status partial sends the browser to the page.
    f"/monitoring/gateways/{GATEWAY}/monitor/now": dict(anonymous=302, owner=303, other=404,
                                                        linked=303, unlinked=404, staff=404),
    "/dealers/my": dict(anonymous=302, owner=200, other=200, linked=200, unlinked=200, staff=200),
    f"/dealers/my/unlink/{GATEWAY}": dict(anonymous=302, owner=200, other=404, linked=404,
                                          unlinked=404, staff=404),
    f"/dealers/my/unlink/{GATEWAY}/DEALER": dict(anonymous=302, owner=200, other=404,
                                                 linked=404, unlinked=404, staff=404),
    "/dealers/": dict(anonymous=302, owner=403, other=403, linked=200, unlinked=200, staff=403),
    f"/dealers/gateways/{GATEWAY}": dict(anonymous=302, owner=403, other=403, linked=200,
                                         unlinked=404, staff=403),
    "/staff/gateways/slips": dict(anonymous=302, owner=404, other=404, linked=404,
                                  unlinked=404, staff=200),
    "/account/access": dict(anonymous=302, owner=200, other=200, linked=200, unlinked=200,
                            staff=200),
}
ROLES = ["anonymous", "owner", "other", "linked", "unlinked", "staff"]


@pytest.fixture
def world(app):
    """One gateway of `owner`, linked to one dealer; a second dealer not linked."""
    owner = make_owner()
    make_owner("other@example.com", "佐藤", "次郎")
    gateway = make_gateway(owner, GATEWAY)
    linked = become_dealer(make_company(1), DEALER_PHONE)
    become_dealer(make_company(2), "0312345679")
    assert link_dealer(owner, gateway, linked.dealer_code, DEALER_PHONE).name == "LINKED"
    staff = make_owner("staff@example.com", "高橋", "美咲")
    staff.role = Role.STAFF
    db.session.commit()
    clients = {"anonymous": app.test_client()}
    for role, email in [("owner", "owner@example.com"), ("other", "other@example.com"),
                        ("linked", "admin1@dealer1.example"),
                        ("unlinked", "admin2@dealer2.example"), ("staff", "staff@example.com")]:
        clients[role] = app.test_client()
        assert login(clients[role], email).status_code == 303
    return clients, linked.dealer_code


def test_every_route_answers_each_role_as_it_should(world):
    clients, dealer_code = world
    answers, wrong = {}, []
    for path, expected in ROUTES.items():
        path = path.replace("DEALER", dealer_code)
        for role in ROLES:
            status = clients[role].get(path).status_code
            answers[(path, role)] = status
            if status != expected[role]:
                wrong.append(f"{role:9} GET {path} → {status}, expected {expected[role]}")
    assert wrong == []


@pytest.mark.parametrize("path", [
    f"/monitoring/gateways/{GATEWAY}/edit", f"/monitoring/gateways/{GATEWAY}/exchange",
    f"/monitoring/gateways/{GATEWAY}/dispose", f"/dealers/my/unlink/{GATEWAY}/DEALER",
])
def test_changes_to_someone_elses_gateway_are_404(world, path):
    """A POST with a valid CSRF token of the intruder's own session changes nothing."""
    from tests.conftest import csrf_from

    clients, dealer_code = world
    path = path.replace("DEALER", dealer_code)
    intruder = clients["other"]
    token = csrf_from(intruder.get("/monitoring/").get_data(as_text=True))
    response = intruder.post(path, data={"csrf_token": token, "confirm": "y",
                                         "site_name": "乗っ取り"})
    assert response.status_code == 404
    assert clients["owner"].get(f"/monitoring/gateways/{GATEWAY}").status_code == 200
