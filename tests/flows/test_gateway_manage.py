"""ゲートウェイの管理 (owner pages): 照会, 編集 of the site, 交換 onto a new slip, 廃棄;
only the owner's own gateways in service, CSRF on every POST, no 5xx on odd input."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from datetime import timedelta

from sqlalchemy import func, select, update

from blueprints.dealers.services import become_dealer, link_dealer
from blueprints.gateways.slips import new_gateway
from models import db, utcnow
from models.account import Account, AccountType, Company, CompanyRole
from models.audit import AuditEvent
from models.gateway import DealerLink, Gateway, GatewayStatus
from tests.conftest import csrf_from
from tests.flows.test_slips import make_account
from tests.helpers import login

OWNER = "owner@example.com"
OTHER = "other@example.com"
OLD_ID = "01AB12345678"
NEW_ID = "02CD87654321"
SLIP_PASSWORD = "abc23456789x"
ONE_MESSAGE = "ゲートウェイIDまたはゲートウェイパスワードが正しくないか"
SITE = {
    "site_name": "山田様邸", "address-postal_code": "103-0026", "address-prefecture": "東京都",
    "address-city": "中央区", "address-street": "日本橋兜町1丁目2番3号",
    "address-building": "兜町ハイツ101",
}


def owned_gateway(owner: Account | None, gateway_id: str = OLD_ID,
                  status=GatewayStatus.ACTIVE) -> Gateway:
    gateway = new_gateway(gateway_id, SLIP_PASSWORD, "GW-M001", ["A1B2C3D4", "E5F6G7H8"])
    if owner is not None:
        gateway.status = status
        gateway.owner_id = owner.id
        gateway.site_name = "案件90051"
        gateway.postal_code, gateway.prefecture = "5410055", "大阪府"
        gateway.city, gateway.street = "大阪市中央区", "船場中央1-4-5"
        gateway.registered_at = utcnow()
    db.session.commit()
    return gateway


def make_dealer(n: int):
    now = utcnow()
    company = Company(name=f"販売店{n}株式会社", kind="dealer", postal_code="1030026",
                      prefecture="東京都", city="中央区", street="日本橋兜町1-1",
                      email=f"info{n}@dealer{n}.example", phone="0312345678")
    admin = Account(email=f"admin{n}@dealer{n}.example", password_hash="x",
                    family_name="佐藤", given_name="花子",
                    account_type=AccountType.COMMERCIAL, company_role=CompanyRole.ADMIN,
                    activated_at=now, terms_accepted_at=now, privacy_accepted_at=now)
    admin.company = company
    db.session.add(admin)
    db.session.commit()
    return become_dealer(company, f"0901234{n:04d}", [f"maint{n}@dealer{n}.example"])


def fresh(gateway_id: str) -> Gateway:
    db.session.expire_all()
    return db.session.scalar(select(Gateway).where(Gateway.gateway_id == gateway_id))


def actions() -> list[str]:
    db.session.expire_all()
    return [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def post(client, url: str, data: dict, token_url: str | None = None):
    page = client.get(token_url or url)
    assert page.status_code == 200, page.status_code
    token = csrf_from(page.get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


@pytest.fixture
def owner(app):
    return make_account(OWNER)


@pytest.fixture
def owner_client(app, owner):
    client = app.test_client()
    assert login(client, email=OWNER).status_code in (302, 303)
    return client


def base(gateway_id: str = OLD_ID) -> str:
    return f"/monitoring/gateways/{gateway_id}"


ROUTES = ("", "/edit", "/exchange", "/exchange/confirm", "/dispose")
POSTS = {"/edit": SITE, "/exchange": {"new_gateway_id": NEW_ID, "slip_password": SLIP_PASSWORD},
         "/exchange/confirm": {}, "/dispose": {"confirm": "y"}}


# -- 照会 ------------------------------------------------------------------------------
def test_detail_shows_gateway_site_units_and_dealers(owner, owner_client):
    gateway = owned_gateway(owner)
    dealer = make_dealer(1)
    assert link_dealer(owner, gateway, dealer.dealer_code, dealer.phone).value == "linked"
    response = owner_client.get(base())
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in (OLD_ID, "GW-M001", "案件90051", "541-0055", "大阪府 大阪市中央区 船場中央1-4-5",
                 "A1B2C3D4", "E5F6G7H8", "販売店1株式会社", "まだ通信がありません",
                 f"{base()}/edit", f"{base()}/exchange", f"{base()}/dispose", 'href="/monitoring/"'):
        assert text in html, text


def test_anonymous_goes_to_login(app, owner):
    owned_gateway(owner)
    client = app.test_client()
    token = csrf_from(client.get("/account/login").get_data(as_text=True))
    for suffix in ROUTES:
        response = client.get(base() + suffix)
        assert response.status_code == 302 and "/account/login" in response.location
        if suffix in POSTS:
            response = client.post(base() + suffix, data={**POSTS[suffix], "csrf_token": token})
            assert response.status_code == 302 and "/account/login" in response.location
    assert fresh(OLD_ID).status == GatewayStatus.ACTIVE


def _token(client) -> str:
    return csrf_from(client.get("/account/settings/personal").get_data(as_text=True))


def test_other_owner_unknown_and_retired_are_404_everywhere(app, owner, owner_client):
    other = make_account(OTHER)
    owned_gateway(other, OLD_ID)
    owned_gateway(owner, "03EF11112222", status=GatewayStatus.RETIRED)
    owned_gateway(None, NEW_ID)  # unregistered
    token = _token(owner_client)
    # …and IDs that cannot be one: a NUL byte (PostgreSQL refuses it in a parameter),
    # another script, lower case
    for gateway_id in (OLD_ID, "03EF11112222", NEW_ID, "99ZZ00000000", "x" * 300,
                       "01AB1234%00ZZ", "０１ＡＢ１２３４５６７８", OLD_ID.lower()):
        for suffix in ROUTES:
            assert owner_client.get(base(gateway_id) + suffix).status_code == 404, suffix
            if suffix in POSTS:
                response = owner_client.post(base(gateway_id) + suffix,
                                             data={**POSTS[suffix], "csrf_token": token})
                assert response.status_code == 404, (gateway_id, suffix)
    theirs = fresh(OLD_ID)
    assert theirs.owner_id == other.id and theirs.status == GatewayStatus.ACTIVE
    assert theirs.site_name == "案件90051"
    assert fresh(NEW_ID).status == GatewayStatus.UNREGISTERED


def test_posts_need_a_csrf_token(owner, owner_client):
    owned_gateway(owner)
    for suffix, data in POSTS.items():
        assert owner_client.post(base() + suffix, data=data).status_code == 400, suffix
    assert fresh(OLD_ID).status == GatewayStatus.ACTIVE


# -- 編集 ------------------------------------------------------------------------------
def test_edit_saves_site_and_address(owner, owner_client):
    owned_gateway(owner)
    page = owner_client.get(base() + "/edit").get_data(as_text=True)
    assert 'value="案件90051"' in page and "住所を検索" in page
    response = post(owner_client, base() + "/edit", SITE)
    assert response.status_code == 303 and response.location.endswith(base())
    gateway = fresh(OLD_ID)
    assert gateway.site_name == "山田様邸"
    assert (gateway.postal_code, gateway.prefecture, gateway.city, gateway.street,
            gateway.building) == ("1030026", "東京都", "中央区", "日本橋兜町1-2-3", "兜町ハイツ101")
    assert "ゲートウェイ情報を保存しました" in owner_client.get(base()).get_data(as_text=True)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "gateway.update"))
    assert event.actor_id == owner.id and event.detail["gateway_id"] == OLD_ID


def test_edit_postal_lookup_without_javascript(owner, owner_client):
    owned_gateway(owner)
    response = post(owner_client, base() + "/edit",
                    {"site_name": "山田様邸", "address-postal_code": "1030026",
                     "address-prefecture": "", "address-city": "", "address-street": "",
                     "address-lookup": "住所を検索"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'value="中央区"' in html and "日本橋兜町" in html
    assert '<option selected value="東京都">' in html or 'selected value="東京都"' in html \
        or 'value="東京都" selected' in html
    assert fresh(OLD_ID).site_name == "案件90051"  # nothing saved


@pytest.mark.parametrize("changes, message", [
    ({"site_name": "あ" * 10_000}, "60文字以内"),
    ({"site_name": "山田\x00様邸"}, "使用できない文字"),
    ({"site_name": "山田様邸😀"}, "使用できない文字"),
    ({"site_name": ""}, "入力してください"),
    ({"address-postal_code": "12-34"}, "郵便番号は7桁"),
    ({"address-postal_code": "0000000"}, "見つかりませんでした"),
    ({"address-city": "中央\x00区"}, "使用できない文字"),
    ({"address-street": "1" * 10_000}, "60文字以内"),
    ({"address-building": "ビル\u202e101"}, "使用できない文字"),
    ({"address-prefecture": "東京"}, "都道府県を一覧から"),
])
def test_edit_rejects_bad_input_with_422(owner, owner_client, changes, message):
    owned_gateway(owner)
    response = post(owner_client, base() + "/edit", {**SITE, **changes})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert fresh(OLD_ID).site_name == "案件90051"


# -- 交換 ------------------------------------------------------------------------------
def exchange(client, new_id=NEW_ID, password=SLIP_PASSWORD, gateway_id=OLD_ID):
    return post(client, base(gateway_id) + "/exchange",
                {"new_gateway_id": new_id, "slip_password": password})


def test_exchange_moves_owner_site_and_dealer_links(owner, owner_client):
    old = owned_gateway(owner)
    registered_at = old.registered_at
    owned_gateway(None, NEW_ID)
    dealers = [make_dealer(1), make_dealer(2)]
    for dealer in dealers:
        assert link_dealer(owner, fresh(OLD_ID), dealer.dealer_code, dealer.phone).value == "linked"
    response = exchange(owner_client, new_id="０２ｃｄ８７６５４３２１")  # full-width, lower case
    assert response.status_code == 303
    assert response.location.endswith(base() + "/exchange/confirm")
    confirm = owner_client.get(base() + "/exchange/confirm").get_data(as_text=True)
    for text in (OLD_ID, NEW_ID, "案件90051", "販売店1株式会社", "交換する"):
        assert text in confirm
    assert fresh(NEW_ID).status == GatewayStatus.UNREGISTERED  # nothing happened yet
    response = post(owner_client, base() + "/exchange/confirm", {})
    assert response.status_code == 303 and response.location.endswith(base(NEW_ID))
    new, old = fresh(NEW_ID), fresh(OLD_ID)
    assert new.status == GatewayStatus.ACTIVE and new.owner_id == owner.id
    assert (new.site_name, new.postal_code, new.prefecture, new.city, new.street) == (
        "案件90051", "5410055", "大阪府", "大阪市中央区", "船場中央1-4-5")
    assert new.registered_at == registered_at
    assert old.status == GatewayStatus.RETIRED and old.retired_at is not None
    assert old.replaced_by_id == new.id
    links = list(db.session.scalars(select(DealerLink)))
    assert len(links) == 2 and {link.gateway_id for link in links} == {new.id}
    page = owner_client.get(base(NEW_ID)).get_data(as_text=True)
    assert "ゲートウェイを交換しました" in page and "販売店2株式会社" in page
    assert owner_client.get(base()).status_code == 404  # the old one is retired
    assert post(owner_client, base() + "/exchange/confirm", {},
                token_url="/account/settings").status_code == 404
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "gateway.exchange"))
    assert event.detail["new_gateway_id"] == NEW_ID and event.actor_id == owner.id


@pytest.mark.parametrize("case", ["wrong_password", "unknown_id", "registered", "itself"])
def test_exchange_refusals_share_one_message(owner, owner_client, case):
    owned_gateway(owner)
    owned_gateway(make_account(OTHER), NEW_ID)  # registered by someone else
    owned_gateway(None, "04GH33334444")
    new_id, password = {"wrong_password": ("04GH33334444", "wrong-password"),
                        "unknown_id": ("99ZZ00000000", SLIP_PASSWORD),
                        "registered": (NEW_ID, SLIP_PASSWORD),
                        "itself": (OLD_ID, SLIP_PASSWORD)}[case]
    response = exchange(owner_client, new_id=new_id, password=password)
    assert response.status_code == 422
    assert ONE_MESSAGE in response.get_data(as_text=True)
    assert owner_client.get(base() + "/exchange/confirm").status_code == 302
    assert fresh(OLD_ID).status == GatewayStatus.ACTIVE
    assert fresh("04GH33334444").status == GatewayStatus.UNREGISTERED
    assert "gateway.exchange" not in actions()


def test_exchange_form_validation(owner, owner_client):
    owned_gateway(owner)
    response = exchange(owner_client, new_id="12345", password="")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "英数字12桁" in html and "入力してください" in html
    response = exchange(owner_client, new_id="01AB1234567\x00", password="p" * 10_000)
    assert response.status_code == 422


def test_wrong_slips_limit_the_account_not_the_gateway(make_app):
    app = make_app(SLIP_FAILURES_PER_ACCOUNT=3)
    with app.app_context():
        owner, other = make_account(OWNER), make_account(OTHER)
        owned_gateway(owner)
        owned_gateway(other, "05AA00000001")
        owned_gateway(None, NEW_ID)
        guesser = app.test_client()
        assert login(guesser, email=OTHER).status_code == 303
        # Another owner guesses the new slip from many addresses: their account is limited.
        for n in range(3):
            guesser.environ_base["REMOTE_ADDR"] = f"203.0.113.{n + 1}"
            assert exchange(guesser, gateway_id="05AA00000001",
                            password="wrong-one").status_code == 422
        guesser.environ_base["REMOTE_ADDR"] = "203.0.113.99"
        limited = exchange(guesser, gateway_id="05AA00000001")
        assert limited.status_code == 429
        assert "誤りが続いたため" in limited.get_data(as_text=True)
        assert fresh(NEW_ID).status == GatewayStatus.UNREGISTERED
        assert actions().count("gateway.slip_failed") == 3
        # The holder of the new slip is not stopped by that.
        owner_client = app.test_client()
        assert login(owner_client, email=OWNER).status_code == 303
        assert exchange(owner_client).status_code == 303
        assert post(owner_client, base() + "/exchange/confirm", {}).status_code == 303
        assert fresh(NEW_ID).owner_id == owner.id


def test_wrong_slips_at_add_count_against_the_account(make_app):
    app = make_app(SLIP_FAILURES_PER_ACCOUNT=2)
    with app.app_context():
        make_account(OTHER)
        make_account(OWNER)
        owned_gateway(None, NEW_ID)
        data = {"gateway_id": NEW_ID, "site_name": "別荘", **{
            f"site_{key}": value for key, value in SITE.items() if key != "site_name"},
            "accept_monitoring_terms": "y"}
        guesser = app.test_client()
        assert login(guesser, email=OTHER).status_code == 303
        for n in range(2):
            guesser.environ_base["REMOTE_ADDR"] = f"203.0.113.{n + 1}"
            wrong = post(guesser, "/monitoring/gateways/add",
                         {**data, "gateway_password": "wrong-one"})
            assert wrong.status_code == 422 and ONE_MESSAGE in wrong.get_data(as_text=True)
        guesser.environ_base["REMOTE_ADDR"] = "203.0.113.50"
        limited = post(guesser, "/monitoring/gateways/add",
                       {**data, "gateway_password": SLIP_PASSWORD})
        assert limited.status_code == 429
        assert "誤りが続いたため" in limited.get_data(as_text=True)
        assert fresh(NEW_ID).status == GatewayStatus.UNREGISTERED
        owner_client = app.test_client()
        assert login(owner_client, email=OWNER).status_code == 303
        added = post(owner_client, "/monitoring/gateways/add",
                     {**data, "gateway_password": SLIP_PASSWORD})
        assert added.status_code == 303
        assert fresh(NEW_ID).status == GatewayStatus.ACTIVE


def test_confirm_without_a_checked_slip_goes_back(owner, owner_client):
    owned_gateway(owner)
    response = owner_client.get(base() + "/exchange/confirm")
    assert response.status_code == 302 and response.location.endswith(base() + "/exchange")


def test_new_slip_taken_between_check_and_confirm(owner, owner_client):
    owned_gateway(owner)
    owned_gateway(None, NEW_ID)
    assert exchange(owner_client).status_code == 303
    token = csrf_from(owner_client.get(base() + "/exchange/confirm").get_data(as_text=True))
    taken = fresh(NEW_ID)
    taken.status, taken.owner_id = GatewayStatus.ACTIVE, make_account(OTHER).id
    db.session.commit()
    response = owner_client.post(base() + "/exchange/confirm", data={"csrf_token": token})
    assert response.status_code == 303 and response.location.endswith(base() + "/exchange")
    assert fresh(OLD_ID).status == GatewayStatus.ACTIVE
    assert "すでに登録されている" in owner_client.get(base() + "/exchange").get_data(as_text=True)


def confirm_exchange(client, gateway_id=OLD_ID):
    token = csrf_from(client.get("/account/settings").get_data(as_text=True))
    return client.post(base(gateway_id) + "/exchange/confirm", data={"csrf_token": token})


@pytest.mark.parametrize("forged", [
    {"from": OLD_ID, "to": NEW_ID, "at": 4102444800},  # what the session used to hold
    "not-a-check-that-exists",
])
def test_session_data_alone_cannot_exchange(owner, owner_client, forged):
    owned_gateway(owner)
    owned_gateway(None, NEW_ID)  # nobody typed its slip password
    with owner_client.session_transaction() as session:
        session["gateway_exchange"] = forged
    page = owner_client.get(base() + "/exchange/confirm")
    assert page.status_code == 303 and page.location.endswith(base() + "/exchange")
    with owner_client.session_transaction() as session:
        session["gateway_exchange"] = forged
    response = confirm_exchange(owner_client)
    assert response.status_code == 303 and response.location.endswith(base() + "/exchange")
    assert fresh(NEW_ID).status == GatewayStatus.UNREGISTERED
    assert fresh(OLD_ID).status == GatewayStatus.ACTIVE
    assert "もう一度入力してください" in owner_client.get(base() + "/exchange").get_data(as_text=True)


def test_another_owners_check_cannot_be_replayed(app, owner, owner_client):
    owned_gateway(owner)
    owned_gateway(None, NEW_ID)
    other = make_account(OTHER)
    owned_gateway(other, "05AA00000001")
    other_client = app.test_client()
    assert login(other_client, email=OTHER).status_code in (302, 303)
    assert exchange(other_client, gateway_id="05AA00000001").status_code == 303
    with other_client.session_transaction() as session:
        their_check = session["gateway_exchange"]
    with owner_client.session_transaction() as session:
        session["gateway_exchange"] = their_check
    assert confirm_exchange(owner_client).location.endswith(base() + "/exchange")
    assert fresh(NEW_ID).status == GatewayStatus.UNREGISTERED
    # Theirs still works, once; a replay of it after that finds nothing.
    assert confirm_exchange(other_client, "05AA00000001").location.endswith(base(NEW_ID))
    with other_client.session_transaction() as session:
        session["gateway_exchange"] = their_check
    assert other_client.get(base("05AA00000001") + "/exchange/confirm").status_code == 404
    assert actions().count("gateway.exchange") == 1


def test_a_slip_reissued_or_a_check_gone_stale_cannot_be_confirmed(owner, owner_client):
    from blueprints.account.services import hash_password
    from models.wizard import WizardDraft

    owned_gateway(owner)
    owned_gateway(None, NEW_ID)
    assert exchange(owner_client).status_code == 303
    reissued = fresh(NEW_ID)
    reissued.slip_password_hash = hash_password("a-new-slip-pass")
    db.session.commit()
    response = confirm_exchange(owner_client)
    assert response.location.endswith(base() + "/exchange")
    assert fresh(NEW_ID).status == GatewayStatus.UNREGISTERED
    # A check older than 15 minutes is no check either.
    owned_gateway(None, "04GH33334444")
    assert exchange(owner_client, new_id="04GH33334444").status_code == 303
    db.session.execute(update(WizardDraft).values(updated_at=utcnow() - timedelta(minutes=16)))
    db.session.commit()
    assert confirm_exchange(owner_client).location.endswith(base() + "/exchange")
    assert fresh("04GH33334444").status == GatewayStatus.UNREGISTERED
    assert fresh(OLD_ID).status == GatewayStatus.ACTIVE


def test_concurrent_exchanges_onto_one_slip_only_one_wins(make_app):
    app = make_app()
    with app.app_context():
        owners = [make_account(f"owner{n}@example.com") for n in range(2)]
        owner_ids = {owner.id for owner in owners}
        ids = ["05AA00000001", "05AA00000002"]
        for owner, gateway_id in zip(owners, ids):
            owned_gateway(owner, gateway_id)
        owned_gateway(None, NEW_ID)
        clients, tokens = [], []
        for n, gateway_id in enumerate(ids):
            client = app.test_client()
            assert login(client, email=f"owner{n}@example.com").status_code in (302, 303)
            assert exchange(client, gateway_id=gateway_id).status_code == 303
            page = client.get(base(gateway_id) + "/exchange/confirm")
            assert page.status_code == 200
            clients.append(client)
            tokens.append(csrf_from(page.get_data(as_text=True)))
        db.session.commit()

    def confirm(n):
        with app.app_context():
            response = clients[n].post(base(ids[n]) + "/exchange/confirm",
                                       data={"csrf_token": tokens[n]})
            return response.status_code, response.location

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(confirm, range(2)))
    assert all(status == 303 for status, _location in results)
    winners = [location for _status, location in results if location.endswith(base(NEW_ID))]
    assert len(winners) == 1
    with app.app_context():
        new = fresh(NEW_ID)
        assert new.owner_id in owner_ids
        statuses = sorted(fresh(gateway_id).status for gateway_id in ids)
        assert statuses == [GatewayStatus.ACTIVE, GatewayStatus.RETIRED]
        assert actions().count("gateway.exchange") == 1


# -- 廃棄 ------------------------------------------------------------------------------
def test_dispose_needs_the_check_box(owner, owner_client):
    owned_gateway(owner)
    page = owner_client.get(base() + "/dispose").get_data(as_text=True)
    assert "廃棄する" in page and "案件90051" in page and "販売店との連携" in page
    response = post(owner_client, base() + "/dispose", {})
    assert response.status_code == 422
    assert "チェックを入れてください" in response.get_data(as_text=True)
    assert fresh(OLD_ID).status == GatewayStatus.ACTIVE


def test_dispose_retires_clears_and_unlinks(owner, owner_client):
    gateway = owned_gateway(owner)
    dealer = make_dealer(1)
    assert link_dealer(owner, gateway, dealer.dealer_code, dealer.phone).value == "linked"
    token = csrf_from(owner_client.get(base() + "/dispose").get_data(as_text=True))
    response = owner_client.post(base() + "/dispose", data={"confirm": "y", "csrf_token": token})
    assert response.status_code == 303 and response.location.endswith("/monitoring/")
    gateway = fresh(OLD_ID)
    assert gateway.status == GatewayStatus.RETIRED and gateway.retired_at is not None
    assert gateway.owner_id is None and gateway.site_name is None
    assert gateway.postal_code is None and gateway.street is None
    assert db.session.scalar(select(func.count()).select_from(DealerLink)) == 0
    assert owner_client.get(base()).status_code == 404
    # Double submit: the second one finds nothing to dispose of.
    again = owner_client.post(base() + "/dispose", data={"confirm": "y", "csrf_token": token})
    assert again.status_code == 404
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "gateway.dispose"))
    assert event.actor_id == owner.id and event.detail == {"gateway_id": OLD_ID,
                                                           "dealer_links": 1}
    assert actions().count("gateway.dispose") == 1
