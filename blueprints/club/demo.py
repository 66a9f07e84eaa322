"""Demo data of the owners club for `make run`."""
from __future__ import annotations


# -- permissions --
def seed_demo_permissions() -> list[str]:
    """The demo owner has approved the demo dealer (so that its 登録ユーザー一覧 is not
    empty) and has one permission waiting for a dealer's answer."""
    from sqlalchemy import select

    from blueprints.account.services import find_account
    from blueprints.club.permissions import dealer_of
    from models import db, utcnow
    from models.club import LoginPermission, PermissionState

    owner, admin = find_account("owner@example.com"), find_account("dealer@example.com")
    dealer = dealer_of(admin) if admin is not None else None
    if owner is None or dealer is None:
        return []
    wanted = [(admin.email, PermissionState.APPROVED, dealer.id),
              ("info@installer.example", PermissionState.PENDING, None)]
    for email, state, dealer_id in wanted:
        exists = db.session.scalar(select(LoginPermission.id).where(
            LoginPermission.owner_id == owner.id, LoginPermission.email == email))
        if exists is None:
            now = utcnow()
            db.session.add(LoginPermission(
                owner_id=owner.id, email=email, state=state, dealer_id=dealer_id,
                requested_at=now, decided_at=now if state == PermissionState.APPROVED else None,
                decided_by_id=admin.id if state == PermissionState.APPROVED else None))
    db.session.commit()
    return [f"Demo login permissions: {owner.email} → {admin.email} (許可済み), "
            "info@installer.example (承認待ち)"]
# -- end permissions --
