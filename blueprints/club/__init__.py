"""The owners club (seed 003 and product registration of seed 000): the owner's マイページ
with registered products, service subscriptions and お客様情報; the dealers' mail-first
sign-up; login permissions owners give dealers (approved by the dealer); the dealer's
list of registered users and proxy login (代理ログイン).

Registers with core's registry: launcher tiles, demo data, the owner's access lines
(permissions, proxy sessions), the actions refused while acting for an owner."""
from flask import Blueprint

bp = Blueprint("club", __name__)
URL_PREFIX = "/club"

# -- proxy login (代理ログイン) --
from blueprints.club import proxy, proxy_views  # noqa: E402
from blueprints.core import registry  # noqa: E402

registry.acting_check(proxy_views.acting)
registry.page_banner(proxy_views.banner)
registry.access_lines(proxy_views.access_lines)
registry.on_signed_out(proxy.proxy_signed_out)
# While acting for the owner: no new proxy login, no ending one from the owner's access
# page, and no granting or withdrawing the owner's login permissions (お客様情報's
# permission part and the withdraw action, built in another part of issue 11).
registry.refuse_while_acting("club.proxy_start", "club.proxy_end",
                             "club.customer_info_edit", "club.permission_withdraw")
