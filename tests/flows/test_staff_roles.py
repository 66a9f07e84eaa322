"""Staff roles on every staff route: the list is built from the app's URL map (every GET
rule of a `*_staff` blueprint and of `staff`), its path parameters filled from a small
world. Anonymous visitors are sent to sign in; an owner and staff without roles get 404;
each role opens its blueprints (and gets 404 elsewhere); a staff admin opens everything."""
from __future__ import annotations

from sqlalchemy import func, select

from blueprints.core.staff import ADMIN, PROGRAMME, SLIPS, STAFF_ROLES, SUPPORT
from blueprints.gateways.catalogue import ensure_catalogue
from blueprints.support.kb_demo import seed_demo_articles
from models import db
from models.account import Account
from models.gateway import SystemModel
from models.support import KbArticle, SupportCategory
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.helpers import login, make_staff

GATEWAY = "01AB12345678"
# The role each staff blueprint asks for; a new staff blueprint must be added here.
EXPECTED = {"gateways_staff": SLIPS, "points_staff": PROGRAMME, "support_staff": SUPPORT,
            "accounts_staff": SUPPORT, "staff": ADMIN}

# What a page needs in its query to answer 200 (without it: back to its form).
QUERIES = {"points_staff.report": "?month=2026-01"}


def staff_rules(app):
    return sorted((rule for rule in app.url_map.iter_rules()
                   if rule.endpoint.split(".")[0] in EXPECTED
                   or rule.endpoint.split(".")[0].endswith("_staff")),
                  key=lambda rule: rule.rule)


def fillers(admin_id: int, owner: Account) -> dict[str, str]:
    ensure_catalogue()
    seed_demo_articles()
    return {
        "gateway_id": GATEWAY,
        "model_id": str(db.session.scalar(select(func.min(SystemModel.id)))),
        "article_id": str(db.session.scalar(select(func.min(KbArticle.id)))),
        "category_id": str(db.session.scalar(select(func.min(SupportCategory.id))) or 1),
        "account_id": str(admin_id),
        "customer_number": owner.customer_number,
        # Nothing of these exists: 404 for everyone, the role check comes first.
        "number": "499999999", "member_id": "999999999", "file_id": "999999999",
        "request_id": "999999999", "detail_id": "999999999",
    }


def test_every_staff_blueprint_names_its_role(app):
    blueprints = {rule.endpoint.split(".")[0] for rule in staff_rules(app)}
    assert blueprints >= set(EXPECTED)
    for name in blueprints:
        role = getattr(app.blueprints[name], "staff_role", None)
        assert role in STAFF_ROLES, name
        assert role == EXPECTED.get(name, role), name


def test_each_role_opens_its_staff_pages_only(app):
    owner = make_owner("owner@example.com")
    make_gateway(owner, GATEWAY)
    accounts = {
        "owner": "owner@example.com",
        "staff without roles": make_staff(make_owner("none@example.com")).email,
        SUPPORT: make_staff(make_owner("support@example.com"), SUPPORT).email,
        SLIPS: make_staff(make_owner("slips@example.com"), SLIPS).email,
        PROGRAMME: make_staff(make_owner("programme@example.com"), PROGRAMME).email,
        ADMIN: make_staff(make_owner("admin@example.com"), ADMIN).email,
    }
    admin_id = db.session.scalar(select(Account.id).where(Account.email == "admin@example.com"))
    values = fillers(admin_id, owner)
    clients = {"anonymous": app.test_client()}
    for who, email in accounts.items():
        clients[who] = app.test_client()
        assert login(clients[who], email).status_code == 303, who
    checked, wrong = 0, []
    for rule in staff_rules(app):
        if "GET" not in rule.methods:
            continue
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<int:{argument}>", values[argument]).replace(
                f"<{argument}>", values[argument])
        path += QUERIES.get(rule.endpoint, "")
        blueprint = rule.endpoint.split(".")[0]
        role = app.blueprints[blueprint].staff_role
        reference = clients[ADMIN].get(path, buffered=True).status_code
        if not rule.arguments or rule.endpoint in ("staff.person", "gateways_staff.gateway",
                                                   "gateways_staff.model_edit",
                                                   "support_staff.article_edit"):
            if reference != 200:
                wrong.append(f"admin GET {path} → {reference}, expected 200")
        anonymous = clients["anonymous"].get(path, buffered=True)
        if anonymous.status_code not in (302, 303) or "/account/login" not in anonymous.location:
            wrong.append(f"anonymous GET {path} → {anonymous.status_code}")
        for who in accounts:
            if who == ADMIN:
                continue
            expected = reference if who == role else 404
            status = clients[who].get(path, buffered=True).status_code
            if status != expected:
                wrong.append(f"{who} GET {path} → {status}, expected {expected}")
        checked += 1
    assert wrong == [], "\n".join(wrong)
    assert checked >= 15  # every staff page of gateways, points, support and staff


def test_the_demo_staff_member_holds_every_role_once(app):
    from blueprints.account.demo import seed_demo_accounts
    from models.trust import StaffGrant

    lines = seed_demo_accounts()
    assert any("support@example.com" in line and "スタッフ管理者" in line for line in lines)
    seed_demo_accounts()  # idempotent
    staff = db.session.scalar(select(Account).where(Account.email == "support@example.com"))
    roles = list(db.session.scalars(select(StaffGrant.role)
                                    .where(StaffGrant.account_id == staff.id)))
    assert sorted(roles) == sorted(STAFF_ROLES)


def test_cases_go_to_support_agents_and_admins_only(app):
    """The desk's assignee list and its check follow the support role, not any staff."""
    import pytest

    from blueprints.support import desk

    agent = make_staff(make_owner("agent@example.com", "高橋", "美咲"), SUPPORT)
    boss = make_staff(make_owner("boss@example.com", "山本", "一郎"), ADMIN)
    issuer = make_staff(make_owner("issuer@example.com", "田中", "三郎"), SLIPS)
    make_owner("owner@example.com")
    assert {a.email for a in desk.staff_accounts()} == {agent.email, boss.email}

    class Case:  # what assign() reads before it refuses the assignee
        assignee_id = account_id = None
        number = "400000000"

    with app.test_request_context(), pytest.raises(LookupError):
        desk.assign(Case(), boss, issuer.id)
