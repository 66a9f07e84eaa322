"""Demo data for `make run`: a personal owner with a monitored gateway, a company with an
employee that is a dealer, staff, and slips."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from blueprints.account.services import find_account, hash_password
from models import db, utcnow
from models.account import Account, AccountPhone, AccountType, Company, CompanyRole, Role
from models.gateway import DealerLink, Gateway, GatewayStatus

DEMO_PASSWORD = "Demo-Pass-2026!"

DEMO_COMPANY = dict(
    name="エネリンク販売株式会社", kind="dealer", registration_number="7000012050002",
    postal_code="1030026", prefecture="東京都", city="中央区", street="日本橋兜町1-1",
    building=None, email="info@dealer.example", website="https://dealer.example",
    phone="0312345678",
)
DEMO_ACCOUNTS = [
    dict(email="owner@example.com", family_name="山田", given_name="太郎",
         account_type=AccountType.PERSONAL, phone="09012345678"),
    dict(email="dealer@example.com", family_name="佐藤", given_name="花子",
         account_type=AccountType.COMMERCIAL, company_role=CompanyRole.ADMIN,
         department="営業部", position="部長", phone="0312345678"),
    dict(email="staff-member@example.com", family_name="鈴木", given_name="一郎",
         account_type=AccountType.COMMERCIAL, company_role=CompanyRole.MEMBER,
         department="工事部", position="主任", phone="08011112222"),
    dict(email="support@example.com", family_name="高橋", given_name="美咲",
         account_type=AccountType.PERSONAL, role=Role.STAFF, phone="0120000000"),
]


def seed_demo_data() -> list[str]:
    """Create what is missing and return lines describing the demo accounts."""
    now = utcnow()
    password_hash = hash_password(DEMO_PASSWORD)
    company = None
    lines = []
    for spec in DEMO_ACCOUNTS:
        spec = dict(spec)
        phone = spec.pop("phone")
        account = find_account(spec["email"])
        if account is None:
            account = Account(password_hash=password_hash, activated_at=now,
                              terms_accepted_at=now, privacy_accepted_at=now,
                              postal_code="1030026", prefecture="東京都", city="中央区",
                              street="日本橋兜町2-1", **spec)
            account.phones = [AccountPhone(position=0, kind="mobile", number=phone)]
            if account.account_type is AccountType.COMMERCIAL:
                if company is None:
                    company = Company(**DEMO_COMPANY)
                account.company = company
            db.session.add(account)
        elif account.company is not None:
            company = account.company
        lines.append(f"  {spec['email']:<28} {DEMO_PASSWORD}  ({_describe(account)})")
    db.session.commit()
    return ["Demo accounts (e-mail / password):", *lines, *seed_demo_dealer(),
            *seed_demo_slips(), *seed_demo_monitored_gateway()]


DEMO_DEALER_PHONE = "0312345678"


def seed_demo_dealer() -> list[str]:
    """The demo company is a dealer, so owners can try linking it by 販売店ID + phone."""
    from blueprints.dealers.services import become_dealer, dealer_for_account

    admin = find_account("dealer@example.com")
    dealer = dealer_for_account(admin) if admin is not None else None
    if dealer is None and admin is not None and admin.company is not None:
        dealer = become_dealer(admin.company, DEMO_DEALER_PHONE, ["maint@dealer.example"])
    if dealer is None:
        return []
    return [f"Demo dealer: 販売店ID {dealer.dealer_code} / 電話番号 {dealer.phone}"]


# Fixed slips so that the README can name them; typed from "paper" at /monitoring/register.
DEMO_SLIPS = [
    dict(gateway_id="01AB12345678", password="demoslip0001", model="GW-M001",
         serials=("DM000001",)),
    dict(gateway_id="01AB12345679", password="demoslip0002", model="GW-M001",
         serials=("DM000002", "DM000003")),
    dict(gateway_id="01AB12345680", password="demoslip0003", model="GW-M002",
         serials=("DM000004",)),
]


def seed_demo_slips() -> list[str]:
    """Create the demo slips' gateways that are missing (unowned) and describe them."""
    from blueprints.monitoring.slips import new_gateway

    existing = set(db.session.scalars(select(Gateway.gateway_id).where(
        Gateway.gateway_id.in_([spec["gateway_id"] for spec in DEMO_SLIPS]))))
    lines = ["Demo slips (ゲートウェイID / パスワード / 機種 / PCS製造番号):"]
    for spec in DEMO_SLIPS:
        if spec["gateway_id"] not in existing:
            new_gateway(spec["gateway_id"], spec["password"], spec["model"], spec["serials"])
        lines.append(f"  {spec['gateway_id']}  {spec['password']}  {spec['model']}  "
                     + " ".join(spec["serials"]))
    db.session.commit()
    return lines


def _describe(account: Account) -> str:
    if account.is_staff:
        return "サポート担当"
    if account.is_commercial:
        return "商用アカウント・" + ("管理者" if account.company_role == CompanyRole.ADMIN
                                  else "従業員")
    return "個人ユーザー"


# The owner's gateway in service, fed by `flask --app app gateways simulate` (run by
# `make run`); its device key is fixed so that the README can show a request of the API.
DEMO_MONITORED_GATEWAY = dict(
    gateway_id="01AB00000001", model="GW-M001", serials=("DM000101", "DM000102"),
    api_key="gwk_demo_01AB00000001",
)
DEMO_MONITORED_SITE = dict(
    site_name="山田様邸", postal_code="1540017", prefecture="東京都", city="世田谷区",
    street="世田谷4-21-1", building=None,
)
DEMO_MONITORED_IDS = (DEMO_MONITORED_GATEWAY["gateway_id"],)
DEMO_REGISTERED_DAYS_AGO = 40


def seed_demo_monitored_gateway() -> list[str]:
    """owner@example.com's gateway, ACTIVE since 40 days ago and linked to the demo
    dealer. Created when missing, and claimed again when an account deletion released it
    (its slip password is random: nobody else registers it)."""
    from blueprints.monitoring.slips import new_gateway, random_slip_password

    owner = find_account("owner@example.com")
    if owner is None:
        return []
    spec = DEMO_MONITORED_GATEWAY
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == spec["gateway_id"]))
    if gateway is None:
        gateway = new_gateway(spec["gateway_id"], random_slip_password(), spec["model"],
                              spec["serials"], spec["api_key"])
    if gateway.status == GatewayStatus.UNREGISTERED and gateway.owner_id is None:
        gateway.owner_id, gateway.status = owner.id, GatewayStatus.ACTIVE
        gateway.registered_at = utcnow() - timedelta(days=DEMO_REGISTERED_DAYS_AGO)
        for name, value in DEMO_MONITORED_SITE.items():
            setattr(gateway, name, value)
        db.session.flush()
    if gateway.owner_id == owner.id:
        _link_demo_dealer(gateway, owner)
    db.session.commit()
    return [f"Demo monitored gateway: {spec['gateway_id']} ({DEMO_MONITORED_SITE['site_name']}, "
            f"owner@example.com, API key {spec['api_key']}), fed by `gateways simulate`"]


def _link_demo_dealer(gateway: Gateway, owner: Account) -> None:
    """Entrust the gateway to the demo dealer, unless it is already (no mail: seeding)."""
    from blueprints.dealers.services import dealer_for_account

    admin = find_account("dealer@example.com")
    dealer = dealer_for_account(admin) if admin is not None else None
    if dealer is None or db.session.scalar(select(DealerLink.id).where(
            DealerLink.gateway_id == gateway.id, DealerLink.dealer_id == dealer.id)):
        return
    db.session.add(DealerLink(gateway_id=gateway.id, dealer_id=dealer.id,
                              linked_by_id=owner.id,
                              linked_at=gateway.registered_at or utcnow()))
