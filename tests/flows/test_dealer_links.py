"""Dealers and maintenance links: becoming a dealer, linking by 販売店ID + phone (at most 5
per gateway, also under concurrency), unlinking, the mails, the console listing and
what an account deletion releases."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from blueprints.account.services import delete_account, hash_password
from blueprints.dealers.services import (InvalidDealerPhone, LinkResult, become_dealer,
                                         dealer_gateways, find_dealer, link_dealer,
                                         linked_dealers, unlink_dealer)
from mail.relay import deliver_pending
from models import db, utcnow
from models.account import Account, AccountType, Company, CompanyRole
from models.audit import AuditEvent
from models.gateway import Dealer, DealerContact, DealerLink, Gateway, GatewayStatus
from tests.conftest import SmtpServer
from tests.helpers import PASSWORD, outbox

_HASH = None


def _password_hash() -> str:
    global _HASH
    if _HASH is None:
        _HASH = hash_password(PASSWORD)
    return _HASH


def make_owner(email="owner@example.com", family_name="山田", given_name="太郎") -> Account:
    now = utcnow()
    account = Account(email=email, password_hash=_password_hash(), family_name=family_name,
                      given_name=given_name, account_type=AccountType.PERSONAL,
                      activated_at=now, terms_accepted_at=now, privacy_accepted_at=now,
                      postal_code="1030026", prefecture="東京都", city="中央区",
                      street="日本橋兜町2-1")
    db.session.add(account)
    db.session.commit()
    return account


def make_company(n: int = 1, email: str | None = None) -> Company:
    now = utcnow()
    company = Company(name=f"販売店{n}株式会社", kind="dealer", postal_code="1030026",
                      prefecture="東京都", city="中央区", street="日本橋兜町1-1",
                      email=email or f"info{n}@dealer{n}.example", phone="0312345678")
    admin = Account(email=f"admin{n}@dealer{n}.example", password_hash=_password_hash(),
                    family_name="佐藤", given_name="花子",
                    account_type=AccountType.COMMERCIAL, company_role=CompanyRole.ADMIN,
                    activated_at=now, terms_accepted_at=now, privacy_accepted_at=now)
    admin.company = company
    db.session.add(admin)
    db.session.commit()
    return company


def make_dealer(n: int = 1, phone: str | None = None, contacts=None) -> Dealer:
    phone = phone or f"0901234{n:04d}"
    contacts = [f"maint{n}@dealer{n}.example"] if contacts is None else contacts
    return become_dealer(make_company(n), phone, contacts)


def make_gateway(owner: Account | None, gateway_id="01AB12345678", site="案件90051",
                 status=GatewayStatus.ACTIVE) -> Gateway:
    gateway = Gateway(gateway_id=gateway_id, slip_password_hash="x", model="GW-M001",
                      status=status, owner_id=owner.id if owner else None, site_name=site,
                      postal_code="5410055", prefecture="大阪府", city="大阪市中央区",
                      street="船場中央1-4-5", registered_at=utcnow())
    db.session.add(gateway)
    db.session.commit()
    return gateway


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _actions() -> list[str]:
    return [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


# -- becoming a dealer -----------------------------------------------------------------
def test_become_dealer_allocates_increasing_codes_and_normalises(app):
    first = become_dealer(make_company(1), "０９０－１２３４－５６７８",
                          ["Maint@Dealer.EXAMPLE", "maint@dealer.example", " ", "b@x.example"])
    second = become_dealer(make_company(2), "03-1234-5678", [])
    assert (first.dealer_code, second.dealer_code) == ("4001", "4002")
    assert first.phone == "09012345678"
    assert [c.email for c in first.contacts] == ["Maint@dealer.example", "b@x.example"]
    assert "dealer.create" in _actions()


def test_become_dealer_is_idempotent_and_updates(app):
    company = make_company(1)
    dealer = become_dealer(company, "09012345678", ["a@x.example", "b@x.example"])
    again = become_dealer(company, "0312345678", ["b@x.example", "c@x.example"])
    assert again.id == dealer.id and again.dealer_code == "4001"
    assert again.phone == "0312345678"
    assert sorted(c.email for c in again.contacts) == ["b@x.example", "c@x.example"]
    assert _count(Dealer) == 1 and _count(DealerContact) == 2


def test_become_dealer_refuses_a_bad_phone(app):
    with pytest.raises(InvalidDealerPhone):
        become_dealer(make_company(1), "12345", [])
    assert _count(Dealer) == 0


def test_concurrent_become_dealer_gets_unique_codes(make_app):
    app = make_app()
    with app.app_context():
        company_ids = [make_company(n).id for n in range(10)]
        db.session.commit()

    def one(company_id):
        with app.app_context():
            try:
                return become_dealer(db.session.get(Company, company_id), "0312345678",
                                     []).dealer_code
            finally:
                db.session.remove()

    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(one, company_ids))
    assert sorted(codes) == [str(4001 + i) for i in range(10)]


# -- finding a dealer ------------------------------------------------------------------
def test_find_dealer_needs_code_and_phone(app):
    dealer = make_dealer(1, phone="09099999999")
    assert find_dealer("4001", "090-9999-9999").id == dealer.id
    assert find_dealer(" ４００１ ", "０９０（９９９９）９９９９").id == dealer.id
    assert find_dealer("4001", "09099999998") is None
    assert find_dealer("4002", "09099999999") is None
    assert find_dealer("", "") is None


# -- linking ---------------------------------------------------------------------------
def test_link_outcomes(app):
    owner = make_owner()
    gateway = make_gateway(owner)
    dealer = make_dealer(1, phone="09099999999")
    assert link_dealer(owner, gateway, "4001", "09099999998") is LinkResult.NO_SUCH_DEALER
    assert link_dealer(owner, gateway, "9999", "09099999999") is LinkResult.NO_SUCH_DEALER
    assert link_dealer(owner, gateway, "４００１", "090-9999-9999") is LinkResult.LINKED
    assert link_dealer(owner, gateway, "4001", "09099999999") is LinkResult.ALREADY_LINKED
    assert [d.dealer.id for d in linked_dealers(gateway)] == [dealer.id]
    assert linked_dealers(gateway)[0].company.name == "販売店1株式会社"
    link = db.session.scalars(select(DealerLink)).one()
    assert link.linked_by_id == owner.id
    assert "dealer.link" in _actions()


def test_another_owners_gateway_is_not_found(app):
    owner, other = make_owner(), make_owner("other@example.com")
    gateway = make_gateway(other)
    make_dealer(1, phone="09099999999")
    assert link_dealer(owner, gateway, "4001", "09099999999") is LinkResult.NOT_FOUND
    assert _count(DealerLink) == 0


@pytest.mark.parametrize("status", [GatewayStatus.UNREGISTERED, GatewayStatus.RETIRED])
def test_gateway_out_of_service_is_not_found(app, status):
    owner = make_owner()
    gateway = make_gateway(owner, status=status)
    make_dealer(1, phone="09099999999")
    assert link_dealer(owner, gateway, "4001", "09099999999") is LinkResult.NOT_FOUND


def test_provisional_gateway_can_be_linked(app):
    owner = make_owner()
    gateway = make_gateway(owner, status=GatewayStatus.PROVISIONAL)
    make_dealer(1, phone="09099999999")
    assert link_dealer(owner, gateway, "4001", "09099999999") is LinkResult.LINKED


def test_at_most_five_dealers(app):
    owner = make_owner()
    gateway = make_gateway(owner)
    dealers = [make_dealer(n) for n in range(1, 7)]
    results = [link_dealer(owner, gateway, d.dealer_code, d.phone) for d in dealers]
    assert results == [LinkResult.LINKED] * 5 + [LinkResult.LIMIT_REACHED]
    assert unlink_dealer(owner, gateway, dealers[0])
    assert link_dealer(owner, gateway, dealers[5].dealer_code,
                       dealers[5].phone) is LinkResult.LINKED
    assert _count(DealerLink) == 5


def test_twenty_concurrent_links_leave_exactly_five(make_app):
    app = make_app()
    with app.app_context():
        owner_id = make_owner().id
        gateway_id = make_gateway(db.session.get(Account, owner_id)).id
        credentials = [(d.dealer_code, d.phone) for d in (make_dealer(n) for n in range(20))]
        db.session.commit()

    def one(code_phone):
        with app.app_context():
            try:
                owner = db.session.get(Account, owner_id)
                gateway = db.session.get(Gateway, gateway_id)
                return link_dealer(owner, gateway, *code_phone)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, credentials))
    assert results.count(LinkResult.LINKED) == 5
    assert results.count(LinkResult.LIMIT_REACHED) == 15
    with app.app_context():
        assert _count(DealerLink, DealerLink.gateway_id == gateway_id) == 5
        assert len(outbox(kind="dealer_linked")) == 5


# -- unlinking -------------------------------------------------------------------------
def test_unlink(app):
    owner, other = make_owner(), make_owner("other@example.com")
    gateway = make_gateway(owner)
    dealer = make_dealer(1)
    assert unlink_dealer(owner, gateway, dealer) is False  # no such link
    link_dealer(owner, gateway, dealer.dealer_code, dealer.phone)
    assert unlink_dealer(other, gateway, dealer) is False  # not the owner
    assert _count(DealerLink) == 1
    assert unlink_dealer(owner, gateway, dealer) is True
    assert _count(DealerLink) == 0
    assert linked_dealers(gateway) == []
    assert "dealer.unlink" in _actions()
    assert len(outbox(kind="dealer_unlinked")) == 1


# -- mails -----------------------------------------------------------------------------
def test_link_mails_go_to_contacts_and_arrive(smtp_app, smtp):
    owner = make_owner()
    gateway = make_gateway(owner, site="案件90051")
    dealer = make_dealer(1, phone="09099999999",
                         contacts=["a@dealer1.example", "b@dealer1.example"])
    assert link_dealer(owner, gateway, "4001", "09099999999") is LinkResult.LINKED
    assert sorted(m.recipient for m in outbox(kind="dealer_linked")) == [
        "a@dealer1.example", "b@dealer1.example"]
    assert deliver_pending() == 2
    [message] = smtp.to("a@dealer1.example")
    assert message["Subject"] == "【Enelink】保守契約の販売店として登録されました"
    assert message.get_body(preferencelist=("html",)) is not None
    body = SmtpServer.text_of(message)
    for expected in ("販売店1株式会社 御中", "山田 太郎", "4001", "01AB12345678", "案件90051"):
        assert expected in body

    assert unlink_dealer(owner, gateway, dealer)
    assert deliver_pending() == 2
    unlinked = [m for m in smtp.to("b@dealer1.example") if "解除されました" in m["Subject"]]
    assert len(unlinked) == 1
    body = SmtpServer.text_of(unlinked[0])
    for expected in ("山田 太郎", "4001", "01AB12345678", "案件90051"):
        assert expected in body


def test_link_mail_goes_to_the_company_without_contacts(smtp_app, smtp):
    owner = make_owner()
    gateway = make_gateway(owner)
    make_dealer(1, phone="09099999999", contacts=[])
    assert link_dealer(owner, gateway, "4001", "09099999999") is LinkResult.LINKED
    assert [m.recipient for m in outbox(kind="dealer_linked")] == ["info1@dealer1.example"]
    assert deliver_pending() == 1
    assert len(smtp.to("info1@dealer1.example")) == 1


def test_refused_link_mails_nothing(app):
    owner = make_owner()
    gateway = make_gateway(owner)
    make_dealer(1, phone="09099999999")
    link_dealer(owner, gateway, "4001", "0000")
    assert outbox() == []


# -- the dealer's list -----------------------------------------------------------------
def test_dealer_gateways_search_and_pages(app):
    dealer = make_dealer(1)
    owners = [make_owner(f"Owner{i}@Example.com") for i in range(25)]
    for i, owner in enumerate(owners):
        gateway = make_gateway(owner, gateway_id=f"01AB{i:08d}", site=f"案件{i:03d}")
        assert link_dealer(owner, gateway, dealer.dealer_code, dealer.phone) is LinkResult.LINKED
    other_dealer = make_dealer(2)
    stranger = make_owner("stranger@example.com")
    link_dealer(stranger, make_gateway(stranger, gateway_id="99ZZ00000000"),
                other_dealer.dealer_code, other_dealer.phone)

    first = dealer_gateways(dealer)
    assert (first.total, first.pages, len(first.items)) == (25, 2, 20)
    assert first.items[0].gateway.gateway_id == "01AB00000024"  # newest link first
    assert first.has_next and not first.has_prev
    second = dealer_gateways(dealer, page=2)
    assert [i.gateway.gateway_id for i in second.items] == [
        f"01AB{i:08d}" for i in range(4, -1, -1)]
    assert not second.has_next

    assert [i.owner.email for i in dealer_gateways(dealer, "owner7@example.COM").items] == [
        "Owner7@Example.com"]
    assert [i.gateway.gateway_id for i in dealer_gateways(dealer, "01ab00000003").items] == [
        "01AB00000003"]
    assert [i.gateway.site_name for i in dealer_gateways(dealer, "案件012").items] == ["案件012"]
    assert dealer_gateways(dealer, "99ZZ").total == 0  # another dealer's gateway
    assert dealer_gateways(dealer, "%").total == 0  # wildcards are literal
    assert dealer_gateways(dealer, "owner1", per_page=5).total == 11  # owner1, owner10-19


# -- account deletion ------------------------------------------------------------------
def test_account_deletion_releases_gateways_and_links(app):
    owner, other = make_owner(), make_owner("other@example.com")
    gateway = make_gateway(owner)
    retired = make_gateway(owner, gateway_id="01AB00000001", status=GatewayStatus.RETIRED)
    kept = make_gateway(other, gateway_id="01AB00000002")
    dealer = make_dealer(1)
    link_dealer(owner, gateway, dealer.dealer_code, dealer.phone)
    link_dealer(other, kept, dealer.dealer_code, dealer.phone)
    gateway_pk, retired_pk = gateway.id, retired.id

    assert delete_account(owner, PASSWORD)

    db.session.expire_all()
    released = db.session.get(Gateway, gateway_pk)
    assert released.owner_id is None and released.status == GatewayStatus.UNREGISTERED
    assert released.site_name is None and released.address == ""
    assert released.registered_at is None
    assert released.slip_password_hash == "x"  # registrable again with its slip
    still_retired = db.session.get(Gateway, retired_pk)
    assert still_retired.owner_id is None and still_retired.status == GatewayStatus.RETIRED
    assert [link.gateway_id for link in db.session.scalars(select(DealerLink))] == [kept.id]
    assert "gateway.release" in _actions()


def test_deleting_the_last_member_of_a_dealer_company_removes_the_dealer(app):
    owner = make_owner()
    gateway = make_gateway(owner)
    dealer = make_dealer(1)
    link_dealer(owner, gateway, dealer.dealer_code, dealer.phone)
    admin = db.session.scalar(select(Account).where(Account.email == "admin1@dealer1.example"))
    assert delete_account(admin, PASSWORD)
    assert _count(Dealer) == 0 and _count(DealerLink) == 0 and _count(DealerContact) == 0
