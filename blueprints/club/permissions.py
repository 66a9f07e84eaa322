"""Login permissions: an owner names a dealer's address, the dealer approves or rejects,
the owner may withdraw. A dealer company sees an owner's registration and may open a
proxy login only while a permission of that owner for that dealer is approved."""
from __future__ import annotations

from sqlalchemy import select

from models import db
from models.club import LoginPermission, PermissionState


def approved_permission(owner_id: int, dealer_id: int) -> LoginPermission | None:
    """The owner's approved permission for the dealer company, or None."""
    return db.session.scalar(
        select(LoginPermission).where(LoginPermission.owner_id == owner_id,
                                      LoginPermission.dealer_id == dealer_id,
                                      LoginPermission.state == PermissionState.APPROVED)
        .limit(1))
