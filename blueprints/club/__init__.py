"""The owners club (seed 003 and product registration of seed 000): the owner's マイページ
with registered products, service subscriptions and お客様情報; the dealers' mail-first
sign-up; login permissions owners give dealers (approved by the dealer); the dealer's
list of registered users and proxy login (代理ログイン).

Registers with core's registry: launcher tiles, demo data, the owner's access lines
(permissions, proxy sessions), the actions refused while acting for an owner."""
from flask import Blueprint

bp = Blueprint("club", __name__)
URL_PREFIX = "/club"

# -- permissions: お客様情報, login permissions, 登録ユーザー一覧 --
from flask_babel import lazy_gettext as _l  # noqa: E402

from blueprints.club import demo, permission_views, permissions  # noqa: E402,F401
from blueprints.core import registry  # noqa: E402
from mail import on_mail_request  # noqa: E402

registry.launcher_tile(
    registry.LauncherTile(_l("登録ユーザー一覧"),
                          _l("ログインを許可されたお客様の一覧・検索・登録製品情報の確認"),
                          "club.dealer_users", "club"),
    allowed=lambda account: permissions.dealer_of(account) is not None, order=42)
registry.access_lines(permissions.access_lines)
registry.refuse_while_acting(permission_views.GRANT, "club.permission_withdraw")
registry.demo_data("club_permissions", demo.seed_demo_permissions, order=60)
on_mail_request(permissions.PERMISSION_REQUEST, permissions.permission_requested)
# -- end permissions --
