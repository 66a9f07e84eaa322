"""What the support center keeps about an account, for 個人データのダウンロード: the cases
it filed, their customer-visible messages (never staff's internal notes, never staff
names), the names and sizes of their files and its phone-support requests. Cases filed
by other members of the same company are theirs, not this account's."""
from __future__ import annotations

from sqlalchemy import select

from blueprints.account.data_export import Table, iso, streamed
from models import db
from models.gateway import Gateway
from models.support import PhoneRequest, SupportCase, SupportFile, SupportMessage

CASE_COLUMNS = ("case_number", "subject", "site_name", "gateway_id", "device_type", "serial",
                "error_code", "error_started_at", "category", "detail", "state", "created_at",
                "updated_at")


def _cases(account) -> Table:
    rows = db.session.execute(
        select(SupportCase, Gateway.gateway_id)
        .outerjoin(Gateway, Gateway.id == SupportCase.gateway_id)
        .where(SupportCase.account_id == account.id).order_by(SupportCase.created_at))
    return Table(CASE_COLUMNS, [{
        "case_number": case.number, "subject": case.subject, "site_name": case.site_name,
        "gateway_id": code, "device_type": case.device_type, "serial": case.serial,
        "error_code": case.error_code, "error_started_at": iso(case.error_started_at),
        "category": case.category_name, "detail": case.detail_name,
        "state": getattr(case.state, "value", case.state), "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at)} for case, code in rows])


def _messages(account) -> Table:
    account_id = account.id  # the job commits between batches: no reload per row
    statement = (select(SupportCase.number, SupportMessage.created_at, SupportMessage.from_staff,
                        SupportMessage.author_id, SupportMessage.body)
                 .join(SupportCase, SupportCase.id == SupportMessage.case_id)
                 .where(SupportCase.account_id == account_id,
                        SupportMessage.internal.is_(False))
                 .order_by(SupportCase.created_at, SupportMessage.id))
    return Table(("case_number", "created_at", "from", "body"), streamed(statement, lambda row: {
        "case_number": row.number, "created_at": iso(row.created_at),
        "from": ("support" if row.from_staff
                 else "you" if row.author_id == account_id else "your_company"),
        "body": row.body}))


def _files(account) -> Table:
    rows = db.session.execute(
        select(SupportCase.number, SupportFile.name, SupportFile.content_type, SupportFile.size,
               SupportFile.created_at)
        .join(SupportCase, SupportCase.id == SupportFile.case_id)
        .join(SupportMessage, SupportMessage.id == SupportFile.message_id)
        .where(SupportCase.account_id == account.id, SupportMessage.internal.is_(False))
        .order_by(SupportCase.created_at, SupportFile.id))
    return Table(("case_number", "name", "content_type", "size", "created_at"),
                 [{"case_number": row.number, "name": row.name,
                   "content_type": row.content_type, "size": row.size,
                   "created_at": iso(row.created_at)} for row in rows])


def _phone_requests(account) -> Table:
    rows = db.session.execute(
        select(SupportCase.number, PhoneRequest.contact_name, PhoneRequest.phone,
               PhoneRequest.topic, PhoneRequest.slot_at, PhoneRequest.state,
               PhoneRequest.staff_note, PhoneRequest.created_at)
        .join(SupportCase, SupportCase.id == PhoneRequest.case_id)
        .where(PhoneRequest.requested_by_id == account.id).order_by(PhoneRequest.created_at))
    return Table(("case_number", "contact_name", "phone", "topic", "slot_at", "state",
                  "support_note", "created_at"),
                 [{"case_number": row.number, "contact_name": row.contact_name,
                   "phone": row.phone, "topic": row.topic, "slot_at": iso(row.slot_at),
                   "state": getattr(row.state, "value", row.state),
                   "support_note": row.staff_note, "created_at": iso(row.created_at)}
                  for row in rows])


def support_tables(account) -> dict:
    return {"cases": _cases(account), "messages": _messages(account), "files": _files(account),
            "phone_requests": _phone_requests(account)}
