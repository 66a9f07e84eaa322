"""Demo data of the customer's cases for `make run`: the demo owner has filed a case about
the demo gateway, and support has answered it (the thread shows both sides)."""
from __future__ import annotations

from sqlalchemy import select

from blueprints.support import cases
from models import db
from models.account import Account, Role
from models.gateway import Gateway
from models.support import SupportCase

DEMO_OWNER = "owner@example.com"
DEMO_GATEWAY_ID = "01AB00000001"  # the demo monitored gateway (gateways' demo data)
CASE_KEY = "demo-support-case-0001"
ANSWER_KEY = "demo-support-answer-0001"


def seed_demo_case() -> list[str]:
    """owner@example.com's case 「蓄電池が夜に放電しない」 with an answer from support
    (support@example.com, the demo staff account); made once."""
    from blueprints.account.services import find_account

    owner = find_account(DEMO_OWNER)
    if owner is None:
        return []
    existing = db.session.scalar(select(SupportCase).where(
        SupportCase.account_id == owner.id, SupportCase.request_key == CASE_KEY))
    if existing is not None:
        return [f"Demo support case: {existing.number} of {DEMO_OWNER} (already)"]
    cases.ensure_default_categories()
    category = next((c for c in cases.active_categories() if c.details), None)
    if category is None:
        return []
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == DEMO_GATEWAY_ID,
                                                      Gateway.owner_id == owner.id))
    unit = gateway.units[0] if gateway is not None and gateway.units else None
    case, _created = cases.file_case(owner, cases.CaseFields(
        subject="蓄電池が夜に放電しない",
        body="3日前から、夜になっても蓄電池から放電されず買電になっています。\n"
             "運転モードは変更していません。",
        site_name=(gateway.site_name or gateway.gateway_id) if gateway else "自宅",
        category_id=category.id, detail_id=category.details[0].id,
        gateway_id=gateway.id if gateway else None, device_type="蓄電池",
        serial=unit.serial if unit else None), [], CASE_KEY)
    staff = db.session.scalar(select(Account).where(Account.role == Role.STAFF)
                              .order_by(Account.id).limit(1))
    if staff is not None:
        cases.add_message(case, staff,
                          "お問い合わせありがとうございます。サポートセンターの高橋です。\n"
                          "運転モードが「売電優先」になっている可能性があります。モニター画面の"
                          "設定メニューで運転モードをご確認いただけますでしょうか。",
                          [], ANSWER_KEY, from_staff=True)
    return [f"Demo support case: {case.number} of {DEMO_OWNER}, answered by support"]
