"""The case form's choices and prefill: what the account may pick, and what a link into
the form carries over.

    form = case_form.build(account, formdata)             # choices for what was posted
    form = case_form.build(account, None, case_form.prefill(account, request.args))

- 発電所名: the account's own gateways (「<site name or address> (<ゲートウェイID>)」) and
  「その他（入力する）」 with a text field; for a linked dealer also the one gateway it
  maintains that the link names (`?gateway=`, `?alert=`). Nobody can choose a gateway
  that is neither: it is not a choice, so a tampered value is refused next to the field.
- 製造番号: the chosen gateway's units, or typed. 詳細: the chosen category's.
- Prefill: `?q=` → 件名; `?gateway=` → that site (the account's own, or one its dealer
  company maintains; else ignored); `?alert=` → the alert's site, 機器タイプ, the unit in
  error and its serial, the error codes and when the error began (an alert of such a
  gateway only).
- The duplicate hint: the open case of the chosen gateway the account sees.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from blueprints.dealers.services import dealer_for_account
from blueprints.support import cases
from forms.support import ERROR_CODE_MAX, OTHER, SUBJECT_MAX, CaseForm
from forms.validators import normalize_gateway_id, normalize_one_line
from models import db
from models.account import Account
from models.gateway import DealerLink, Gateway, GatewayStatus, PcsUnit
from models.support import SupportCase
from models.telemetry import AlertKind, GatewayAlert, Reading

DEVICE_GATEWAY = "ゲートウェイ"
DEVICE_PCS = "パワーコンディショナ"


@dataclass
class FormPage:
    """The case form with what the page shows beside it."""

    form: CaseForm
    gateways: list[Gateway]
    open_case: SupportCase | None = None
    error_started_at: datetime | None = None


def own_gateways(account: Account, also: str | None = None) -> list[Gateway]:
    """The account's gateways in service, oldest first, and `also` (a ゲートウェイID) when
    the account's dealer company maintains it: a linked dealer files about the gateway of
    an alert or of its console without choosing among thousands. Never anyone else's."""
    gateways = list(db.session.scalars(
        select(Gateway).where(Gateway.owner_id == account.id,
                              Gateway.status != GatewayStatus.RETIRED)
        .order_by(Gateway.registered_at, Gateway.id)))
    if also and _chosen(gateways, also) is None:
        entrusted = _entrusted(account, select(Gateway).where(Gateway.gateway_id == also))
        if entrusted is not None:
            gateways.append(entrusted)
    return gateways


def _entrusted(account: Account, statement):
    """The row of `statement` (a select over Gateway, maybe joined) when its gateway is in
    service and linked to the account's dealer company, else None."""
    dealer = dealer_for_account(account)
    if dealer is None:
        return None
    return db.session.scalar(
        statement.join(DealerLink, DealerLink.gateway_id == Gateway.id)
        .where(DealerLink.dealer_id == dealer.id, Gateway.status != GatewayStatus.RETIRED))


def site_label(gateway: Gateway) -> str:
    return f"{gateway.site_name or gateway.address or _('（名称未設定）')} ({gateway.gateway_id})"


def _chosen(gateways: list[Gateway], value: str | None) -> Gateway | None:
    return next((g for g in gateways if g.gateway_id == value), None)


def _units(gateway: Gateway | None) -> list[PcsUnit]:
    return list(gateway.units) if gateway is not None else []


def _own_alert(account: Account, value) -> GatewayAlert | None:
    """The alert with this id when it is one of the account's own gateways' or of a
    gateway its dealer company maintains, else None."""
    try:
        alert_id = int(value)
    except (TypeError, ValueError):
        return None
    if not 0 < alert_id < 2**31:
        return None
    alert = select(GatewayAlert).join(Gateway, Gateway.id == GatewayAlert.gateway_id).where(
        GatewayAlert.id == alert_id)
    return db.session.scalar(alert.where(Gateway.owner_id == account.id,
                                         Gateway.status != GatewayStatus.RETIRED)) \
        or _entrusted(account, alert)


def build(account: Account, formdata=None, data: dict | None = None) -> FormPage:
    """The case form with the choices that fit what was posted (or prefilled): the sites
    of `account`, the units of the chosen site, the details of the chosen category.
    `formdata` None reads the request (a POST); a MultiDict fills it from a GET."""
    cases.ensure_default_categories()
    form = CaseForm(formdata=formdata, data=data) if formdata is not None or data \
        else CaseForm()
    gateways = own_gateways(account, also=form.site.data)
    form.site.choices = ([("", _("選択してください"))]
                         + [(g.gateway_id, site_label(g)) for g in gateways]
                         + [(OTHER, _("その他（入力する）"))])
    if not form.site.data and not gateways:
        form.site.data = OTHER  # nothing to pick: the text field is the way
    gateway = _chosen(gateways, form.site.data)
    units = _units(gateway)
    form.serial.choices = ([("", _("選択してください"))]
                           + [(u.serial, f"No.{u.unit_no} {u.serial}（{u.model}）") for u in units]
                           + [(OTHER, _("その他（入力する）"))])
    form.device_type.choices = [("", _("選択してください"))] + [
        (name, name) for name in current_app.config["SUPPORT_DEVICE_TYPES"]]
    form.category.choices = [("", _("選択してください"))] + [
        (str(c.id), c.name) for c in cases.active_categories()]
    set_detail_choices(form)
    alert = _own_alert(account, form.alert.data) if form.alert.data else None
    if form.alert.data and alert is None:
        form.alert.data = ""  # not the account's (or gone): nothing of it is kept
    return FormPage(form=form, gateways=gateways,
                    open_case=cases.open_case_for_gateway(account, gateway.id)
                    if gateway is not None else None,
                    error_started_at=alert.started_at if alert is not None else None)


def set_detail_choices(form: CaseForm) -> None:
    """詳細 for the chosen サポート内容 (none chosen, or one that is not offered: none)."""
    offered = {value for value, _label in form.category.choices}
    category_id = int(form.category.data) if form.category.data in offered \
        and form.category.data else None
    details = cases.active_details(category_id)
    form.detail.choices = ([("", _("選択してください"))] + [(str(d.id), d.name) for d in details]
                           if details else [])


def details_form(account: Account, args) -> FormPage:
    """The form for the HTMX swap of 詳細 (and of 製造番号 with the duplicate hint): the
    query string carries the form's current values; nothing is validated."""
    return build(account, MultiDict(args))


def prefill(account: Account, args) -> dict:
    """What a link into the form carries over (see the module's docstring); anything
    that is not the account's is ignored."""
    data: dict = {}
    query = normalize_one_line(args.get("q") or "")
    if query:
        data["subject"] = query[:SUBJECT_MAX]
    wanted = normalize_gateway_id(args.get("gateway") or "")
    if wanted and _chosen(own_gateways(account, also=wanted), wanted) is not None:
        data["site"] = wanted
    alert = _own_alert(account, args.get("alert"))
    if alert is not None:
        gateway = db.session.get(Gateway, alert.gateway_id)
        data.update(site=gateway.gateway_id, alert=str(alert.id),
                    error_code=(alert.error_codes or "")[:ERROR_CODE_MAX])
        if alert.kind == AlertKind.SILENT.value:
            data["device_type"] = DEVICE_GATEWAY
        else:
            data["device_type"] = DEVICE_PCS
            unit = _unit_in_error(gateway)
            if unit is not None:
                data["serial"] = unit.serial
    return data


def _unit_in_error(gateway: Gateway) -> PcsUnit | None:
    """The unit the gateway's latest reading says is in error, else its first unit."""
    units = _units(gateway)
    if not units:
        return None
    latest = db.session.scalar(select(Reading.units).where(Reading.gateway_id == gateway.id)
                               .order_by(Reading.ts.desc()).limit(1))
    for entry in latest or ():
        if isinstance(entry, dict) and entry.get("status") == "error":
            unit = next((u for u in units if u.unit_no == entry.get("unit")), None)
            if unit is not None:
                return unit
    return units[0]


def case_fields(account: Account, page: FormPage) -> cases.CaseFields:
    """The validated form as the fields of a new case."""
    form = page.form
    gateway = _chosen(page.gateways, form.site.data)
    if gateway is not None:
        site_name = gateway.site_name or gateway.address or gateway.gateway_id
    else:
        site_name = form.site_other.data
    serial = form.serial.data if form.serial.data not in ("", OTHER, None) \
        else (form.serial_other.data or None)
    return cases.CaseFields(
        subject=form.subject.data, body=form.body.data or "", site_name=site_name[:60],
        category_id=int(form.category.data),
        detail_id=int(form.detail.data) if form.detail.data else None,
        gateway_id=gateway.id if gateway is not None else None,
        device_type=form.device_type.data or None, serial=serial,
        error_code=form.error_code.data or None, error_started_at=page.error_started_at)
