"""Audit rows for every state change that matters.

Rows are written, never edited nor deleted by the app: a `before_flush` guard on every
session refuses a flush in which an `AuditEvent` is changed or deleted
(`AuditRowImmutable`), so no route and no service can do it by mistake. What stays is
the anonymisation of a deleted account: the database's ON DELETE SET NULL of
`actor_id`/`subject_id` (and the account deletion's bulk statement that does the same on
databases without enforced foreign keys) empties who it was, it does not change what
was done."""
from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from models import db
from models.audit import AuditEvent


class AuditRowImmutable(RuntimeError):
    """An audit row was changed or deleted through the ORM."""


def record(action: str, actor_id: int | None = None, subject_id: int | None = None,
           **detail) -> AuditEvent:
    """Add an audit row to the current transaction (the caller commits)."""
    ip = request.remote_addr if has_request_context() else None
    gateway_id = detail.get("gateway_id")
    event = AuditEvent(action=action, actor_id=actor_id, subject_id=subject_id, ip=ip,
                       gateway_id=gateway_id[:12] if isinstance(gateway_id, str) else None,
                       detail=detail)
    db.session.add(event)
    return event


@event.listens_for(Session, "before_flush")
def _refuse_changed_audit_rows(session, _flush_context, _instances) -> None:
    for row in session.deleted:
        if isinstance(row, AuditEvent):
            raise AuditRowImmutable(f"audit row {row.id} cannot be deleted")
    for row in session.dirty:
        if isinstance(row, AuditEvent) and session.is_modified(row, include_collections=False):
            raise AuditRowImmutable(f"audit row {row.id} cannot be changed")
