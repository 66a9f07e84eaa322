"""The system-model catalogue (システム機種): one table, first filled from config's
SYSTEM_MODELS, then kept by staff. Every service that needs a model's name, warranty,
eco eligibility or manual reads it through these functions; staff keep it (and set a
gateway's 運転開始日) through `save_model` and `set_operation_start`."""
from __future__ import annotations

import re
from datetime import date

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from blueprints.core import audit
from forms.validators import normalize_gateway_id
from models import db
from models.gateway import Gateway, SystemModel

GATEWAY_ID = re.compile(r"[0-9A-Z]{12}")


def ensure_catalogue() -> None:
    """Fill an empty catalogue from config (idempotent; a concurrent fill is harmless).
    Does not commit: the caller's transaction carries it."""
    if db.session.scalar(select(func.count()).select_from(SystemModel)):
        return
    for entry in current_app.config["SYSTEM_MODELS"]:
        try:
            with db.session.begin_nested():
                db.session.add(SystemModel(**entry))
        except IntegrityError:  # filled meanwhile by another request
            continue


def system_models(offered_only: bool = True) -> list[SystemModel]:
    """The catalogue in code order; by default only the models still offered."""
    ensure_catalogue()
    query = select(SystemModel).order_by(SystemModel.code)
    if offered_only:
        query = query.where(SystemModel.offered.is_(True))
    return list(db.session.scalars(query))


def model_for_code(code: str | None) -> SystemModel | None:
    """The catalogue entry of a gateway's model code, or None for an unknown code."""
    if not code:
        return None
    ensure_catalogue()
    return db.session.scalar(select(SystemModel).where(SystemModel.code == code))


def models_for_codes(codes) -> dict[str, SystemModel]:
    """`model_for_code` of several codes in one query (after one catalogue check):
    {code: entry} of the codes the catalogue knows."""
    codes = sorted({code for code in codes if code})
    if not codes:
        return {}
    ensure_catalogue()
    return {m.code: m for m in db.session.scalars(
        select(SystemModel).where(SystemModel.code.in_(codes)))}


def manuals_for(codes) -> list[SystemModel]:
    """The catalogue entries with a manual (商品マニュアル) among these model codes, in
    code order: one query whatever the number of gateways. Read only: it never fills an
    empty catalogue (a GET's fill would be rolled back, and on PostgreSQL would spend the
    sequence's numbers); an empty catalogue simply has no manuals yet."""
    codes = sorted({code for code in codes if code})
    if not codes:
        return []
    return list(db.session.scalars(
        select(SystemModel).where(SystemModel.code.in_(codes),
                                  SystemModel.manual_url.is_not(None))
        .order_by(SystemModel.code)))


def model_by_id(model_id) -> SystemModel | None:
    try:
        model_id = int(model_id)
    except (TypeError, ValueError):
        return None
    ensure_catalogue()
    return db.session.get(SystemModel, model_id)


# -- staff: keeping the catalogue -----------------------------------------------------------
MODEL_FIELDS = ("code", "name", "storage_kwh", "eco_eligible", "warranty_years",
                "extension_years", "manual_url", "offered")


class DuplicateModelCode(Exception):
    """Another catalogue entry already has this code."""


def save_model(data: dict, actor_id: int, model_id: int | None = None) -> SystemModel | None:
    """Add a catalogue entry (`model_id` None) or change one; `data` holds MODEL_FIELDS.
    Raises DuplicateModelCode when the code is taken (also when two staff save the same
    new code at once: the unique index decides). None when `model_id` is unknown."""
    ensure_catalogue()
    model = None
    if model_id is not None:
        model = model_by_id(model_id)
        if model is None:
            db.session.rollback()
            return None
    before = {name: getattr(model, name) for name in MODEL_FIELDS} if model else {}
    taken = select(SystemModel.id).where(SystemModel.code == data["code"])
    if model is not None:
        taken = taken.where(SystemModel.id != model.id)
    if db.session.scalar(taken):
        db.session.rollback()
        raise DuplicateModelCode(data["code"])
    if model is None:
        model = SystemModel(**data)
        db.session.add(model)
    for name in MODEL_FIELDS:
        setattr(model, name, data[name])
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise DuplicateModelCode(data["code"]) from None
    changed = sorted(name for name in MODEL_FIELDS if before.get(name) != data[name])
    audit.record("catalogue.model_add" if model_id is None else "catalogue.model_update",
                 actor_id=actor_id, code=model.code, changed=changed)
    db.session.commit()
    return model


# -- staff: a gateway's 運転開始日 ----------------------------------------------------------
def find_gateway(gateway_id) -> Gateway | None:
    """Any gateway by its ゲートウェイID (normalised as typed on a slip), for staff."""
    if not isinstance(gateway_id, str):
        return None
    gateway_id = normalize_gateway_id(gateway_id)
    if not GATEWAY_ID.fullmatch(gateway_id):
        return None
    return db.session.scalar(select(Gateway).where(Gateway.gateway_id == gateway_id))


def set_operation_start(gateway_id: str, started_on: date | None, actor_id: int) -> bool:
    """Staff set (or clear: None) a gateway's 運転開始日; the product registered from it
    follows (its warranty is counted from this day). False for an unknown gateway."""
    gateway = find_gateway(gateway_id)
    if gateway is None:
        db.session.rollback()
        return False
    before = gateway.operation_started_on
    gateway.operation_started_on = started_on
    audit.record("gateway.operation_start", actor_id=actor_id, subject_id=gateway.owner_id,
                 gateway_id=gateway.gateway_id,
                 before=before.isoformat() if before else None,
                 after=started_on.isoformat() if started_on else None)
    db.session.commit()
    return True
