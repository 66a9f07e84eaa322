"""The owners club (seed 003 and product registration of seed 000): the owner's マイページ
with registered products, service subscriptions and お客様情報; the dealers' mail-first
sign-up; login permissions owners give dealers (approved by the dealer); the dealer's
list of registered users and proxy login (代理ログイン).

Registers with core's registry: launcher tiles, demo data, the owner's access lines
(permissions, proxy sessions), the actions refused while acting for an owner."""
from flask import Blueprint

bp = Blueprint("club", __name__)
URL_PREFIX = "/club"

from flask_babel import lazy_gettext as _l  # noqa: E402

from blueprints.club import (dealer_services, dealer_views, demo, mypage_views,  # noqa: E402,F401
                             permission_views, permissions, products, proxy, proxy_views)
from blueprints.core import registry  # noqa: E402
from blueprints.dealers.services import dealer_for_account  # noqa: E402
from mail import on_mail_request  # noqa: E402

# -- products and マイページ --
registry.launcher_tile(
    registry.LauncherTile(_l("オーナーズクラブ"),
                          _l("マイページ: 登録製品・保証期限・サービス加入状況・電力データ"),
                          "club.mypage", "club"),
    allowed=lambda account: True, order=25)
registry.demo_data("club products", demo.seed_demo_products, order=40)
registry.on_gateway_event("exchanged", products.move_to_new_gateway)
registry.on_gateway_event("retired", products.detach_from_gateways)
registry.on_gateway_event("released", products.detach_from_gateways)
registry.on_account_deleted(products.delete_owner_products)
# Deleting a product registered by hand cannot be undone (its registration date is what
# grants the warranty extension): the owner does it, not a dealer acting for them.
registry.refuse_while_acting("club.product_delete")

# -- dealer sign-up --
registry.launcher_tile(
    registry.LauncherTile(_l("販売店情報"),
                          _l("販売店ID・企業名・住所・電話番号の確認と変更"),
                          "club.dealer_info", "dealers"),
    allowed=lambda account: dealer_for_account(account) is not None, order=42)
# Whoever acts for an owner never changes a dealer's registration.
registry.refuse_while_acting("club.dealer_info_edit")
# Whether the sign-up link or an "you already have an ID" mail goes out: the relay decides.
on_mail_request(dealer_services.DEALER_SIGNUP, dealer_services.dealer_signup_requested)

# -- proxy login (代理ログイン) --
registry.acting_check(proxy_views.acting)
registry.page_banner(proxy_views.banner)
registry.access_lines(proxy_views.access_lines)
registry.on_signed_out(proxy.proxy_signed_out)
registry.on_sessions_revoked(proxy.end_for_revoked_sessions)
# While acting for the owner: no new proxy login, no ending one from the owner's access
# page (granting and withdrawing permissions are refused below).
registry.refuse_while_acting("club.proxy_start", "club.proxy_end")

# -- permissions: お客様情報, login permissions, 登録ユーザー一覧 --
registry.launcher_tile(
    registry.LauncherTile(_l("登録ユーザー一覧"),
                          _l("ログインを許可されたお客様の一覧・検索・登録製品情報の確認"),
                          "club.dealer_users", "club"),
    allowed=lambda account: permissions.dealer_of(account) is not None, order=42)
registry.access_lines(permissions.access_lines)
registry.refuse_while_acting(permission_views.GRANT, "club.permission_withdraw")
registry.demo_data("club_permissions", demo.seed_demo_permissions, order=60)
on_mail_request(permissions.PERMISSION_REQUEST, permissions.permission_requested)

# >>> export (helper E): what this service keeps about an account, for 個人データのダウンロード
from blueprints.club import personal_data as _personal_data  # noqa: E402

registry.personal_data("club", _personal_data.club_tables, order=50)
# <<< export
# >>> handover: products detach as on release; a running proxy login stops a hand-over;
# the login permissions of dealers that looked after the gateway end with it
from flask_babel import gettext as _gettext  # noqa: E402
from sqlalchemy import select as _select  # noqa: E402

from blueprints.core import audit as _audit  # noqa: E402
from models import JST as _JST  # noqa: E402
from models import db as _db  # noqa: E402
from models import utcnow as _utcnow  # noqa: E402
from models.club import LoginPermission as _LoginPermission  # noqa: E402
from models.club import PermissionState as _PermissionState  # noqa: E402
from models.club import ProxySession as _ProxySession  # noqa: E402
from models.gateway import DealerLink as _DealerLink  # noqa: E402
from models.gateway import Gateway as _Gateway  # noqa: E402


def _proxy_blocks_handover(gateway):
    """A dealer acting for the owner right now stops the hand-over of the owner's gateway."""
    if gateway.owner_id is None:
        return None
    running = _db.session.scalar(
        _select(_ProxySession).where(_ProxySession.owner_id == gateway.owner_id,
                                     _ProxySession.ended_at.is_(None),
                                     _ProxySession.expires_at > _utcnow())
        .order_by(_ProxySession.expires_at.desc()).limit(1))
    if running is None:
        return None
    return _gettext("%(dealer)s による代理ログインが実行中です（%(until)s まで）。"
                    "「わが家の情報を見られる人」で「今すぐ終了」を押すか、終了してから譲渡してください。",
                    dealer=running.dealer_name,
                    until=running.expires_at.astimezone(_JST).strftime("%H:%M"))


def _end_permissions_for_handover(gateway_pks, now, reason) -> None:
    """ゲートウェイの譲渡 (run while the gateway still has its owner and links): the
    owner's login permissions end for the dealers linked to the gateway that look after
    none of the owner's other gateways, and for every dealer when the owner keeps no
    gateway; unused approval links end with them. Audited."""
    from blueprints.club.permissions import _end_approval_links
    from blueprints.gateways.management import MANAGEABLE_STATUSES

    for gateway in _db.session.scalars(_select(_Gateway).where(_Gateway.id.in_(list(gateway_pks)))):
        if gateway.owner_id is None:
            continue
        others = _select(_Gateway.id).where(
            _Gateway.owner_id == gateway.owner_id, _Gateway.id.not_in(list(gateway_pks)),
            _Gateway.status.in_([s.value for s in MANAGEABLE_STATUSES]))
        keeps_gateways = _db.session.scalar(others.limit(1)) is not None
        statement = _select(_LoginPermission).where(
            _LoginPermission.owner_id == gateway.owner_id,
            _LoginPermission.state.in_([_PermissionState.PENDING.value,
                                        _PermissionState.APPROVED.value]))
        if keeps_gateways:
            linked = _select(_DealerLink.dealer_id).where(_DealerLink.gateway_id == gateway.id)
            elsewhere = _select(_DealerLink.dealer_id).where(_DealerLink.gateway_id.in_(others))
            statement = statement.where(_LoginPermission.dealer_id.in_(linked),
                                        _LoginPermission.dealer_id.not_in(elsewhere))
        for permission in _db.session.scalars(statement.with_for_update()):
            previous = _PermissionState(permission.state).value
            permission.state = _PermissionState.WITHDRAWN
            permission.withdrawn_at = now
            _end_approval_links(permission)
            _audit.record("club.permission_withdraw", actor_id=gateway.owner_id,
                          subject_id=gateway.owner_id, permission_id=permission.id,
                          previous=previous, reason=reason, gateway_id=gateway.gateway_id)


registry.on_gateway_event("handed_over", products.detach_from_gateways)
registry.on_gateway_event("handed_over", _end_permissions_for_handover)
registry.handover_blocker(_proxy_blocks_handover)
# <<< handover
# >>> twostep
# The dealer's pages of the club (販売店情報, 登録ユーザー一覧 and a user's page) and the
# proxy login open only after the second sign-in step.
registry.second_step_required("club.proxy_start", "club.dealer_info", "club.dealer_info_edit",
                              "club.dealer_users", "club.dealer_user")
# <<< twostep
# >>> help: this service's よくある質問 (help/faq/club.toml, edited by the operator)
registry.faq("club", _l("オーナーズクラブに関するよくある質問"), "club.toml", order=50)
# <<< help
