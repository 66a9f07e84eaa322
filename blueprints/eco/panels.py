"""What the eco programme shows on other services' pages, through the registry: the
main-menu entry, the STEP4 offer on 本登録完了, and the line on the owner's access page."""
from __future__ import annotations

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l

from blueprints.core.registry import AccessLine, Panel
from blueprints.eco import eligibility, services
from blueprints.gateways.registration import owned_gateways
from forms.validators import today_in_japan


def menu_entry(account) -> Panel | None:
    """「エコ活の申込/照会/解約」 on the main menu, for individuals with a gateway."""
    if account.is_commercial or not owned_gateways(account):
        return None
    return Panel("eco/_menu_entry.html")


def registration_offer(account, gateways) -> Panel | None:
    """STEP4 on 本登録完了 (002-27): for an individual with an eco-eligible model not yet
    in the programme. The gateway has usually not reported yet (the eco pages say the
    application opens once it does); a 運転開始日 in the future (registered before PV
    started) or too old hides the 申込へ button."""
    if account.is_commercial or not gateways:
        return None
    facts = eligibility.facts_for(list(gateways), today_in_japan())
    running = services.running_by_gateway([g.id for g in gateways])
    candidates = [g for g in gateways if facts[g.id].eco_model and g.id not in running]
    if not candidates:
        return None
    today = today_in_japan()
    limit = eligibility.years_before(today, current_app.config["ECO_OPERATION_YEARS"])
    offer = any(g.operation_start is None or limit <= g.operation_start <= today
                for g in candidates)
    return Panel("eco/_step4_offer.html", {"offer": offer})


def access_lines(account) -> list[AccessLine]:
    """みんなでつくるエコ活: the operator receives the environmental value of this gateway."""
    return [AccessLine(who=str(_l("みんなでつくるエコ活サークル")),
                       what=_l("自家消費した太陽光発電の環境価値を運営者に譲渡（会員規約 第3条）"),
                       scope=membership.gateway_code, since=membership.applied_at,
                       manage_url=url_for("eco.cancel", gateway_id=membership.gateway_code),
                       manage_label=_l("解約"))
            for membership in services.running_memberships(account)]
