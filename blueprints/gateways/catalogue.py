"""The system-model catalogue (システム機種): one table, first filled from config's
SYSTEM_MODELS, then kept by staff. Every service that needs a model's name, warranty,
eco eligibility or manual reads it through these functions."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from models import db
from models.gateway import SystemModel


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


def model_by_id(model_id) -> SystemModel | None:
    try:
        model_id = int(model_id)
    except (TypeError, ValueError):
        return None
    ensure_catalogue()
    return db.session.get(SystemModel, model_id)
