"""The one-time 移行手続き of an account imported from the old portal (000-27).

Sign-in with the old password (by e-mail or old user name) verifies the old hash once and
opens no session: it starts this wizard instead, with a server-side marker (the wizard's
draft, created here, holding which account and when the old password was verified) that
the wizard's pages require. Steps: (1) the imported data (the 個人情報 form of the
settings), (2) today's 利用規約 and プライバシーポリシー, (3) a new password under today's
rule. The end stores all of it, deletes the old hash and signs in as any sign-in does
(second-step rules included). Leaving midway changes nothing: the old password still
leads here.

An imported account whose password was reset by mail (the reset deleted the old hash)
goes through the same wizard without the password step at its first sign-in."""
from __future__ import annotations

import functools
import secrets
from datetime import datetime, timedelta

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user
from sqlalchemy import select

from blueprints.account import bp, services
from blueprints.core import audit
from blueprints.core.redirects import safe_next
from blueprints.core.security import open_login_session
from blueprints.core.wizard import Step, Wizard
from forms.account import personal_info_form_for
from forms.legacy import LegacyConsentForm, LegacyPasswordForm
from models import db, utcnow
from models.account import Account, LegacyLogin
from models.wizard import WizardDraft

FULL, REST = "legacy", "legacy_rest"
MARKER = "legacy"


def _data_form(_values):
    return personal_info_form_for(g.legacy_account)


def _password_form(_values):
    """Today's rule, and neither the e-mail nor the old user name inside the password."""
    return type("LegacyPasswordForm", (LegacyPasswordForm,), {
        "password_context": [g.legacy_account.email, g.legacy_login.username]})


DATA = Step("data", _l("登録情報の確認"), _data_form, "account/legacy/_data.html")
TERMS = Step("terms", _l("規約への同意"), LegacyConsentForm, "account/legacy/_terms.html")
PASSWORD = Step("password", _l("新しいパスワード"), _password_form,
                "account/_new_password.html",
                secrets={"password": services.hash_password}, dropped=("password_confirm",))


def _finish(forms, secrets_) -> str:
    """Store the data, the consents and the new password, delete the old hash, sign in."""
    account, legacy = g.legacy_account, g.legacy_login
    marker = secrets_[MARKER]
    # One browser finishes: another that verified the old password meanwhile finds the
    # step done (PostgreSQL row lock; SQLite writes are serial).
    db.session.execute(select(LegacyLogin.id).where(LegacyLogin.id == legacy.id)
                       .with_for_update())
    db.session.refresh(legacy)
    db.session.refresh(account)
    if legacy.migrated_at is not None or not _marker_current(marker, account, legacy):
        flash(_("移行手続きはすでに完了しています。新しいパスワードでログインしてください"),
              "info")
        return url_for("account.login")
    now = utcnow()
    services.apply_personal_info(account, forms["data"].data)
    account.terms_accepted_at = now
    account.privacy_accepted_at = now
    account.newsletter = bool(forms["terms"].newsletter.data)
    if "password" in secrets_:
        account.password_hash = secrets_["password"]  # a hash: the draft never held it
        account.password_changed_at = now
    legacy.old_hash = None
    legacy.hash_format = None
    legacy.migrated_at = now
    audit.record("account.legacy_migrated", actor_id=account.id, subject_id=account.id,
                 password_set="password" in secrets_)
    return _sign_in(account, bool(marker.get("remember")), marker.get("next") or "/")


def _sign_in(account: Account, remember: bool, target: str) -> str:
    """The sign-in the login view would have made, with its second-step rules."""
    from blueprints.account import second_step_views

    config = current_app.config
    account.last_login_at = utcnow()
    lifetime = config["REMEMBER_COOKIE_DURATION"] if remember else config["SESSION_LIFETIME"]
    open_login_session(account, remember, lifetime, request.user_agent.string)
    audit.record("account.login", actor_id=account.id, subject_id=account.id,
                 remember=remember, legacy_migration=True)
    pending = second_step_views.has_second_step(account.id)
    login_user(account, remember=remember and not pending)
    session["lang"] = account.language
    target = safe_next(target)
    if pending:
        session[second_step_views.REMEMBER_AFTER_STEP] = remember
        return url_for("account.second_step", next=target)
    if second_step_views.setup_due(account):
        return url_for("account.second_step_settings", next=target)
    flash(_("移行手続きが完了しました。次回から新しいパスワードでログインしてください"),
          "success")
    return target


legacy_wizard = Wizard(FULL, steps=[DATA, TERMS, PASSWORD], finish=_finish,
                       page_template="account/legacy/page.html",
                       title=_l("旧ポータルからの移行手続き"), final_label=_l("移行を完了する"))
legacy_rest_wizard = Wizard(REST, steps=[DATA, TERMS], finish=_finish,
                            page_template="account/legacy/page.html",
                            title=_l("旧ポータルからの移行手続き"),
                            final_label=_l("移行を完了する"))


def _marker_current(marker: dict, account: Account, legacy: LegacyLogin) -> bool:
    """The marker is this account's, younger than LEGACY_STEP_MINUTES, and nothing
    changed the password since (a reset elsewhere makes it void)."""
    try:
        verified = datetime.fromisoformat(marker["verified_at"])
    except (KeyError, TypeError, ValueError):
        return False
    minutes = current_app.config["LEGACY_STEP_MINUTES"]
    return (marker.get("account_id") == account.id
            and verified > utcnow() - timedelta(minutes=minutes)
            and marker.get("password_changed_at") == account.password_changed_at.isoformat()
            and legacy.migrated_at is None)


def _prefill(account: Account) -> list[list[str]]:
    """The imported data as the data step's form posts it, so the step opens filled."""
    data = services.personal_form_data(account)
    pairs = [[name, data[name] or ""] for name in (
        "family_name", "given_name", "family_kana", "given_kana", "department", "position",
        "language")]
    for index, phone in enumerate(data["phones"]):
        pairs += [[f"phones-{index}-kind", phone.get("kind") or "mobile"],
                  [f"phones-{index}-number", phone.get("number") or ""]]
    if not account.is_commercial:
        pairs += [[f"address-{name}", value or ""] for name, value in data["address"].items()
                  if name != "lookup"]
    return pairs


def start(account: Account, remember: bool, target: str):
    """After the old password (or, after a reset, the new one) was verified: the marker
    for this browser, then the wizard's first step (303)."""
    legacy = db.session.scalar(select(LegacyLogin).where(LegacyLogin.account_id == account.id))
    wizard = legacy_wizard if legacy.old_hash is not None else legacy_rest_wizard
    for name in (FULL, REST):  # one marker per browser: an older one goes
        old_id = session.pop(f"wizard:{name}", None)
        old = db.session.get(WizardDraft, old_id) if old_id else None
        if old is not None:
            db.session.delete(old)
    marker = {"account_id": account.id, "verified_at": utcnow().isoformat(),
              "password_changed_at": account.password_changed_at.isoformat(),
              "remember": bool(remember), "next": target}
    row = WizardDraft(id=secrets.token_urlsafe(32), wizard=wizard.name,
                      data={"raw": {DATA.name: _prefill(account)}, "done": [],
                            "secrets": {MARKER: marker}})
    db.session.add(row)
    session[f"wizard:{wizard.name}"] = row.id
    audit.record("account.legacy_step_started", actor_id=account.id, subject_id=account.id)
    db.session.commit()
    return redirect(wizard.url(wizard.steps[0].name), code=303)


def _requires_marker(wizard: Wizard):
    """The wizard's pages open only in the browser that verified the password, within
    LEGACY_STEP_MINUTES; anyone else is sent to sign in."""
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            draft_id = session.get(f"wizard:{wizard.name}")
            row = db.session.get(WizardDraft, draft_id) if isinstance(draft_id, str) else None
            if row is not None and row.wizard == wizard.name and "finished" in row.data:
                if request.method == "POST":  # a second submit of the last step: replay
                    return view(*args, **kwargs)
                return redirect(url_for("core.index"))
            marker = (row.data.get("secrets", {}).get(MARKER)
                      if row is not None and row.wizard == wizard.name else None)
            account = db.session.get(Account, marker.get("account_id")) if isinstance(
                marker, dict) and isinstance(marker.get("account_id"), int) else None
            legacy = db.session.scalar(select(LegacyLogin).where(
                LegacyLogin.account_id == account.id)) if account is not None else None
            if legacy is None or not _marker_current(marker, account, legacy):
                if row is not None:
                    db.session.delete(row)
                session.pop(f"wizard:{wizard.name}", None)
                db.session.commit()
                flash(_("移行手続きを続けるには、もう一度ログインしてください"), "info")
                return redirect(url_for("account.login"))
            g.legacy_account, g.legacy_login = account, legacy
            return view(*args, **kwargs)
        return wrapped
    return decorator


legacy_wizard.register(bp, "/migration", "legacy_migration",
                       decorators=[_requires_marker(legacy_wizard)])
legacy_rest_wizard.register(bp, "/migration/continue", "legacy_migration_rest",
                            decorators=[_requires_marker(legacy_rest_wizard)])
