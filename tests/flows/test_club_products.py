"""Owners club products (issue 11, first section; seed 003-14…16, 003-20/21, 000-77): the
staff catalogue and 運転開始日, product registration and edit with bad input, gateway
products that appear by themselves and follow exchange / disposal / another owner,
warranty on the page, subscriptions with confirmation and dates, the 7:00-next-day rule,
and other owners' product ids."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from blueprints.account.services import delete_account
from blueprints.club import products
from blueprints.core import registry
from blueprints.core.staff import SLIPS
from blueprints.gateways.catalogue import model_for_code
from blueprints.gateways.management import dispose_gateway
from models import JST, db, utcnow
from models.audit import AuditEvent
from models.club import Product, ProductSubscription
from models.gateway import Gateway, GatewayStatus, PcsUnit, SystemModel
from tests.conftest import csrf_from
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.helpers import HX, PASSWORD, login, make_staff

GOOD = {"model_id": "", "system_serial": "hc-a10001wn1", "remote_serial": "",
        "postal_code": "103-0026", "installed_on": "2024-04-27"}


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _audits(action: str) -> int:
    return _count(AuditEvent, AuditEvent.action == action)


def _model(code="GW-M001") -> SystemModel:
    products.offered_models()  # fills the catalogue from config
    return db.session.scalar(select(SystemModel).where(SystemModel.code == code))


def _signed_in(app, email="owner@example.com"):
    client = app.test_client()
    assert login(client, email).status_code == 303
    return client


def _post(client, url, data, headers=None, page=None):
    token = csrf_from(client.get(page or url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, headers=headers or {})


def _gateway_with_unit(owner, gateway_id="01AB12345678", model="GW-M001", serial="AB123456"):
    gateway = make_gateway(owner, gateway_id)
    gateway.model = model
    db.session.add(PcsUnit(gateway_id=gateway.id, unit_no=1, model="PCS-5K", serial=serial))
    db.session.commit()
    return gateway


# -- staff catalogue ------------------------------------------------------------------------
@pytest.fixture
def staff(app):
    account = make_owner("staff@example.com", "高橋", "美咲")
    make_staff(account, SLIPS)
    return _signed_in(app, "staff@example.com")


def test_staff_keep_the_catalogue(app, staff):
    page = staff.get("/staff/gateways/models")
    assert page.status_code == 200 and "GW-M001" in page.get_data(as_text=True)
    new = {"code": "ｇｗ-ｍ００９", "name": "新型蓄電システム", "storage_kwh": "9.8",
           "warranty_years": "12", "extension_years": "3", "manual_url": "example.jp/m.pdf",
           "offered": "y"}
    response = _post(staff, "/staff/gateways/models/new", new)
    assert response.status_code == 303
    model = _model("GW-M009")
    assert (model.name, model.storage_kwh, model.warranty_years, model.extension_years,
            model.manual_url, model.offered, model.eco_eligible) == (
        "新型蓄電システム", 9.8, 12, 3, "https://example.jp/m.pdf", True, False)
    assert _audits("catalogue.model_add") == 1
    # The code is unique, and the form says so next to the field.
    again = _post(staff, "/staff/gateways/models/new", {**new, "name": "別"})
    assert again.status_code == 422
    assert "この機種コードはすでに登録されています" in again.get_data(as_text=True)
    # Edit: no longer offered; owners no longer pick it.
    edit = _post(staff, f"/staff/gateways/models/{model.id}", {**new, "offered": ""})
    assert edit.status_code == 303
    db.session.expire_all()
    assert _model("GW-M009").offered is False
    assert "GW-M009" not in [m.code for m in products.offered_models()]
    assert _audits("catalogue.model_update") == 1
    assert staff.get("/staff/gateways/models/99999").status_code == 404


@pytest.mark.parametrize("field, value, message", [
    ("code", "M001", "GW-M と数字3桁"),
    ("code", "", "入力してください"),
    ("name", "", "入力してください"),
    ("name", "x" * 61, "60文字以内"),
    ("name", "機種\x00", "使用できない文字"),
    ("storage_kwh", "-1", "蓄電容量"),
    ("warranty_years", "0", "1から30まで"),
    ("extension_years", "abc", "0から30まで"),
    ("manual_url", "javascript:alert(1)", "URLの形式"),
])
def test_catalogue_bad_input_is_refused_next_to_the_field(app, staff, field, value, message):
    data = {"code": "GW-M010", "name": "機種", "storage_kwh": "", "warranty_years": "10",
            "extension_years": "0", "manual_url": "", field: value}
    response = _post(staff, "/staff/gateways/models/new", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _count(SystemModel, SystemModel.code == "GW-M010") == 0


def test_staff_set_a_gateways_operation_start(app, staff):
    owner = make_owner()
    gateway = make_gateway(owner)
    found = staff.get("/staff/gateways/models?gateway_id=01ab-12345678")
    assert found.status_code == 303 and found.location.endswith("/staff/gateways/gateways/01AB12345678")
    assert staff.get("/staff/gateways/models?gateway_id=ZZZZZZZZZZZZ").status_code == 422
    url = "/staff/gateways/gateways/01AB12345678"
    assert _post(staff, url, {"operation_started_on": "2099-01-01"}).status_code == 422
    assert _post(staff, url, {"operation_started_on": "1999-12-31"}).status_code == 422
    assert _post(staff, url, {"operation_started_on": "２０２４年４月１日"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Gateway, gateway.id).operation_started_on == date(2024, 4, 1)
    assert _audits("gateway.operation_start") == 1
    assert staff.get("/staff/gateways/gateways/NOSUCHGATEWA").status_code == 404


def test_catalogue_pages_are_staff_only(app, staff):
    make_owner()
    owner = _signed_in(app)
    model = model_for_code("GW-M001")
    for path in ("/staff/gateways/models", "/staff/gateways/models/new",
                 f"/staff/gateways/models/{model.id}"):
        assert owner.get(path).status_code == 404
        assert app.test_client().get(path).status_code == 302
    assert _post(owner, "/staff/gateways/models/new", {"code": "GW-M011", "name": "x"},
                 page="/club/mypage").status_code == 404


# -- registering products -------------------------------------------------------------------
@pytest.fixture
def owner_client(app):
    make_owner()
    return _signed_in(app)


def _good(**overrides):
    return {**GOOD, "model_id": str(_model().id), **overrides}


def test_owner_registers_a_product_and_sees_its_warranty(app, owner_client):
    today = datetime.now(timezone.utc).astimezone(JST).date()
    installed = today - timedelta(days=10)
    response = _post(owner_client, "/club/mypage/products/new",
                     _good(installed_on=installed.isoformat(), remote_serial="ｒｃ－００１２３４５"))
    assert response.status_code == 303
    product = db.session.scalar(select(Product))
    assert (product.system_serial, product.remote_serial, product.postal_code,
            product.installed_on) == ("HC-A10001WN1", "RC-0012345", "1030026", installed)
    assert _audits("product.register") == 1
    page = owner_client.get("/club/mypage").get_data(as_text=True)
    assert "HC-A10001WN1" in page and "103-0026" in page
    # GW-M001: 10 years + 5 for registering within 6 months.
    ends = date(installed.year + 15, installed.month, installed.day) - timedelta(days=1) \
        if not (installed.month == 2 and installed.day == 29) else date(installed.year + 15, 2, 28)
    assert f"{ends.year}年{ends.month}月{ends.day}日" in page
    assert "製品登録による5年延長を含みます" in page


def test_registration_through_htmx_answers_partials(app, owner_client):
    bad = _post(owner_client, "/club/mypage/products/new", _good(system_serial="あ"), HX)
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "<html" not in body and 'id="product-form"' in body
    assert "製造番号は半角英数字6〜20文字" in body
    good = _post(owner_client, "/club/mypage/products/new", _good(), HX)
    assert good.status_code == 200 and good.headers["HX-Redirect"].startswith("/club/mypage")
    assert _count(Product) == 1


@pytest.mark.parametrize("overrides, message", [
    ({"system_serial": ""}, "入力してください"),
    ({"system_serial": "AB12"}, "製造番号は半角英数字6〜20文字"),
    ({"system_serial": "A" * 21}, "製造番号は半角英数字6〜20文字"),
    ({"system_serial": "ABC\x00DEF"}, "使用できない文字"),
    ({"system_serial": "ＡＢ－－ＣＤＥＦ"}, "製造番号は半角英数字6〜20文字"),
    ({"system_serial": "x" * 5000}, "40文字以内"),
    ({"remote_serial": "リモコン123"}, "製造番号は半角英数字6〜20文字"),
    ({"postal_code": ""}, "入力してください"),
    ({"postal_code": "12345"}, "郵便番号は7桁"),
    ({"postal_code": "0000000"}, "この郵便番号は見つかりませんでした"),
    ({"installed_on": ""}, "入力してください"),
    ({"installed_on": "2099-01-01"}, "未来の日付は入力できません"),
    ({"installed_on": "1999-12-31"}, "2000年以降"),
    ({"installed_on": "2024-02-30"}, "日付は年・月・日"),
    ({"installed_on": "昨日"}, "日付は年・月・日"),
    ({"model_id": ""}, "選択してください"),
    ({"model_id": "99999"}, "一覧から選択してください"),
    ({"model_id": "1 OR 1=1"}, "一覧から選択してください"),
])
def test_bad_product_input_is_refused_and_kept(app, owner_client, overrides, message):
    response = _post(owner_client, "/club/mypage/products/new", _good(**overrides))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body
    assert _count(Product) == 0
    if overrides.get("postal_code") != "":
        assert "103-0026" in body or "1030026" in body or "postal_code" in overrides


def test_a_model_no_longer_offered_cannot_be_picked(app, owner_client):
    model = _model("GW-M003")
    model.offered = False
    db.session.commit()
    response = _post(owner_client, "/club/mypage/products/new", _good(model_id=str(model.id)))
    assert response.status_code == 422 and _count(Product) == 0


def test_postal_lookup_shows_the_area_with_and_without_javascript(app, owner_client):
    partial = owner_client.get("/club/mypage/postal-area?postal_code=１０３－００２６", headers=HX)
    assert partial.status_code == 200 and "中央区" in partial.get_data(as_text=True)
    assert owner_client.get("/club/mypage/postal-area?postal_code=103").status_code == 204
    plain = _post(owner_client, "/club/mypage/products/new", _good(lookup="1"))
    assert plain.status_code == 200 and "中央区" in plain.get_data(as_text=True)
    assert _count(Product) == 0


def test_edit_and_delete_a_product_registered_by_hand(app, owner_client):
    _post(owner_client, "/club/mypage/products/new", _good())
    product_id = db.session.scalar(select(Product.id))
    edit = f"/club/mypage/products/{product_id}/edit"
    assert "HC-A10001WN1" in owner_client.get(edit).get_data(as_text=True)
    assert _post(owner_client, edit, _good(installed_on="2099-01-01")).status_code == 422
    assert _post(owner_client, edit, _good(system_serial="ZX-999999")).status_code == 303
    assert db.session.get(Product, product_id, populate_existing=True).system_serial == "ZX-999999"
    delete = f"/club/mypage/products/{product_id}/delete"
    page = owner_client.get(delete)
    assert page.status_code == 200 and "元に戻せません" in page.get_data(as_text=True)
    assert _count(Product) == 1  # the confirmation page deletes nothing
    assert _post(owner_client, delete, {}).status_code == 303
    assert _count(Product) == 0 and _audits("product.delete") == 1
    assert _post(owner_client, delete, {}, page="/club/mypage").status_code == 404


def test_other_owners_product_ids_are_404(app, owner_client):
    _post(owner_client, "/club/mypage/products/new", _good())
    product_id = db.session.scalar(select(Product.id))
    make_owner("other@example.com", "佐藤", "次郎")
    intruder = _signed_in(app, "other@example.com")
    for path in (f"/club/mypage/products/{product_id}/edit",
                 f"/club/mypage/products/{product_id}/delete",
                 f"/club/mypage/products/{product_id}/services/watch",
                 f"/club/mypage/products/{product_id}/services/watch/done",
                 "/club/mypage/products/99999/edit",
                 f"/club/mypage/products/{product_id}/services/nonsense"):
        assert intruder.get(path).status_code == 404, path
        response = _post(intruder, path, _good(state="in", step="confirm"), page="/club/mypage")
        assert response.status_code in (404, 405), path
    assert _count(Product) == 1 and _count(ProductSubscription) == 0
    assert "HC-A10001WN1" not in intruder.get("/club/mypage").get_data(as_text=True)


# -- gateway products -------------------------------------------------------------------------
def test_a_registered_gateway_appears_as_a_product(app):
    owner = make_owner()
    gateway = _gateway_with_unit(owner)
    gateway.operation_started_on = date(2024, 4, 1)
    db.session.commit()
    client = _signed_in(app)
    page = client.get("/club/mypage").get_data(as_text=True)
    assert "AB123456" in page and "541-0055" in page and "01AB12345678" in page
    assert "ハイブリッド蓄電システム 7.4kWh" in page
    assert client.get("/club/mypage").status_code == 200
    assert _count(Product) == 1  # idempotent
    product = db.session.scalar(select(Product))
    assert product.gateway_id == gateway.id and product.registered_at == gateway.registered_at
    # Its 運転開始日 is the gateway's; editing it edits the gateway.
    edit = f"/club/mypage/products/{product.id}/edit"
    assert _post(client, edit, {"remote_serial": "RC-777777",
                                "installed_on": "2024-05-01"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Gateway, gateway.id).operation_started_on == date(2024, 5, 1)
    assert db.session.get(Product, product.id).remote_serial == "RC-777777"
    # A gateway's product is deleted with the gateway, not here.
    assert client.get(f"/club/mypage/products/{product.id}/delete").status_code == 404


def test_a_gateway_of_an_unknown_model_still_shows(app):
    owner = make_owner()
    _gateway_with_unit(owner, model="GW-M777")
    page = _signed_in(app).get("/club/mypage").get_data(as_text=True)
    assert "不明な機種（GW-M777）" in page
    assert "機種がカタログにないため、保証期限を表示できません" in page


def test_gateway_product_follows_exchange_and_disposal(app):
    owner = make_owner()
    old = _gateway_with_unit(owner)
    old.operation_started_on = date(2023, 1, 1)
    db.session.commit()
    products.owner_products(owner)
    product_id = db.session.scalar(select(Product.id))
    new = make_gateway(None, "01AB99999999", status=GatewayStatus.UNREGISTERED)
    registry.gateway_event("exchanged", old.id, new.id, utcnow())
    new.owner_id, new.status = owner.id, GatewayStatus.ACTIVE
    old.status, old.owner_id = GatewayStatus.RETIRED, owner.id
    db.session.commit()
    [shown] = products.owner_products(owner)
    assert (shown.id, shown.gateway_id, shown.installed_on) == (product_id, "01AB99999999",
                                                                date(2023, 1, 1))
    assert dispose_gateway(owner, "01AB99999999")
    [shown] = products.owner_products(owner)
    assert shown.gateway_id is None and shown.installed_on == date(2023, 1, 1)


def test_a_gateway_now_someone_elses_is_not_shown_to_the_old_owner(app):
    """Decision: the product of a gateway that came to another owner (without the
    release hooks) disappears for the old owner, and the new owner takes the row over
    without the old owner's subscriptions."""
    owner = make_owner()
    gateway = _gateway_with_unit(owner)
    [shown] = products.owner_products(owner)
    products.change_subscription(owner, shown.id, "watch", True)
    other = make_owner("other@example.com", "佐藤", "次郎")
    gateway.owner_id = other.id
    db.session.commit()
    assert products.owner_products(owner) == []
    assert products.owned_product(owner, shown.id) is None
    [taken] = products.owner_products(other)
    assert taken.id == shown.id
    assert not any(item.subscribed for item in taken.subscriptions)


def test_account_deletion_removes_products(app):
    owner = make_owner()
    _gateway_with_unit(owner)
    products.owner_products(owner)
    products.register_product(owner, {"model_id": _model().id, "system_serial": "ABCDEF",
                                      "remote_serial": None, "postal_code": "1030026",
                                      "installed_on": date(2024, 1, 1)})
    [first, _second] = products.owner_products(owner)
    products.change_subscription(owner, first.id, "watch", True)
    assert delete_account(owner, PASSWORD)
    assert _count(Product) == 0 and _count(ProductSubscription) == 0


# -- subscriptions ----------------------------------------------------------------------------
def test_subscribe_with_confirmation_and_double_submit(app):
    owner = make_owner()
    _gateway_with_unit(owner)
    client = _signed_in(app)
    client.get("/club/mypage")
    product_id = db.session.scalar(select(Product.id))
    url = f"/club/mypage/products/{product_id}/services/watch"
    assert "未加入" in client.get(url).get_data(as_text=True)
    confirm = _post(client, url, {"state": "in"})
    assert confirm.status_code == 200 and "変更内容の確認" in confirm.get_data(as_text=True)
    assert _count(ProductSubscription) == 0  # nothing changes before 変更する
    done = _post(client, url, {"state": "in", "step": "confirm"})
    assert done.status_code == 303 and done.location.endswith(f"{url}/done")
    assert "加入" in client.get(done.location).get_data(as_text=True)
    row = db.session.scalar(select(ProductSubscription))
    since = row.since
    assert row.subscribed and _audits("product.subscribe") == 1
    # The same state posted again changes nothing and keeps the date.
    assert _post(client, url, {"state": "in", "step": "confirm"}).status_code == 303
    db.session.expire_all()
    assert db.session.scalar(select(ProductSubscription)).since == since
    assert _audits("product.subscribe") == 1
    # 未加入, with its own date; the monitoring page stays the owner's.
    assert _post(client, url, {"state": "out", "step": "confirm"}, HX).headers["HX-Redirect"]
    row = db.session.scalar(select(ProductSubscription).execution_options(populate_existing=True))
    assert row.subscribed is False and row.since > since
    assert client.get("/monitoring/gateways/01AB12345678/monitor").status_code == 200
    # Bad input: no choice, a forged one, a forged service; all 4xx, nothing changes.
    assert _post(client, url, {"state": ""}).status_code == 422
    assert _post(client, url, {"state": "maybe", "step": "confirm"}).status_code == 422
    assert client.get(f"/club/mypage/products/{product_id}/services/x").status_code == 404
    # A control service: 加入 with its date.
    _post(client, f"/club/mypage/products/{product_id}/services/ai",
          {"state": "in", "step": "confirm"})
    page = client.get("/club/mypage").get_data(as_text=True)
    assert "AI自動制御: <strong>加入</strong>" in page


def test_unsubscribing_what_was_never_subscribed_changes_nothing(app):
    owner = make_owner()
    _gateway_with_unit(owner)
    [shown] = products.owner_products(owner)
    assert products.change_subscription(owner, shown.id, "weather", False) \
        is products.SubscriptionChange.UNCHANGED
    assert _count(ProductSubscription) == 0


def test_power_data_from_seven_the_next_day(app, monkeypatch):
    owner = make_owner()
    _gateway_with_unit(owner)
    [shown] = products.owner_products(owner)
    assert shown.power_data is products.PowerData.NOT_SUBSCRIBED
    # Subscribed at 23:30 JST on 1 June: from 7:00 JST on 2 June.
    since = datetime(2026, 6, 1, 23, 30, tzinfo=JST)
    products.change_subscription(owner, shown.id, "watch", True, now=since)
    before = datetime(2026, 6, 2, 6, 59, tzinfo=JST)
    at = datetime(2026, 6, 2, 7, 0, tzinfo=JST)
    [early] = products.owner_products(owner, now=before)
    assert early.power_data is products.PowerData.FROM
    assert early.power_data_from == at
    [ready] = products.owner_products(owner, now=at)
    assert ready.power_data is products.PowerData.AVAILABLE
    # A subscription at 0:30 JST (15:30 UTC the day before) counts on the Japanese day.
    assert products.power_data_from(datetime(2026, 6, 1, 15, 30, tzinfo=timezone.utc)) == \
        datetime(2026, 6, 3, 7, 0, tzinfo=JST)
    # The page with a frozen clock: before 7:00 it says from when, at 7:00 the link.
    client = _signed_in(app)
    monkeypatch.setattr(products, "utcnow", lambda: before)
    page = client.get("/club/mypage").get_data(as_text=True)
    assert "2026年06月02日 07:00からご利用いただけます" in page
    assert "/monitoring/gateways/01AB12345678/monitor" not in page
    monkeypatch.setattr(products, "utcnow", lambda: at)
    page = client.get("/club/mypage").get_data(as_text=True)
    assert 'href="/monitoring/gateways/01AB12345678/monitor"' in page


def test_mypage_shows_the_customer_number_and_a_manual_product_has_no_power_data(app):
    owner = make_owner()
    client = _signed_in(app)
    page = client.get("/club/mypage").get_data(as_text=True)
    assert owner.customer_number and owner.customer_number in page
    assert "ゲートウェイが登録されていません" in page
    assert "オーナーズクラブ" in client.get("/").get_data(as_text=True)


def test_dealer_partial_lists_products_read_only(app):
    from flask import render_template

    owner = make_owner()
    _gateway_with_unit(owner)
    listed = products.owner_products(owner)
    with app.test_request_context():
        html = render_template("club/_products.html", products=listed)
    assert "AB123456" in html and "見守りサービス: 未加入" in html
    assert "<form" not in html and "href" not in html
