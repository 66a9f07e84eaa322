"""The owners club (seed 003 and product registration of seed 000): the owner's マイページ
with registered products, service subscriptions and お客様情報; the dealers' mail-first
sign-up; login permissions owners give dealers (approved by the dealer); the dealer's
list of registered users and proxy login (代理ログイン).

Registers with core's registry: launcher tiles, demo data, the owner's access lines
(permissions, proxy sessions), the actions refused while acting for an owner."""
from flask import Blueprint

bp = Blueprint("club", __name__)
URL_PREFIX = "/club"

# -- products and マイページ --
from flask_babel import lazy_gettext as _l  # noqa: E402

from blueprints.club import demo, mypage_views, products  # noqa: E402,F401
from blueprints.core import registry  # noqa: E402

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
