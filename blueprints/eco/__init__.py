"""The eco programme (みんなでつくるエコ活, seed 001 §1, seed 002 STEP4): eligibility per
gateway, the guidance mail, 申込 / 照会 / 解約 from the gateways main menu.

Registers with core's registry: the main-menu entry and the STEP4 offer (page sections),
the guidance job, the owner's access line, gateway events and the deletion hook."""
from flask import Blueprint

bp = Blueprint("eco", __name__)
URL_PREFIX = "/eco"

# >>> eco (helper A) registrations
from blueprints.core import registry  # noqa: E402
from blueprints.eco import cli, demo, panels, services, views  # noqa: E402,F401

registry.page_section("gateways.menu", panels.menu_entry)
registry.page_section("gateways.registration_complete", panels.registration_offer)
registry.access_lines(panels.access_lines)
registry.periodic_job(services.send_guidance)
registry.cli_command("eco", cli.guide_command, help="The eco programme (みんなでつくるエコ活).")
registry.on_gateway_event("exchanged", services.move_to_new_gateway)
registry.on_gateway_event("retired", services.end_disposed)
registry.on_gateway_event("released", services.end_released)
registry.on_account_deleted(services.end_for_deleted_account)
registry.demo_data("eco", demo.seed_demo_eco, order=70)
# The owner signs the declarations and the 会員規約, and cancels, themselves: never a
# dealer acting for them.
registry.refuse_while_acting("eco.terms", "eco.apply", "eco.cancel")
# <<< eco

# >>> export (helper E): what this service keeps about an account, for 個人データのダウンロード
from blueprints.eco import personal_data as _personal_data  # noqa: E402

registry.personal_data("eco", _personal_data.eco_tables, order=60)
# <<< export
# >>> handover: the gateway's running membership ends as on release, and its member is told
from sqlalchemy import select as _select  # noqa: E402

from mail import messages as _messages  # noqa: E402
from models import db as _db  # noqa: E402
from models.account import Account as _Account  # noqa: E402
from models.eco import EcoMembership as _EcoMembership  # noqa: E402


def _end_handed_over(gateway_pks, now, reason) -> None:
    """ゲートウェイの譲渡: end_released, then 【解約完了のお知らせ】 to each member whose
    membership it ended (the new owner may apply again for themselves)."""
    running = list(_db.session.scalars(_select(_EcoMembership).where(
        _EcoMembership.gateway_id.in_(list(gateway_pks)), _EcoMembership.ended_at.is_(None))))
    services.end_released(gateway_pks, now, reason)
    for membership in running:
        _db.session.refresh(membership)
        account = _db.session.get(_Account, membership.account_id) \
            if membership.account_id is not None else None
        if account is not None and account.is_active:
            _messages.send_eco_cancelled_mail(account, membership)


registry.on_gateway_event("handed_over", _end_handed_over)
# <<< handover
# >>> help: this service's よくある質問 (help/faq/eco.toml, edited by the operator)
from flask_babel import lazy_gettext as _l  # noqa: E402

registry.faq("eco", _l("みんなでつくるエコ活サークルに関するよくある質問"), "eco.toml", order=60)
# <<< help
