"""/staff/audit: the audit rows newest first with filters (actor, subject, gateway,
action, Japan-time period), their CSV (BOM, filters, no formulas), the proxy sessions
with their changes, and audit rows that the app cannot change or delete."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select

from blueprints.core import audit
from blueprints.core.audit import AuditRowImmutable
from blueprints.core.staff import ADMIN
from blueprints.staff.auditlog import csv_cell
from models import db, utcnow
from models.audit import AuditEvent
from models.club import ProxySession
from tests.flows.test_dealer_links import make_owner
from tests.helpers import login, make_staff, statements

ADMIN_EMAIL = "admin@example.com"
UTC = timezone.utc


def event(action, actor=None, subject=None, at=None, **detail) -> AuditEvent:
    row = audit.record(action, actor_id=actor.id if actor else None,
                       subject_id=subject.id if subject else None, **detail)
    if at is not None:
        row.at = at
    db.session.commit()
    return row


@pytest.fixture
def world(app):
    admin = make_staff(make_owner(ADMIN_EMAIL, "管理", "一郎"), ADMIN)
    owner = make_owner("owner@example.com", "山田", "太郎")
    other = make_owner("other@example.com", "佐藤", "次郎")
    client = app.test_client()
    assert login(client, ADMIN_EMAIL).status_code == 303
    db.session.execute(delete(AuditEvent))  # the sign-in's own rows: a clean slate
    db.session.commit()
    return {"admin": admin, "owner": owner, "other": other, "client": client}


def shown(client, **args) -> str:
    response = client.get("/staff/audit", query_string=args)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True)


def marks(html: str) -> list[str]:
    """The `mark` details of the rows on the page, in page order."""
    import re
    return re.findall(r'&#34;mark&#34;:&#34;(\w+)&#34;', html)


def test_rows_newest_first_in_japan_time_with_escaped_detail(world):
    owner = world["owner"]
    event("account.login", owner, owner, at=datetime(2026, 5, 1, 15, 30, tzinfo=UTC),
          mark="older")
    event("gateways.registered", owner, owner, gateway_id="01AB12345678",
          at=datetime(2026, 5, 2, 1, 0, tzinfo=UTC), mark="newer", note="<script>x</script>")
    html = shown(world["client"])
    assert marks(html) == ["newer", "older"]
    assert "2026年05月02日 00:30" in html  # 15:30 UTC is 00:30 the next day in Japan
    assert "01AB12345678" in html and "owner@example.com" in html
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html


def test_each_filter(world):
    owner, other, admin = world["owner"], world["other"], world["admin"]
    event("account.login", owner, owner, at=datetime(2026, 5, 1, 14, 0, tzinfo=UTC),
          mark="a")  # 23:00 JST, 1 May
    event("account.password_changed", other, other,
          at=datetime(2026, 5, 1, 15, 0, tzinfo=UTC), mark="b")  # 00:00 JST, 2 May
    event("support.assigned", admin, owner, gateway_id="01AB12345678",
          at=datetime(2026, 5, 3, 3, 0, tzinfo=UTC), mark="c")
    client = world["client"]
    assert marks(shown(client)) == ["c", "b", "a"]
    assert marks(shown(client, actor="OWNER@example.com")) == ["a"]
    assert marks(shown(client, actor=owner.customer_number)) == ["a"]
    assert marks(shown(client, subject="owner@example.com")) == ["c", "a"]
    assert marks(shown(client, subject=other.customer_number)) == ["b"]
    assert marks(shown(client, gateway="01ab-1234-5678")) == ["c"]
    assert marks(shown(client, action="account.")) == ["b", "a"]
    assert marks(shown(client, action="support.")) == ["c"]
    assert marks(shown(client, date_from="2026-05-02")) == ["c", "b"]
    assert marks(shown(client, date_to="2026-05-01")) == ["a"]
    assert marks(shown(client, date_from="2026/5/2", date_to="2026-05-02")) == ["b"]
    assert marks(shown(client, actor="nobody@example.com")) == []
    assert marks(shown(client, actor="owner@example.com", action="support.")) == []
    html = shown(client)
    assert '<option value="account.">' in html and '<option value="support.">' in html


@pytest.mark.parametrize("args, field, message", [
    ({"actor": "a\x00b"}, "actor", "使用できない文字"),
    ({"subject": "x" * 300}, "subject", "文字以内"),
    ({"gateway": "\x1b[0m"}, "gateway", "使用できない文字"),
    ({"action": "drop table."}, "action", "一覧から選択してください"),
    ({"date_from": "yesterday"}, "date_from", "日付は年・月・日で入力してください"),
    ({"date_from": "2026-05-03", "date_to": "2026-05-01"}, "date_to", "終了日は開始日以降"),
])
def test_bad_filters_are_422_with_the_message_and_filter_nothing(world, args, field, message):
    owner = world["owner"]
    event("account.login", owner, owner, mark="a")
    response = world["client"].get("/staff/audit", query_string=args)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in html and message in html
    assert marks(html) == ["a"]
    csv_response = world["client"].get("/staff/audit.csv", query_string=args, buffered=True)
    assert csv_response.status_code == 200 and csv_response.get_data()


def test_fifty_a_page_and_the_statements_do_not_grow_with_the_rows(world):
    owner, other = world["owner"], world["other"]
    start = utcnow() - timedelta(days=1)
    for n in range(120):
        audit.record("account.login", actor_id=owner.id if n % 2 else other.id,
                     subject_id=other.id, mark=f"m{n}").at = start + timedelta(minutes=n)
    db.session.commit()
    client = world["client"]
    first = shown(client)
    assert marks(first)[:2] == ["m119", "m118"] and len(marks(first)) == 50
    assert "1 / 3 ページ（全120件）" in first and 'rel="next"' in first
    third = shown(client, page="3")
    assert len(marks(third)) == 20 and marks(third)[-1] == "m0"
    assert len(marks(shown(client, page="999999"))) == 20  # past the end: the last page
    assert len(marks(shown(client, page="-1"))) == 50
    with statements() as many:
        shown(client)
    db.session.execute(delete(AuditEvent).where(AuditEvent.id.in_(
        select(AuditEvent.id).order_by(AuditEvent.id).limit(117))))
    db.session.commit()
    with statements() as few:
        assert len(marks(shown(client))) == 3
    assert len(many) == len(few)


def read_csv(response) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_has_a_bom_the_filters_and_no_formulas(world):
    formula = make_owner("=HYPERLINK(1)@example.com", "計算", "式")
    event("account.login", formula, formula, gateway_id="01AB12345678", mark="f",
          at=datetime(2026, 5, 2, 0, 0, tzinfo=UTC))
    event("account.logout", world["owner"], world["owner"], mark="o",
          at=datetime(2026, 5, 1, 0, 0, tzinfo=UTC))
    response = world["client"].get("/staff/audit.csv", buffered=True)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    header, *rows = read_csv(response)
    assert header[0] == "日時（日本時間）" and len(rows) == 2
    newest = rows[0]
    assert newest[0] == "2026-05-02 09:00:00" and newest[1] == "account.login"
    assert newest[2] == "'=HYPERLINK(1)@example.com"  # not a formula any more
    assert newest[6] == "01AB12345678" and '"mark":"f"' in newest[8]
    filtered = read_csv(world["client"].get("/staff/audit.csv",
                                            query_string={"action": "account.",
                                                          "date_to": "2026-05-01"},
                                            buffered=True))
    assert [row[1] for row in filtered[1:]] == ["account.logout"]
    for value in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert csv_cell(value) == "'" + value
    assert csv_cell("山田") == "山田" and csv_cell(None) == "" and csv_cell(12) == "12"


def proxy(owner, employee, started_at, reason, changes=(), ended=None) -> ProxySession:
    row = ProxySession(owner_id=owner.id, dealer_name="販売店1株式会社",
                       actor_id=employee.id if employee else None,
                       actor_name="鈴木 一郎", reason=reason, started_at=started_at,
                       expires_at=started_at + timedelta(minutes=30),
                       ended_at=ended, end_reason="returned" if ended else None,
                       changes=list(changes))
    db.session.add(row)
    db.session.commit()
    return row


def test_proxy_sessions_with_their_changes_and_filters(world):
    owner, other = world["owner"], world["other"]
    employee = make_owner("employee@dealer1.example", "鈴木", "一郎")
    another = make_owner("another@dealer1.example", "田中", "三郎")
    start = datetime(2026, 5, 1, 1, 0, tzinfo=UTC)
    proxy(owner, employee, start, "点検の予約<b>", ended=start + timedelta(minutes=10),
          changes=[{"at": (start + timedelta(minutes=5)).isoformat(),
                    "endpoint": "club.info_edit", "path": "/club/mypage/info/edit"}])
    proxy(other, another, start + timedelta(days=2), "設定の確認")
    client = world["client"]
    page = client.get("/staff/audit/proxy")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "点検の予約&lt;b&gt;" in html and "/club/mypage/info/edit" in html
    assert "2026年05月01日 10:05" in html and "販売店が終了" in html  # change time, end reason
    assert html.index("設定の確認") < html.index("点検の予約")  # newest first

    def reasons(**args):
        response = client.get("/staff/audit/proxy", query_string=args)
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        return [r for r in ("点検の予約", "設定の確認") if r in text]

    assert reasons(owner="owner@example.com") == ["点検の予約"]
    assert reasons(owner=other.customer_number) == ["設定の確認"]
    assert reasons(employee="another@dealer1.example") == ["設定の確認"]
    assert reasons(date_to="2026-05-02") == ["点検の予約"]
    assert reasons(date_from="2026-05-03") == ["設定の確認"]
    bad = client.get("/staff/audit/proxy", query_string={"owner": "\x00"})
    assert bad.status_code == 422 and "使用できない文字" in bad.get_data(as_text=True)


def test_audit_rows_cannot_be_changed_or_deleted_through_the_app(app, world):
    row = event("account.login", world["owner"], world["owner"], mark="kept")
    row.action = "account.nothing"
    with pytest.raises(AuditRowImmutable):
        db.session.flush()
    db.session.rollback()
    row = db.session.get(AuditEvent, row.id)
    db.session.delete(row)
    with pytest.raises(AuditRowImmutable):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(AuditEvent, row.id).action == "account.login"
    # New rows are fine, and no route of the app changes them.
    event("account.logout", world["owner"], world["owner"])
    changing = [rule.rule for rule in app.url_map.iter_rules()
                if "audit" in rule.rule and rule.methods & {"POST", "PUT", "PATCH", "DELETE"}]
    assert changing == []
