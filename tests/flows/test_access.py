"""Who may open what (issues 3, 4 and 9): every page of gateway registration, gateway
management, monitoring, dealers, slips and a company's employees, as anonymous, owner,
another owner, linked dealer, unlinked dealer and staff. Anything not theirs is 404 (or
the sign-in page for anonymous visitors)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from blueprints.account.services import INVITATION
from blueprints.club.permissions import APPROVAL
from blueprints.core.links import issue_link
from blueprints.core.staff import ADMIN
from blueprints.dealers.services import become_dealer, link_dealer
from blueprints.gateways.catalogue import ensure_catalogue
from models import db, utcnow
from models.account import Account, AccountType, CompanyRole
from models.gateway import Dealer, SystemModel
from models.club import LoginPermission, PermissionState
from models.link import MailLink
from tests.flows.test_dealer_links import _password_hash, make_company, make_gateway, make_owner
from tests.helpers import login, make_staff

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
    # The employees of the linked dealer's company: only its administrator ("linked").
    "/account/settings/employees/EMPLOYEE/remove": dict(
        anonymous=302, owner=404, other=404, linked=200, unlinked=404, staff=404),
    "/account/settings/employees/EMPLOYEE/admin": dict(
        anonymous=302, owner=404, other=404, linked=200, unlinked=404, staff=404),
    "/account/settings/invitations/INVITATION/cancel": dict(
        anonymous=302, owner=404, other=404, linked=200, unlinked=404, staff=404),
    # -- club products (issue 11): product 1 is the owner's gateway product (made on the
    # owner's first visit, which comes before the other roles').
    "/club/mypage": dict(anonymous=302, owner=200, other=200, linked=200, unlinked=200,
                         staff=200),
    "/club/mypage/products/new": dict(anonymous=302, owner=200, other=200, linked=200,
                                      unlinked=200, staff=200),
    "/club/mypage/products/1/edit": dict(anonymous=302, owner=200, other=404, linked=404,
                                         unlinked=404, staff=404),
    "/club/mypage/products/1/delete": dict(anonymous=302, owner=404, other=404, linked=404,
                                           unlinked=404, staff=404),
    "/club/mypage/products/1/services/watch": dict(anonymous=302, owner=200, other=404,
                                                   linked=404, unlinked=404, staff=404),
    "/club/mypage/products/1/services/watch/done": dict(
        anonymous=302, owner=200, other=404, linked=404, unlinked=404, staff=404),
    "/staff/gateways/models": dict(anonymous=302, owner=404, other=404, linked=404,
                                   unlinked=404, staff=200),
    "/staff/gateways/models/new": dict(anonymous=302, owner=404, other=404, linked=404,
                                       unlinked=404, staff=200),
    "/staff/gateways/models/SYSTEMMODEL": dict(anonymous=302, owner=404, other=404, linked=404,
                                     unlinked=404, staff=200),
    f"/staff/gateways/gateways/{GATEWAY}": dict(anonymous=302, owner=404, other=404,
                                                linked=404, unlinked=404, staff=200),
    # -- club: dealer sign-up and the dealer info page --
    "/club/dealer/login": dict(anonymous=200, owner=302, other=302, linked=302, unlinked=302,
                               staff=302),
    "/club/dealer/signup": dict(anonymous=200, owner=200, other=200, linked=200, unlinked=200,
                                staff=200),
    "/club/dealer/signup/link/altered": dict(anonymous=404, owner=404, other=404, linked=404,
                                             unlinked=404, staff=404),
    "/club/dealer/signup/form/info": dict(anonymous=404, owner=404, other=404, linked=404,
                                          unlinked=404, staff=404),
    "/club/dealer/signup/done": dict(anonymous=302, owner=302, other=302, linked=302,
                                     unlinked=302, staff=302),
    "/club/dealer/info": dict(anonymous=302, owner=403, other=403, linked=200, unlinked=200,
                              staff=403),
    "/club/dealer/info/edit": dict(anonymous=302, owner=403, other=403, linked=200,
                                   unlinked=200, staff=403),
    # -- club: proxy login (every account sees its own アクセス履歴; the start page of a
    # forged お客様番号 is nobody's) --
    "/club/mypage/access-history": dict(anonymous=302, owner=200, other=200, linked=200,
                                        unlinked=200, staff=200),
    "/club/dealer/users/0000000000/proxy": dict(anonymous=302, owner=404, other=404,
                                                linked=404, unlinked=404, staff=404),
    # -- club: お客様情報, login permissions, 登録ユーザー一覧 --
    "/club/mypage/info": dict(anonymous=302, owner=200, other=200, linked=200, unlinked=200,
                              staff=200),
    "/club/mypage/info/edit": dict(anonymous=302, owner=200, other=200, linked=200,
                                   unlinked=200, staff=200),
    "/club/mypage/permissions/PERMISSION/withdraw": dict(
        anonymous=302, owner=200, other=404, linked=404, unlinked=404, staff=404),
    # The approval link mailed to the linked dealer's employee: for its company only.
    "/club/approvals/APPROVAL": dict(anonymous=302, owner=403, other=403, linked=200,
                                     unlinked=403, staff=403),
    "/club/dealer/users": dict(anonymous=302, owner=403, other=403, linked=200, unlinked=200,
                               staff=403),
    "/club/dealer/users/CUSTOMER": dict(anonymous=302, owner=403, other=403, linked=200,
                                        unlinked=404, staff=403),
    # >>> points sign-up (helper B)
    # Anonymous visitors give an address; signed-in IDs go to the wizard, which refuses
    # commercial IDs (403); the mail-first wizard needs an opened link (404 without);
    # お客様情報 is for members (the others are sent to the sign-up). The world's owner is
    # a points member (see the ledger's block below): their wizard sends them to /points/.
    "/points/signup": dict(anonymous=200, owner=303, other=303, linked=303, unlinked=303,
                           staff=303),
    "/points/signup/form/service": dict(anonymous=302, owner=302, other=200, linked=403,
                                        unlinked=403, staff=200),
    "/points/signup/form/pair": dict(anonymous=302, owner=302, other=303, linked=403,
                                     unlinked=403, staff=303),
    # A mailed link (or its wizard) opened while signed in: the ID's own sign-up.
    "/points/signup/new/service": dict(anonymous=404, owner=302, other=302, linked=302,
                                       unlinked=302, staff=302),
    "/points/signup/not-a-token": dict(anonymous=404, owner=302, other=302, linked=302,
                                       unlinked=302, staff=302),
    "/points/signup/done": dict(anonymous=302, owner=302, other=302, linked=302,
                                unlinked=302, staff=302),
    "/points/terms": dict(anonymous=200, owner=200, other=200, linked=200, unlinked=200,
                          staff=200),
    "/points/privacy": dict(anonymous=200, owner=200, other=200, linked=200, unlinked=200,
                            staff=200),
    "/points/info": dict(anonymous=302, owner=200, other=302, linked=302, unlinked=302,
                         staff=302),
    "/points/info/edit": dict(anonymous=302, owner=200, other=302, linked=302, unlinked=302,
                              staff=302),
    # <<< points sign-up
    # >>> eco (helper A): nobody in the world accepted the 会員規約 yet, so the list and
    # the owner's own apply page send to the terms; a gateway not yours is 404 first. The
    # owner's gateway is in the programme (the points block of `world`): its completion and
    # 解約 pages are the owner's.
    "/eco/": dict(anonymous=302, owner=200, other=200, linked=200, unlinked=200, staff=200),
    "/eco/declined": dict(anonymous=302, owner=200, other=200, linked=200, unlinked=200,
                          staff=200),
    "/eco/gateways": dict(anonymous=302, owner=302, other=302, linked=302, unlinked=302,
                          staff=302),
    f"/eco/gateways/{GATEWAY}/apply": dict(anonymous=302, owner=302, other=404, linked=404,
                                           unlinked=404, staff=404),
    f"/eco/gateways/{GATEWAY}/applied": dict(anonymous=302, owner=200, other=404, linked=404,
                                             unlinked=404, staff=404),
    f"/eco/gateways/{GATEWAY}/cancel": dict(anonymous=302, owner=200, other=404, linked=404,
                                            unlinked=404, staff=404),
    # <<< eco
}
# >>> points ledger (helper C): the world's owner is a points member of GATEWAY; anyone
# else signed in is sent to the sign-up (303); staff pages are for staff only.
_NOT_MEMBER = dict(anonymous=302, owner=200, other=303, linked=303, unlinked=303, staff=303)
ROUTES.update({
    "/points/": _NOT_MEMBER,
    "/points/exchange": _NOT_MEMBER,
    "/points/exchange/confirm?item=GIFT500": _NOT_MEMBER,
    "/points/leave": _NOT_MEMBER,
    # An exchange that is nobody's (ids of other members' entries are tested in
    # tests/flows/test_points_ledger.py).
    "/points/exchange/999999": dict(anonymous=302, owner=404, other=404, linked=404,
                                    unlinked=404, staff=404),
    "/staff/points/": dict(anonymous=302, owner=404, other=404, linked=404, unlinked=404,
                           staff=200),
    "/staff/points/members/999999": dict(anonymous=302, owner=404, other=404, linked=404,
                                         unlinked=404, staff=404),
    "/staff/points/report.csv?month=2026-05": dict(anonymous=302, owner=404, other=404,
                                                   linked=404, unlinked=404, staff=200),
})
# <<< points ledger
# >>> support cases (helper A): every signed-in account files cases and has マイケース; a
# case page (its completion page, its files) is its filer's, or for a company's case the
# company members' ("linked" is the administrator of the company that filed
# COMPANYCASE); anyone else, staff included (they use the desk), gets 404. The 詳細 swap
# without htmx sends the browser to the form.
_SIGNED_IN = dict(anonymous=302, owner=200, other=200, linked=200, unlinked=200, staff=200)
_OWNERS_CASE = dict(anonymous=302, owner=200, other=404, linked=404, unlinked=404, staff=404)
_COMPANYS_CASE = dict(anonymous=302, owner=404, other=404, linked=200, unlinked=404, staff=404)
_NOBODYS = dict(anonymous=302, owner=404, other=404, linked=404, unlinked=404, staff=404)
ROUTES.update({
    "/support/cases/new": _SIGNED_IN,
    f"/support/cases/new?gateway={GATEWAY}&q=充電しない": _SIGNED_IN,
    "/support/cases/new/details?part=detail&category=1": dict(
        anonymous=302, owner=303, other=303, linked=303, unlinked=303, staff=303),
    "/support/cases": _SIGNED_IN,
    "/support/cases?state=active&page=2": _SIGNED_IN,
    "/support/cases/OWNERCASE": _OWNERS_CASE,
    "/support/cases/OWNERCASE/filed": _OWNERS_CASE,
    "/support/cases/COMPANYCASE": _COMPANYS_CASE,
    "/support/cases/COMPANYCASE/filed": _COMPANYS_CASE,
    "/support/cases/OWNERCASE/files/999999": _NOBODYS,
    "/support/cases/400000000": _NOBODYS,
    "/support/cases/not-a-number": _NOBODYS,
})
# <<< support cases
# >>> support desk (helper B): the staff desk is for staff only; the world's cases are in
# the queue and open for staff; a file id that is not the case's is 404 for staff too.
_STAFF_ONLY = dict(anonymous=302, owner=404, other=404, linked=404, unlinked=404, staff=200)
ROUTES.update({
    "/staff/support/": _STAFF_ONLY,
    "/staff/support/?state=all&q=OWNERCASE": _STAFF_ONLY,
    "/staff/support/cases/OWNERCASE": _STAFF_ONLY,
    "/staff/support/cases/COMPANYCASE": _STAFF_ONLY,
    "/staff/support/cases/OWNERCASE/files/999999": dict(
        anonymous=302, owner=404, other=404, linked=404, unlinked=404, staff=404),
    "/staff/support/cases/400000000": dict(anonymous=302, owner=404, other=404, linked=404,
                                           unlinked=404, staff=404),
    "/staff/support/categories": _STAFF_ONLY,
    "/staff/support/articles": _STAFF_ONLY,
    "/staff/support/articles/new": _STAFF_ONLY,
    "/staff/support/articles/999999": dict(anonymous=302, owner=404, other=404, linked=404,
                                           unlinked=404, staff=404),
})
# <<< support desk
# >>> support self-help (helper C): the home, the search and published articles are for
# everyone signed in (article 999999 is nobody's); unlock codes for dealers' employees
# only (others get the dealer console's 403), and only for a gateway entrusted to them
# (the unlinked dealer's choice of it is refused like any choice not in its list).
_SIGNED_IN = dict(anonymous=302, owner=200, other=200, linked=200, unlinked=200, staff=200)
ROUTES.update({
    "/support/": _SIGNED_IN,
    "/support/search": _SIGNED_IN,
    "/support/search?q=%E5%81%9C%E9%9B%BB": _SIGNED_IN,
    "/support/kb/999999": dict(anonymous=302, owner=404, other=404, linked=404, unlinked=404,
                               staff=404),
    "/support/unlock-codes": dict(anonymous=302, owner=403, other=403, linked=200,
                                  unlinked=200, staff=403),
    f"/support/unlock-codes?gateway={GATEWAY}": dict(anonymous=302, owner=403, other=403,
                                                     linked=200, unlinked=422, staff=403),
})
# <<< support self-help
# >>> support phone (helper D): a phone-support request is asked for on a case its
# viewers see (the owner's case: the owner; the company's case: its members); the staff
# list is for staff only.
ROUTES.update({
    "/support/cases/OWNERCASE/phone": dict(anonymous=302, owner=200, other=404, linked=404,
                                           unlinked=404, staff=404),
    "/support/cases/COMPANYCASE/phone": dict(anonymous=302, owner=404, other=404, linked=200,
                                             unlinked=404, staff=404),
    "/support/cases/499999999/phone": dict(anonymous=302, owner=404, other=404, linked=404,
                                           unlinked=404, staff=404),
    "/staff/support/phone": dict(anonymous=302, owner=404, other=404, linked=404, unlinked=404,
                                 staff=200),
    "/staff/support/phone?state=all": dict(anonymous=302, owner=404, other=404, linked=404,
                                           unlinked=404, staff=200),
})
# <<< support phone
# >>> export (helper E): 個人データのダウンロード is every signed-in account's own page; a
# download link that is nobody's (altered) is the link page's 404 for everyone signed in.
ROUTES.update({
    "/account/settings/data-export": dict(anonymous=302, owner=200, other=200, linked=200,
                                          unlinked=200, staff=200),
    "/account/data-export/not-a-token": dict(anonymous=302, owner=404, other=404, linked=404,
                                             unlinked=404, staff=404),
})
# <<< export
# >>> sessions (helper B): ログイン中の端末 and the e-mail change are every signed-in
# account's own; a confirm or undo link that is not one is 404 for everyone (the link
# proves itself: no sign-in needed).
ROUTES.update({
    "/account/settings/devices": _SIGNED_IN,
    "/account/settings/devices/sign-out-all": _SIGNED_IN,
    "/account/settings/email": _SIGNED_IN,
    "/account/email/confirm/not-a-real-token": dict(anonymous=404, owner=404, other=404,
                                                    linked=404, unlinked=404, staff=404),
    "/account/email/undo/not-a-real-token": dict(anonymous=404, owner=404, other=404,
                                                 linked=404, unlinked=404, staff=404),
})
# <<< sessions
# >>> handover: the hand-over page is the owner's (the world's open case about GATEWAY
# shows as a blocker, still 200); every signed-in account lists its own hand-overs (none
# here); a hand-over CSV that is nobody's is 404.
ROUTES.update({
    f"/monitoring/gateways/{GATEWAY}/handover": dict(anonymous=302, owner=200, other=404,
                                                     linked=404, unlinked=404, staff=404),
    "/monitoring/handovers": dict(anonymous=302, owner=200, other=200, linked=200,
                                  unlinked=200, staff=200),
    "/monitoring/handovers/999999.csv": dict(anonymous=302, owner=404, other=404, linked=404,
                                             unlinked=404, staff=404),
})
# <<< handover
# >>> staff (helper C): the staff administration is for staff admins only (the world's
# staff member is an admin); everyone else does not learn it exists.
ROUTES.update({
    path: dict(anonymous=302, owner=404, other=404, linked=404, unlinked=404, staff=200)
    for path in ("/staff/people", "/staff/people/add", "/staff/audit",
                 "/staff/audit?action=account.&date_from=2026-01-01", "/staff/audit/proxy")
})
# <<< staff
# >>> remote
# Remote settings (遠隔設定): the owner and the linked dealer's employees; nobody else
# learns the gateway exists. A proxy sees the page (read-only, tested in
# test_remote_settings.py), so it is not in PROXY_REFUSED.
ROUTES.update({
    f"/monitoring/gateways/{GATEWAY}/settings": dict(
        anonymous=302, owner=200, other=404, linked=200, unlinked=404, staff=404),
    f"/monitoring/gateways/{GATEWAY}/settings?page=2": dict(
        anonymous=302, owner=200, other=404, linked=200, unlinked=404, staff=404),
    "/monitoring/gateways/01AB00000000/settings": dict(
        anonymous=302, owner=404, other=404, linked=404, unlinked=404, staff=404),
})


@pytest.mark.parametrize("path", [f"/monitoring/gateways/{GATEWAY}/settings"])
def test_settings_of_someone_elses_gateway_cannot_be_changed(world, path):
    """A POST with a valid CSRF token of the intruder's own session: 404, no version."""
    from models.remote import GatewaySettings
    from tests.conftest import csrf_from

    clients, _dealer_code = world
    for role in ("other", "unlinked", "staff"):
        token = csrf_from(clients[role].get("/account/access").get_data(as_text=True))
        response = clients[role].post(path, data={
            "csrf_token": token, "base_version": "1", "operation_mode": "backup",
            "charge_start": "00:00", "charge_end": "06:00", "discharge_floor": "50",
            "sell_when_discharging": "no", "islanding": "auto"})
        assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(GatewaySettings)
                             .where(GatewaySettings.version > 1)) == 0
# <<< remote
# >>> legacy: the old portal's one-time 移行手続き opens only in a browser that has just
# verified an imported account's old password; everyone else is sent to sign in.
ROUTES.update({
    path: dict(anonymous=302, owner=302, other=302, linked=302, unlinked=302, staff=302)
    for path in ("/account/migration", "/account/migration/data",
                 "/account/migration/password", "/account/migration/continue",
                 "/account/migration/continue/terms")
})
# <<< legacy
# >>> join (helper C): 会社の検索 and 従業員からのリクエスト. The requests page is each
# company administrator's own (linked, unlinked: their companies' requests, none here); a
# request nobody has is 404. Asking to join is for commercial accounts without a company:
# the world's owners are personal (404), its administrators belong to a company (sent to
# 会社情報; a company's request page names no findable company here: 404). The sign-up's
# htmx search, opened without htmx, goes back to the sign-up.
_JOIN_NOBODY = dict(anonymous=302, owner=404, other=404, linked=404, unlinked=404, staff=404)
ROUTES.update({
    "/account/settings/employees/requests": dict(anonymous=302, owner=404, other=404,
                                                 linked=200, unlinked=200, staff=404),
    "/account/settings/employees/requests/999999/approve": _JOIN_NOBODY,
    "/account/settings/employees/requests/999999/decline": _JOIN_NOBODY,
    "/account/settings/company/join": dict(anonymous=302, owner=404, other=404, linked=303,
                                           unlinked=303, staff=404),
    "/account/settings/company/join?q=%E8%B2%A9%E5%A3%B2": dict(
        anonymous=302, owner=404, other=404, linked=303, unlinked=303, staff=404),
    "/account/settings/company/join/999999": _JOIN_NOBODY,
    "/account/signup/company-search?company_query=%E8%B2%A9%E5%A3%B2": dict(
        anonymous=303, owner=303, other=303, linked=303, unlinked=303, staff=303),
})
# <<< join
# >>> help
# Help is public: the FAQ pages, the sample slip, the forgotten-ID chooser and the
# forgotten e-mail form open for everyone, signed in or not.
ROUTES.update({
    path: dict(anonymous=200, owner=200, other=200, linked=200, unlinked=200, staff=200)
    for path in ("/help/", "/help/account", "/help/gateways", "/help/monitoring",
                 "/help/dealers", "/help/club", "/help/eco", "/help/points", "/help/support",
                 "/help/sample-slip", "/account/forgot", "/account/forgot-email")
})
ROUTES["/help/unknown"] = dict(anonymous=404, owner=404, other=404, linked=404, unlinked=404,
                               staff=404)
# <<< help


EMPLOYEE_EMAIL = "member1@dealer1.example"
ROLES = ["anonymous", "owner", "other", "linked", "unlinked", "staff"]
CLUB: dict[str, str] = {}  # the world's approval token (only its hash is stored)
SUPPORT: dict[str, str] = {}  # the world's case numbers (random: see `world`)


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
    make_staff(staff, ADMIN)
    # An employee of the linked dealer's company, and an invitation it sent.
    db.session.add(Account(email=EMPLOYEE_EMAIL, password_hash=_password_hash(),
                           family_name="鈴木", given_name="一郎",
                           account_type=AccountType.COMMERCIAL, company_id=linked.company_id,
                           company_role=CompanyRole.MEMBER, activated_at=utcnow(),
                           terms_accepted_at=utcnow(), privacy_accepted_at=utcnow()))
    issue_link(INVITATION, "invitee@example.com", timedelta(days=7),
               company_id=linked.company_id,
               payload={"family_name": "田中", "given_name": "三郎"})
    # Club: the owner approved the linked dealer (its administrator's address) and asked
    # its employee too (pending, with the approval link mailed to the employee).
    db.session.add(LoginPermission(owner_id=owner.id, email="admin1@dealer1.example",
                                   dealer_id=linked.id, state=PermissionState.APPROVED,
                                   decided_at=utcnow()))
    pending = LoginPermission(owner_id=owner.id, email=EMPLOYEE_EMAIL, dealer_id=linked.id)
    db.session.add(pending)
    db.session.flush()
    CLUB["approval"] = issue_link(APPROVAL, EMPLOYEE_EMAIL, timedelta(days=3650), account=owner,
                                  company_id=linked.company_id,
                                  payload={"permission_id": pending.id}, replace=False)
    # >>> points ledger (helper C): the owner's gateway in the eco programme, the owner a
    # points member of it
    from models.eco import EcoMembership
    from models.points import PointsMember
    eco = EcoMembership(gateway_id=gateway.id, account_id=owner.id, gateway_code=GATEWAY,
                        pcs_serial="PC000001")
    db.session.add(eco)
    db.session.flush()
    db.session.add(PointsMember(account_id=owner.id, gateway_id=gateway.id,
                                eco_membership_id=eco.id, service="monitoring",
                                terms_accepted_at=utcnow(), privacy_accepted_at=utcnow()))
    # <<< points ledger
    db.session.commit()
    # >>> support (foundation): a case of the owner about GATEWAY, and a case of the
    # linked dealer's administrator, which its company's employee sees as well
    from blueprints.support import cases
    cases.ensure_default_categories()
    category = cases.active_categories()[0]
    for email, key in (("owner@example.com", "OWNERCASE"), ("admin1@dealer1.example",
                                                             "COMPANYCASE")):
        filer = db.session.scalar(select(Account).where(Account.email == email))
        case, _created = cases.file_case(filer, cases.CaseFields(
            subject="蓄電池が充電しない", body="昨日から充電されません。", site_name="自宅",
            category_id=category.id, gateway_id=gateway.id if key == "OWNERCASE" else None),
            [], None)
        SUPPORT[key] = case.number
    # <<< support
    clients = {"anonymous": app.test_client()}
    for role, email in [("owner", "owner@example.com"), ("other", "other@example.com"),
                        ("linked", "admin1@dealer1.example"),
                        ("unlinked", "admin2@dealer2.example"), ("staff", "staff@example.com")]:
        clients[role] = app.test_client()
        assert login(clients[role], email).status_code == 303
    return clients, linked.dealer_code


def _filled(path: str, dealer_code: str) -> str:
    """The path with the world's 販売店ID, employee, invitation and catalogue model in it
    (ids are whatever the database gave: PostgreSQL's sequences go on across tests)."""
    if "SYSTEMMODEL" in path:
        ensure_catalogue()
        model = db.session.scalar(select(func.min(SystemModel.id)))
        path = path.replace("SYSTEMMODEL", str(model))
    employee = db.session.scalar(select(Account.id).where(Account.email == EMPLOYEE_EMAIL))
    invitation = db.session.scalar(select(MailLink.id).where(MailLink.purpose == INVITATION))
    owner = db.session.scalar(select(Account).where(Account.email == "owner@example.com"))
    permission = db.session.scalar(select(LoginPermission.id)
                                   .where(LoginPermission.owner_id == owner.id))
    return (path.replace("DEALER", dealer_code).replace("EMPLOYEE", str(employee))
            .replace("INVITATION", str(invitation)).replace("PERMISSION", str(permission))
            .replace("APPROVAL", CLUB["approval"]).replace("CUSTOMER", owner.customer_number)
            .replace("OWNERCASE", SUPPORT["OWNERCASE"])
            .replace("COMPANYCASE", SUPPORT["COMPANYCASE"]))


def test_every_route_answers_each_role_as_it_should(world):
    clients, dealer_code = world
    answers, wrong = {}, []
    for path, expected in ROUTES.items():
        path = _filled(path, dealer_code)
        for role in ROLES:
            status = clients[role].get(path).status_code
            answers[(path, role)] = status
            if status != expected[role]:
                wrong.append(f"{role:9} GET {path} → {status}, expected {expected[role]}")
    assert wrong == [], "\n".join(wrong)


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


@pytest.mark.parametrize("path", [
    "/account/settings/employees/EMPLOYEE/remove", "/account/settings/employees/EMPLOYEE/admin",
    "/account/settings/invitations/INVITATION/cancel",
])
def test_employee_pages_are_for_the_company_administrator(world, app, path):
    """An ordinary employee of the same company is refused (403), page and POST; another
    company's administrator does not find them (404); nothing changes."""
    from tests.conftest import csrf_from

    clients, dealer_code = world
    path = _filled(path, dealer_code)
    member = app.test_client()
    assert login(member, EMPLOYEE_EMAIL).status_code == 303
    token = csrf_from(member.get("/account/settings/employees").get_data(as_text=True))
    assert member.get(path).status_code == 403
    assert member.post(path, data={"csrf_token": token}).status_code == 403
    intruder = clients["unlinked"]
    token = csrf_from(intruder.get("/account/settings/employees").get_data(as_text=True))
    assert intruder.post(path, data={"csrf_token": token}).status_code == 404
    db.session.expire_all()
    employee = db.session.scalar(select(Account).where(Account.email == EMPLOYEE_EMAIL))
    assert (employee.company_id, employee.company_role) == (world_company(), CompanyRole.MEMBER)
    invitation = db.session.scalar(select(MailLink).where(MailLink.purpose == INVITATION))
    assert invitation.expires_at > utcnow()
    assert clients["linked"].get("/dealers/").status_code == 200


def world_company() -> int:
    return db.session.scalar(select(Account.company_id)
                             .where(Account.email == "admin1@dealer1.example"))


# -- proxy login (代理ログイン): the same routes as a dealer acting for the owner --
# What the proxy may not open at all (registry.refuse_while_acting): 403 with a page
# saying so, before the view, even where the owner would be told 404.
PROXY_REFUSED = {
    f"/monitoring/gateways/{GATEWAY}/exchange", f"/monitoring/gateways/{GATEWAY}/dispose",
    f"/dealers/my/unlink/{GATEWAY}/DEALER", "/account/settings/employees/EMPLOYEE/remove",
    "/account/settings/employees/EMPLOYEE/admin",
    "/account/settings/invitations/INVITATION/cancel", "/club/dealer/users/0000000000/proxy",
    "/club/mypage/products/1/delete", "/club/dealer/info/edit",
    "/club/mypage/permissions/PERMISSION/withdraw",
    # >>> points sign-up (helper B)
    "/points/signup/form/service", "/points/signup/form/pair", "/points/info/edit",
    # <<< points sign-up
}
# >>> points ledger (helper C): a dealer acting for the owner never spends points nor
# ends the membership
PROXY_REFUSED |= {"/points/exchange/confirm?item=GIFT500", "/points/leave"}
# <<< points ledger
# >>> eco (helper A): the owner signs the declarations and cancels, never a proxy.
PROXY_REFUSED |= {f"/eco/gateways/{GATEWAY}/apply", f"/eco/gateways/{GATEWAY}/cancel"}
# <<< eco
# >>> support cases (helper A): a dealer acting for the owner files no case in the
# owner's name (replies, a POST, are refused the same way)
PROXY_REFUSED |= {"/support/cases/new", f"/support/cases/new?gateway={GATEWAY}&q=充電しない"}
# Nor asks for a call: refused before the case is looked up, whichever number it names.
PROXY_REFUSED |= {"/support/cases/OWNERCASE/phone", "/support/cases/COMPANYCASE/phone",
                  "/support/cases/499999999/phone"}
# >>> handover: a dealer acting for the owner never hands the house's gateway over
PROXY_REFUSED |= {f"/monitoring/gateways/{GATEWAY}/handover"}
# <<< handover


def test_the_companys_employee_sees_the_companys_case_and_nothing_else(world, app):
    member = app.test_client()
    assert login(member, EMPLOYEE_EMAIL).status_code == 303
    listing = member.get("/support/cases").get_data(as_text=True)
    assert SUPPORT["COMPANYCASE"] in listing and SUPPORT["OWNERCASE"] not in listing
    assert "起票者" in listing
    assert member.get(f"/support/cases/{SUPPORT['COMPANYCASE']}").status_code == 200
    assert member.get(f"/support/cases/{SUPPORT['OWNERCASE']}").status_code == 404


def test_a_proxy_cannot_reply_in_the_owners_name(world, app):
    from models.support import SupportMessage
    from tests.conftest import csrf_from

    clients, _dealer_code = world
    owner = db.session.scalar(select(Account).where(Account.email == "owner@example.com"))
    acting = clients["linked"]
    url = f"/club/dealer/users/{owner.customer_number}/proxy"
    token = csrf_from(acting.get(url).get_data(as_text=True))
    assert acting.post(url, data={"reason": "確認", "csrf_token": token}).status_code == 303
    case_url = f"/support/cases/{SUPPORT['OWNERCASE']}"
    page = acting.get(case_url)
    assert page.status_code == 200
    assert 'id="reply-form"' not in page.get_data(as_text=True)  # not offered…
    response = acting.post(f"{case_url}/reply", data={  # …and refused
        "csrf_token": csrf_from(page.get_data(as_text=True)), "comment": "代理の返信"})
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(SupportMessage)
                             .where(SupportMessage.body == "代理の返信")) == 0
# <<< support cases
# >>> export (helper E): a dealer acting for the owner neither asks for nor downloads the
# owner's personal data
PROXY_REFUSED |= {"/account/settings/data-export", "/account/data-export/not-a-token"}
# <<< export
# >>> sessions (helper B): whoever acts for the owner neither sees nor ends the owner's
# sign-ins and never moves the ID to another address
PROXY_REFUSED |= {"/account/settings/devices", "/account/settings/devices/sign-out-all",
                  "/account/settings/email", "/account/email/confirm/not-a-real-token",
                  "/account/email/undo/not-a-real-token"}
# <<< sessions
# >>> join (helper C): a dealer acting for the owner neither asks to join a company in the
# owner's name nor decides a company's requests.
PROXY_REFUSED |= {"/account/settings/employees/requests",
                  "/account/settings/employees/requests/999999/approve",
                  "/account/settings/employees/requests/999999/decline",
                  "/account/settings/company/join/999999"}
# <<< join


def test_every_route_answers_a_proxy_login_as_the_owner_but_refused_actions(world, app):
    """The linked dealer's administrator, approved by the owner, in a proxy session:
    every route answers as for the owner, except the refused ones (403); the session is
    still running at the end."""
    from models.club import ProxySession
    from tests.conftest import csrf_from

    clients, dealer_code = world
    owner = db.session.scalar(select(Account).where(Account.email == "owner@example.com"))
    dealer_id = db.session.scalar(select(Dealer.id).where(Dealer.dealer_code == dealer_code))
    # The world's owner approved the linked dealer (see `world`).
    assert db.session.scalar(select(LoginPermission.state).where(
        LoginPermission.owner_id == owner.id,
        LoginPermission.dealer_id == dealer_id)) == PermissionState.APPROVED
    acting = clients["linked"]
    url = f"/club/dealer/users/{owner.customer_number}/proxy"
    token = csrf_from(acting.get(url).get_data(as_text=True))
    assert acting.post(url, data={"reason": "権限の確認", "csrf_token": token}).status_code == 303
    wrong = []
    for path, expected in ROUTES.items():
        want = 403 if path in PROXY_REFUSED else expected["owner"]
        filled = _filled(path, dealer_code)
        response = acting.get(filled)
        if response.status_code != want:
            wrong.append(f"proxy GET {filled} → {response.status_code}, expected {want}")
        elif want == 403 and path in PROXY_REFUSED:
            assert "代理ログイン中はこの操作はできません" in response.get_data(as_text=True)
    assert wrong == []
    db.session.expire_all()
    assert db.session.scalar(select(ProxySession.ended_at)) is None


# >>> recipients (helper F): a gateway's extra alert recipients are the owner's alone
# (never a proxy's); the links a recipient opens from mail need no sign-in and answer
# every role alike (a made-up token: the link problem page, 404).
_NOBODY = dict(anonymous=404, owner=404, other=404, linked=404, unlinked=404, staff=404)
_EVERYONE = dict(anonymous=200, owner=200, other=200, linked=200, unlinked=200, staff=200)
ROUTES.update({
    f"/monitoring/gateways/{GATEWAY}/alert-recipients": dict(
        anonymous=302, owner=200, other=404, linked=404, unlinked=404, staff=404),
    f"/monitoring/gateways/{GATEWAY}/alert-recipients/2147483646/remove": dict(
        anonymous=302, owner=404, other=404, linked=404, unlinked=404, staff=404),
    "/monitoring/alert-recipients/confirm/made-up-token": _NOBODY,
    "/monitoring/alert-recipients/stop/made-up-token": _NOBODY,
    "/monitoring/alert-recipients/confirmed": _EVERYONE,
    "/monitoring/alert-recipients/stopped": _EVERYONE,
})
PROXY_REFUSED |= {f"/monitoring/gateways/{GATEWAY}/alert-recipients",
                  f"/monitoring/gateways/{GATEWAY}/alert-recipients/2147483646/remove"}


def test_an_alert_recipients_remove_page_is_the_owners_alone(world, app):
    """The world's owner's real recipient: its remove page opens for the owner only; a
    POST of anyone else (with a token of their own session) removes nothing."""
    from models.gateway import Gateway
    from models.trust import AlertRecipient
    from tests.conftest import csrf_from

    clients, _dealer_code = world
    owner = db.session.scalar(select(Account).where(Account.email == "owner@example.com"))
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == GATEWAY))
    recipient = AlertRecipient(gateway_id=gateway.id, owner_id=owner.id,
                               email="family@example.com", confirmed_at=utcnow())
    db.session.add(recipient)
    db.session.commit()
    path = f"/monitoring/gateways/{GATEWAY}/alert-recipients/{recipient.id}/remove"
    expected = dict(anonymous=302, owner=200, other=404, linked=404, unlinked=404, staff=404)
    assert {role: clients[role].get(path).status_code for role in ROLES} == expected
    for role in ("other", "linked", "unlinked", "staff"):
        token = csrf_from(clients[role].get("/account/access").get_data(as_text=True))
        assert clients[role].post(path, data={"csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert db.session.get(AlertRecipient, recipient.id) is not None
# <<< recipients
# >>> twostep
# Two-step sign-in: every signed-in account has its set-up pages; the verify page sends
# a browser that has nothing to verify on (303); staff's reset is for support staff.
ROUTES.update({
    "/account/settings/second-step": _SIGNED_IN,
    "/account/settings/second-step/totp": _SIGNED_IN,
    "/account/settings/second-step/recovery-codes": dict(
        anonymous=302, owner=303, other=303, linked=303, unlinked=303, staff=303),
    "/account/settings/second-step/totp/remove": _NOBODYS,
    "/account/settings/second-step/passkeys/999999/remove": _NOBODYS,
    "/account/login/verify": dict(anonymous=302, owner=303, other=303, linked=303,
                                  unlinked=303, staff=303),
    "/staff/accounts/": _STAFF_ONLY,
    "/staff/accounts/?q=owner@example.com": _STAFF_ONLY,
    "/staff/accounts/CUSTOMER/second-step/reset": _STAFF_ONLY,
    "/staff/accounts/0000000000/second-step/reset": _NOBODYS,
})
# Nobody acting for the owner changes how the owner signs in.
PROXY_REFUSED |= {"/account/settings/second-step", "/account/settings/second-step/totp",
                  "/account/settings/second-step/recovery-codes",
                  "/account/settings/second-step/totp/remove",
                  "/account/settings/second-step/passkeys/999999/remove"}


@pytest.mark.real_second_step
def test_second_step_routes_wait_for_the_step_of_dealers_and_staff(world, app):
    """The linked dealer and staff signed in with the password only: every route of
    ROUTES behind the second step (registry.second_step_needed) leads to the set-up page;
    once the authenticator app is set up, each answers as the matrix says. (The world's
    staff account is an admin, so that every staff page is its to open.)"""
    from urllib.parse import urlsplit

    from werkzeug.exceptions import HTTPException
    from werkzeug.routing import RequestRedirect

    from blueprints.core import registry
    from tests.flows.test_second_step import SETTINGS, set_up_totp

    clients, dealer_code = world
    db.session.commit()
    adapter = app.url_map.bind(app.config["PUBLIC_HOST"])
    needed = {}
    for path, expected in ROUTES.items():
        filled = _filled(path, dealer_code)
        try:
            endpoint, _args = adapter.match(urlsplit(filled).path, method="GET")
        except (HTTPException, RequestRedirect):
            continue
        if registry.second_step_needed(endpoint):
            needed[filled] = expected
    assert "/dealers/" in needed and "/staff/gateways/slips" in needed
    assert any(path.startswith("/club/dealer/users") for path in needed)
    wrong = []
    for role, email in [("linked", "admin1@dealer1.example"), ("staff", "staff@example.com")]:
        client = clients[role]
        for path in needed:
            response = client.get(path)
            location = urlsplit(response.headers.get("Location", "")).path
            if response.status_code != 303 or location != SETTINGS:
                wrong.append(f"{role:7} GET {path} → {response.status_code} {location}, "
                             "expected the set-up page")
        set_up_totp(client, email)
        for path, expected in needed.items():
            status = client.get(path).status_code
            if status != expected[role]:
                wrong.append(f"{role:7} GET {path} → {status}, expected {expected[role]}")
    assert wrong == [], "\n".join(wrong)
# <<< twostep
