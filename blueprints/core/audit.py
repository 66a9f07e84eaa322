"""Audit rows for every state change that matters."""
from __future__ import annotations

from flask import has_request_context, request

from models import db
from models.audit import AuditEvent


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
