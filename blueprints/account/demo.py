"""Demo accounts for `make run`: a homeowner, a company (administrator and employee)
and a member of the staff (a staff admin with every staff role, so that every staff page
can be tried), all with the password of the README."""
from __future__ import annotations

from sqlalchemy import select

from blueprints.account.services import find_account, hash_password
from blueprints.core.staff import STAFF_ROLES
from models import db, utcnow
from models.account import Account, AccountPhone, AccountType, Company, CompanyRole, Role
from models.trust import StaffGrant

DEMO_PASSWORD = "Demo-Pass-2026!"

DEMO_COMPANY = dict(
    name="エネリンク販売株式会社", kind="dealer", registration_number="7000012050002",
    postal_code="1030026", prefecture="東京都", city="中央区", street="日本橋兜町1-1",
    building=None, email="info@dealer.example", website="https://dealer.example",
    phone="0312345678",
)
DEMO_ACCOUNTS = [
    dict(email="owner@example.com", family_name="山田", given_name="太郎",
         family_kana="ヤマダ", given_kana="タロウ", account_type=AccountType.PERSONAL,
         phone="09012345678"),
    dict(email="dealer@example.com", family_name="佐藤", given_name="花子",
         family_kana="サトウ", given_kana="ハナコ", account_type=AccountType.COMMERCIAL,
         company_role=CompanyRole.ADMIN, department="営業部", position="部長",
         phone="0312345678"),
    dict(email="staff-member@example.com", family_name="鈴木", given_name="一郎",
         family_kana="スズキ", given_kana="イチロウ", account_type=AccountType.COMMERCIAL,
         company_role=CompanyRole.MEMBER, department="工事部", position="主任",
         phone="08011112222"),
    dict(email="support@example.com", family_name="高橋", given_name="美咲",
         family_kana="タカハシ", given_kana="ミサキ", account_type=AccountType.PERSONAL,
         role=Role.STAFF, phone="0120000000"),
]


def seed_demo_accounts() -> list[str]:
    """Create the demo accounts that are missing and return lines describing them."""
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
        if account.is_staff:
            _grant_every_role(account)
        lines.append(f"  {spec['email']:<28} {DEMO_PASSWORD}  ({_describe(account)})")
    db.session.commit()
    return ["Demo accounts (e-mail / password):", *lines]


def _grant_every_role(account: Account) -> None:
    """The demo staff member holds every staff role (the admin opens every staff page;
    the other roles make the support desk's assignee list and the tiles show them)."""
    db.session.flush()
    held = {grant.role for grant in db.session.scalars(
        select(StaffGrant).where(StaffGrant.account_id == account.id))}
    for role in STAFF_ROLES:
        if role not in held:
            db.session.add(StaffGrant(account_id=account.id, role=role))


def _describe(account: Account) -> str:
    if account.is_staff:
        return "スタッフ・全権限（スタッフ管理者、サポート担当、伝票発行担当、プログラム管理担当）"
    if account.is_commercial:
        return "商用アカウント・" + ("管理者" if account.company_role == CompanyRole.ADMIN
                                  else "従業員")
    return "個人ユーザー"


# >>> join
DEMO_APPLICANT = dict(email="applicant@example.com", family_name="田中", given_name="健",
                      family_kana="タナカ", given_kana="ケン", department="工事部",
                      position="担当", phone="08033334444")


def seed_demo_join_request() -> list[str]:
    """会社の検索 and 従業員からのリクエスト: the demo company is findable, and a commercial
    account without a company has asked to join it (pending, for its administrator
    dealer@example.com to approve or decline)."""
    from models.account import CompanyJoinRequest, JoinRequestStatus

    admin = find_account("dealer@example.com")
    if admin is None or admin.company is None:
        return []
    company = admin.company
    company.findable = True
    spec = dict(DEMO_APPLICANT)
    phone = spec.pop("phone")
    applicant = find_account(spec["email"])
    if applicant is None:
        now = utcnow()
        applicant = Account(password_hash=hash_password(DEMO_PASSWORD), activated_at=now,
                            terms_accepted_at=now, privacy_accepted_at=now,
                            account_type=AccountType.COMMERCIAL, **spec)
        applicant.phones = [AccountPhone(position=0, kind="mobile", number=phone)]
        db.session.add(applicant)
        db.session.flush()
        db.session.add(CompanyJoinRequest(company_id=company.id, account_id=applicant.id,
                                          message="工事部に配属になりました。よろしくお願いします。",
                                          status=JoinRequestStatus.PENDING))
    db.session.commit()
    return [f"  {spec['email']:<28} {DEMO_PASSWORD}  (商用アカウント・会社なし: "
            f"{company.name} に参加をリクエスト中)"]
# <<< join
