"""What linked dealers are told when their customer exchanges or disposes of a gateway:
a mail to each dealer's maintenance contacts, written to the outbox in the same
transaction as the change (none when the change does not happen), delivered over SMTP,
naming the gateway ID(s), the site, its address and what happened."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from blueprints.dealers.services import link_dealer
from mail.relay import deliver_pending
from models import db
from models.gateway import DealerLink, GatewayStatus
from tests.conftest import SmtpServer, csrf_from
from tests.flows.test_gateway_manage import (NEW_ID, OLD_ID, OTHER, OWNER, base, exchange,
                                             fresh, make_dealer, owned_gateway, post)
from tests.flows.test_gateway_manage import owner, owner_client  # noqa: F401 (fixtures)
from tests.flows.test_slips import make_account
from tests.helpers import login, outbox


@pytest.fixture
def mailing_owner_client(smtp_app):
    """An owner signed in on an app whose relay delivers to the loopback SMTP server."""
    account = make_account(OWNER)
    client = smtp_app.test_client()
    assert login(client, email=OWNER).status_code in (302, 303)
    return account, client


def _dealer_mails(kind: str) -> list[str]:
    return sorted(mail.recipient for mail in outbox(kind=kind))


def test_exchange_tells_each_linked_dealer_in_one_transaction(mailing_owner_client, smtp):
    owner, client = mailing_owner_client
    owned_gateway(owner)
    owned_gateway(None, NEW_ID)
    linked = [make_dealer(1), make_dealer(2)]
    make_dealer(3)  # a dealer of other gateways only: told nothing
    for dealer in linked:
        assert link_dealer(owner, fresh(OLD_ID), dealer.dealer_code, dealer.phone).value == "linked"
    assert exchange(client).status_code == 303
    confirm = client.get(base() + "/exchange/confirm").get_data(as_text=True)
    assert "ゲートウェイを交換したことをメールでお知らせします" in confirm
    assert _dealer_mails("dealer_gateway_exchanged") == []  # nothing happened yet
    assert post(client, base() + "/exchange/confirm", {}).status_code == 303

    assert _dealer_mails("dealer_gateway_exchanged") == [
        "maint1@dealer1.example", "maint2@dealer2.example"]
    assert deliver_pending() == 4  # the two link mails and the two exchange mails
    [message] = [m for m in smtp.to("maint2@dealer2.example") if "交換" in m["Subject"]]
    assert message["Subject"] == f"【Enelink】保守中のゲートウェイが交換されました（{OLD_ID}）"
    assert message.get_body(preferencelist=("html",)) is not None
    body = SmtpServer.text_of(message)
    for expected in ("販売店2株式会社 御中", "鈴木 一郎 様", "4002", f"交換前のゲートウェイID: {OLD_ID}",
                     f"新しいゲートウェイID: {NEW_ID}", "案件90051",
                     "〒541-0055 大阪府 大阪市中央区 船場中央1-4-5", "新しいゲートウェイに引き継がれました",
                     "交換日時"):
        assert expected in body
    assert smtp.to("maint3@dealer3.example") == []
    # The links the mails speak of did move: the dealer now sees the new gateway.
    assert {link.gateway_id for link in db.session.scalars(select(DealerLink))} == {
        fresh(NEW_ID).id}


def test_exchange_that_fails_mails_no_dealer(owner, owner_client):
    owned_gateway(owner)
    owned_gateway(None, NEW_ID)
    dealer = make_dealer(1)
    assert link_dealer(owner, fresh(OLD_ID), dealer.dealer_code, dealer.phone).value == "linked"
    assert exchange(owner_client).status_code == 303
    token = csrf_from(owner_client.get(base() + "/exchange/confirm").get_data(as_text=True))
    taken = fresh(NEW_ID)
    taken.owner_id, taken.status = make_account(OTHER).id, GatewayStatus.ACTIVE
    db.session.commit()
    response = owner_client.post(base() + "/exchange/confirm", data={"csrf_token": token})
    assert response.status_code == 303 and response.location.endswith(base() + "/exchange")
    assert _dealer_mails("dealer_gateway_exchanged") == []


def test_dispose_tells_each_linked_dealer_what_is_gone(mailing_owner_client, smtp):
    owner, client = mailing_owner_client
    owned_gateway(owner)
    for dealer in (make_dealer(1), make_dealer(2)):
        assert link_dealer(owner, fresh(OLD_ID), dealer.dealer_code, dealer.phone).value == "linked"
    page = client.get(base() + "/dispose").get_data(as_text=True)
    assert "ゲートウェイを廃棄したことをメールでお知らせします" in page
    assert post(client, base() + "/dispose", {"confirm": "y"}).status_code == 303

    assert _dealer_mails("dealer_gateway_disposed") == [
        "maint1@dealer1.example", "maint2@dealer2.example"]
    assert deliver_pending() == 4
    [message] = [m for m in smtp.to("maint1@dealer1.example") if "廃棄" in m["Subject"]]
    assert message["Subject"] == f"【Enelink】保守中のゲートウェイが廃棄されました（{OLD_ID}）"
    assert message.get_body(preferencelist=("html",)) is not None
    body = SmtpServer.text_of(message)
    # The site and address are named although the disposal cleared them from the gateway.
    for expected in ("販売店1株式会社 御中", "鈴木 一郎 様", "4001", f"ゲートウェイID: {OLD_ID}",
                     "案件90051", "〒541-0055 大阪府 大阪市中央区 船場中央1-4-5",
                     "保守の登録は終了しました", "廃棄日時"):
        assert expected in body
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "案件90051" in html and "541-0055" in html
    assert fresh(OLD_ID).site_name is None


def test_dispose_without_dealers_and_refused_dispose_mail_nobody(owner, owner_client):
    owned_gateway(owner)
    page = owner_client.get(base() + "/dispose").get_data(as_text=True)
    assert "メールでお知らせします" not in page
    assert post(owner_client, base() + "/dispose", {}).status_code == 422
    assert post(owner_client, base() + "/dispose", {"confirm": "y"}).status_code == 303
    assert outbox() == []


def test_account_deletion_tells_each_linked_dealer_that_the_link_ended(owner_client, owner):
    """The owner's deletion releases the gateway and drops its links: each linked dealer
    gets the same notice as when the owner unlinks it; other dealers get nothing."""
    owned_gateway(owner)
    linked = [make_dealer(1), make_dealer(2)]
    make_dealer(3)
    for dealer in linked:
        assert link_dealer(owner, fresh(OLD_ID), dealer.dealer_code, dealer.phone).value == "linked"
    token = csrf_from(owner_client.get("/account/delete").get_data(as_text=True))
    from tests.helpers import PASSWORD

    response = owner_client.post("/account/delete", data={
        "csrf_token": token, "password": PASSWORD, "confirm": "y"})
    assert response.status_code == 303
    mails = outbox(kind="dealer_unlinked")
    assert len(mails) == len(linked) and all(OLD_ID in mail.text_body for mail in mails)
    assert db.session.scalar(select(DealerLink.id)) is None
