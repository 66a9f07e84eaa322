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

# >>> twostep
# The dealer's pages of the club (販売店情報, 登録ユーザー一覧 and a user's page) and the
# proxy login open only after the second sign-in step.
registry.second_step_required("club.proxy_start", "club.dealer_info", "club.dealer_info_edit",
                              "club.dealer_users", "club.dealer_user")
# <<< twostep
