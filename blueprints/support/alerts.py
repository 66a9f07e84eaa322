"""「サポートに相談」 where an owner or a linked dealer first learns of a fault: the alert
mail of an error (異常) and the monitoring page while the error lasts. Both open a new case
pre-filled from the alert (`support.new_case?alert=<id>`: the gateway, site, unit, serial,
error code and the time the error began)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select

from blueprints.core.links import public_url
from blueprints.core.registry import MailAction, Panel
from models import db
from models.telemetry import AlertKind, GatewayAlert


def alert_mail_action(gateway, alert) -> MailAction | None:
    """The link at the end of an error's alert mail; none for silence or a recovery."""
    if alert.kind != AlertKind.ERROR.value or alert.ended_at is not None:
        return None
    return MailAction(_l("サポートに相談する（ケースを作成）"),
                      public_url("support.new_case", alert=alert.id))


# The monitoring page's panel: built once with bound parameters (SQLAlchemy then neither
# builds the statement nor computes its cache key per request).
_OPEN_ERROR = select(GatewayAlert).where(
    GatewayAlert.gateway_id == bindparam("gateway"), GatewayAlert.kind == AlertKind.ERROR.value,
    GatewayAlert.ended_at.is_(None)).limit(1)


def monitoring_panel(gateway, account) -> Panel | None:
    """While the gateway reports an error: 「サポートに相談」 (one query)."""
    if account is None or not getattr(account, "is_authenticated", False):
        return None
    alert = db.session.scalar(_OPEN_ERROR, dict(gateway=gateway.id))
    if alert is None:
        return None
    return Panel("support/_alert_panel.html", dict(alert=alert))
