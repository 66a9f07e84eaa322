"""Helpers for flow tests: walking the sign-up wizard, reading mail from the outbox,
readings as a gateway sends them."""
from __future__ import annotations

import re

from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import event, select

from blueprints.monitoring.telemetry import JST
from models import db, utcnow
from models.mail import OutboxMail
from tests.conftest import csrf_from, links_in, path_of

# A page's CSRF tokens (the form field's and htmx's header on <body>): each carries the
# second it was signed, so two answers compared as text must have them blanked
CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*value="|"X-CSRFToken": ")[^"]+(")')


def without_csrf(body: str) -> str:
    """The page with its CSRF tokens blanked (`-`)."""
    return CSRF_VALUE.sub(r"\1-\2", body)

PASSWORD = "Sunny-Roof-2026!"
HX = {"HX-Request": "true"}

NAME_STEP = {
    "family_name": "山田", "given_name": "太郎", "email": "taro@example.com",
    "password": PASSWORD, "password_confirm": PASSWORD,
}
PERSONAL_DETAILS = {
    "address-postal_code": "103-0026", "address-prefecture": "東京都",
    "address-city": "中央区", "address-street": "日本橋兜町1丁目2番3号",
    "address-building": "", "phone": "090-1234-5678",
    "accept_terms": "y", "accept_privacy": "y",
}
COMMERCIAL_DETAILS = {
    "company_name": "テスト電設株式会社", "company_kind": "installer",
    "registration_number": "7000012050002",
    "company_address-postal_code": "1030026", "company_address-prefecture": "東京都",
    "company_address-city": "中央区", "company_address-street": "日本橋兜町2-1",
    "company_address-building": "兜町ビル3F", "company_email": "info@denki.example",
    "website": "https://denki.example", "company_phone": "03-1234-5678",
    "department": "工事部", "position": "課長",
    "phones-0-kind": "mobile", "phones-0-number": "080-1111-2222",
    "accept_terms": "y", "accept_privacy": "y", "newsletter": "y",
}


def post_step(client, step: str, data: dict, htmx: bool = False):
    url = f"/account/signup/{step}"
    page = client.get(url, headers=HX if htmx else {})
    token = csrf_from(page.get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, headers=HX if htmx else {})


def sign_up(client, email="taro@example.com", account_type="personal", htmx=False,
            details=None, name=None):
    """Walk the three steps; returns the response of the last one."""
    post_step(client, "name", {**NAME_STEP, **(name or {}), "email": email}, htmx)
    post_step(client, "type", {"account_type": account_type}, htmx)
    details = details or (COMMERCIAL_DETAILS if account_type == "commercial"
                          else PERSONAL_DETAILS)
    return post_step(client, "details", details, htmx)


def outbox(recipient: str | None = None, kind: str | None = None) -> list[OutboxMail]:
    """The mail written so far, oldest first. Mail requests (password reset, activation
    resent: decided off the request path) are decided first, as the relay would."""
    from mail.relay import prepare_requested

    prepare_requested(limit=1000)
    statement = select(OutboxMail).order_by(OutboxMail.id)
    if recipient:
        statement = statement.where(OutboxMail.recipient == recipient)
    if kind:
        statement = statement.where(OutboxMail.kind == kind)
    db.session.expire_all()
    return list(db.session.scalars(statement))


def last_link(recipient: str, kind: str) -> str:
    """The path of the first link in the newest mail of `kind` to `recipient`."""
    mails = outbox(recipient, kind)
    assert mails, f"no {kind} mail to {recipient}"
    return path_of(links_in(mails[-1].text_body)[0])


def login(client, email="taro@example.com", password=PASSWORD, remember=False):
    token = csrf_from(client.get("/account/login").get_data(as_text=True))
    data = {"email": email, "password": password, "csrf_token": token}
    if remember:
        data["remember"] = "y"
    return client.post("/account/login", data=data)


def signed_up_and_active(client, email="taro@example.com", account_type="personal"):
    sign_up(client, email=email, account_type=account_type)
    response = client.get(last_link(email, "activation"))
    assert response.status_code == 200
    return response


def slot_end(minutes_ago: int = 0) -> datetime:
    """The end of the newest complete 5-minute period (never in the future), minus
    `minutes_ago` minutes, in UTC: a valid reading timestamp."""
    now = utcnow()
    newest = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    return newest - timedelta(minutes=minutes_ago)


def reading(ts: datetime, units=None, **fields) -> dict:
    """A good reading (as a gateway sends it) for the 5 minutes ending at `ts`, sent in
    Japan time; by default for power conditioners 1 (normal) and 2 (standby)."""
    body = {"timestamp": ts.astimezone(JST).isoformat(), "pv_kw": 3.2, "load_kw": 0.8,
            "battery_kw": 1.5, "battery_state": "charging", "soc": 82, "sell_kw": 0.9,
            "buy_kw": 0.0,
            "units": units if units is not None else [
                {"unit": 1, "status": "normal", "error_code": None},
                {"unit": 2, "status": "standby", "error_code": None}]}
    body.update(fields)
    return body


def add_units(gateway, count: int = 1) -> None:
    """Power conditioners 1..count for a gateway made in a test (readings name them)."""
    from models import db
    from models.gateway import PcsUnit

    for unit_no in range(1, count + 1):
        db.session.add(PcsUnit(gateway_id=gateway.id, unit_no=unit_no, model="PCS-5K",
                               serial=f"T{gateway.id:03d}{unit_no:04d}"[:8]))
    db.session.commit()


@contextmanager
def statements():
    """The SQL statements run meanwhile (their text, not their parameters)."""
    seen: list[str] = []

    def listener(_conn, _cursor, statement, _parameters, _context, _executemany):
        seen.append(statement)

    db.session.commit()
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


def make_staff(account, *roles: str):
    """Make `account` staff with `roles` (see `blueprints.core.staff.STAFF_ROLES`): each
    staff page opens only for its role (or a staff admin). Commits; returns the account."""
    from models.account import Role
    from models.trust import StaffGrant

    account.role = Role.STAFF
    db.session.flush()
    for role in roles:
        db.session.add(StaffGrant(account_id=account.id, role=role))
    db.session.commit()
    return account
