"""The points sign-up (seed 001 §2, issue 10): STEP1 service → STEP2 特にご確認いただきたい
点 + the two documents → STEP3 ゲートウェイID + パワーコンディショナ製造番号 → STEP4 お客様情報
→ STEP5 確認 → STEP6 完了, signed in or mail-first; and the member's お客様情報 page.

Who may join: an individual ID (not 商用) that never was a member (one membership per ID
ever: an ID that left cannot join again), for a gateway with a running eco-programme
membership and no running points member. The database holds the last two rules too
(`PointsMember`'s unique account and its partial unique running gateway), so two tabs or
two people finishing at once end with one membership and a message, never two.

The pair check (STEP3), as the manual has it: the ゲートウェイID + PCS製造番号 printed on
the eco completion page and mail prove possession of the gateway.
- Signed in: the pair must be a running eco membership of this very account.
- Mail-first (a new ID): any running eco membership will do, e.g. the gateway of
  another member of the household, who applied for the programme under their own ID.
Wrong pairs are one message (no hint which part is wrong) and count, with the slip
checks, against the client and the account (`core.attempts`).

Mail-first: 送信する writes only a mail request, the same for every address; the relay
decides (`signup_requested`): a 24-hour single-use link for an address without an ID, a
"sign in and continue at /points/signup" mail (at most once an interval) for an address
with one. The page never says which."""
from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from blueprints.account.services import apply_personal_info, create_account
from blueprints.core import audit
from blueprints.core.attempts import Guess, Requester, check_guess
from blueprints.core.links import (LinkCheck, check_link, check_link_id, link_or_sign_in_mail,
                                   spend_link)
from blueprints.core.security import open_login_session
from blueprints.core.wizard import WizardError
from forms.fields import ADDRESS_PARTS, address_data
from mail import messages, request_mail
from models import db, utcnow
from models.account import Account, AccountType
from models.eco import EcoMembership
from models.link import MailLink
from models.points import PointsMember

SIGNUP = "points_signup"                    # the link's purpose and the mail request's kind
SIGNUP_EXISTING = "points_signup_existing"  # the mail to an address that has an ID
DOCUMENTS = ("terms", "privacy")            # STEP2's two documents


# -- who may join ----------------------------------------------------------------------
class Refusal(str, enum.Enum):
    COMMERCIAL = "commercial"  # a 商用 ID: individuals only
    MEMBER = "member"          # already a member: the member page
    LEFT = "left"              # left before: no joining again


def member_of(account: Account) -> PointsMember | None:
    """The ID's membership, running or ended (there is at most one, ever)."""
    return db.session.scalar(select(PointsMember).where(PointsMember.account_id == account.id))


def refusal(account: Account) -> Refusal | None:
    """Why a signed-in ID cannot start the sign-up, or None."""
    member = member_of(account)
    if member is not None:
        return Refusal.MEMBER if member.left_at is None else Refusal.LEFT
    if account.account_type == AccountType.COMMERCIAL:
        return Refusal.COMMERCIAL
    return None


# -- 1. the address, the 会員登録URL mail --------------------------------------------------
def request_signup(email: str) -> None:
    """送信する: only a mail request is written, the same for every address; the relay
    decides what it becomes (`signup_requested`)."""
    request_mail(SIGNUP, email)
    db.session.commit()


def signup_requested(email: str) -> None:
    """The relay's decision (in its transaction): an address without an ID gets
    【会員登録URLのお知らせ】 with a link valid POINTS_SIGNUP_LINK_TTL; the owner of an ID
    gets a mail to sign in and continue at /points/signup (at most once per
    ACCOUNT_EXISTS_MAIL_INTERVAL: anyone can type the address)."""
    link_or_sign_in_mail(email, SIGNUP, current_app.config["POINTS_SIGNUP_LINK_TTL"],
                         SIGNUP_EXISTING, messages.send_points_signup_mail,
                         messages.send_points_signup_existing_mail, "points.signup")


def check_signup_link(token: str) -> LinkCheck:
    return check_link(SIGNUP, token)


def opened_signup_link(link_id) -> LinkCheck:
    """The link this browser opened (its id in the session), checked again."""
    return check_link_id(SIGNUP, link_id)


# -- STEP2: the documents opened in this draft --------------------------------------------
def document_reference(draft_id: str) -> str:
    """What STEP2's links carry so that the document page can tell it was opened from
    this draft (keyed with the app's secret; the draft id itself stays in the session)."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"points-doc:{draft_id}".encode(), hashlib.sha256).hexdigest()[:32]


def record_opened(draft, document: str, reference: str | None) -> bool:
    """The document page was opened from STEP2 of `draft` (a core wizard Draft): keep
    that in the draft, which STEP2's form checks. False when the reference is not this
    draft's (nothing recorded). Commits."""
    if draft is None or document not in DOCUMENTS or not reference \
            or not hmac.compare_digest(reference, document_reference(draft.row.id)):
        db.session.rollback()
        return False
    opened = set(draft.row.data.get("opened", []))
    if document not in opened:
        draft.row.data = {**draft.row.data, "opened": sorted(opened | {document})}
    db.session.commit()
    return True


def opened_documents(draft) -> set[str]:
    return set(draft.row.data.get("opened", [])) if draft is not None else set()


# -- STEP3: the pair ----------------------------------------------------------------------
def running_membership(gateway_code: str, pcs_serial: str,
                       account_id: int | None = None) -> EcoMembership | None:
    """The running eco membership with this pair (of `account_id` when given)."""
    statement = select(EcoMembership).where(
        EcoMembership.gateway_code == gateway_code, EcoMembership.pcs_serial == pcs_serial,
        EcoMembership.ended_at.is_(None))
    if account_id is not None:
        statement = statement.where(EcoMembership.account_id == account_id)
    return db.session.scalar(statement.order_by(EcoMembership.id).limit(1))


def _gateway_taken(membership: EcoMembership) -> bool:
    return membership.gateway_id is not None and db.session.scalar(
        select(PointsMember.id).where(PointsMember.gateway_id == membership.gateway_id,
                                      PointsMember.left_at.is_(None)).limit(1)) is not None


def check_pair(gateway_code: str, pcs_serial: str, requester: Requester,
               account: Account | None) -> str:
    """STEP3: "ok", "wrong" (no hint which part), "limited" (too many wrong pairs lately,
    not checked) or "taken" (the gateway already has a running points member; told only
    to whoever gave the right pair). Signed in (`account`), the membership must be the
    account's; mail-first, any running one (see the module docstring). Commits."""
    found: list[EcoMembership] = []

    def is_right() -> bool:
        membership = running_membership(gateway_code, pcs_serial,
                                        account.id if account is not None else None)
        if membership is not None:
            found.append(membership)
        return membership is not None

    guess = check_guess(requester, is_right, "points.pair", gateway=gateway_code)
    if guess is Guess.LIMITED:
        return "limited"
    if guess is Guess.WRONG:
        return "wrong"
    return "taken" if _gateway_taken(found[0]) else "ok"


# -- STEP4: お客様情報 ----------------------------------------------------------------------
def info_form_data(account: Account, member: PointsMember | None = None) -> dict:
    """STEP4 (and /points/info) pre-filled from the ID, and the install address when the
    member gave one that differs."""
    data = {
        "family_name": account.family_name, "given_name": account.given_name,
        "family_kana": account.family_kana or "", "given_kana": account.given_kana or "",
        "address": address_data(account),
        "phone": account.phones[0].number if account.phones else "",
        "site_address_choice": "same",
    }
    if member is not None and member.install_postal_code:
        data["site_address_choice"] = "other"
        data["site_address"] = {part: getattr(member, f"install_{part}") or ""
                                for part in ADDRESS_PARTS}
    return data


def _apply_info(account: Account, info: dict) -> None:
    """What the person typed at STEP4 becomes the ID's (one person, one record): name,
    フリガナ, address and the main phone; other phones and settings stay."""
    phones = [{"kind": phone.kind, "number": phone.number} for phone in account.phones]
    main = {"kind": phones[0]["kind"] if phones else "mobile", "number": info["phone"]}
    apply_personal_info(account, {
        "family_name": info["family_name"], "given_name": info["given_name"],
        "family_kana": info["family_kana"], "given_kana": info["given_kana"],
        "address": info["address"], "department": account.department,
        "position": account.position, "language": account.language,
        "phones": [main, *phones[1:]],
    })


def _store_install_address(member: PointsMember, info: dict) -> None:
    same = info.get("site_address_choice") != "other"
    for part in ADDRESS_PARTS:
        value = None if same else (info["site_address"].get(part) or None)
        setattr(member, f"install_{part}", value)


# -- STEP5 登録する ---------------------------------------------------------------------------
class JoinOutcome(str, enum.Enum):
    JOINED = "joined"
    ALREADY_REGISTERED = "already_registered"  # mail-first: the address got an ID meanwhile
    LINK_USED = "link_used"                    # mail-first: another tab used the link first


@dataclass(frozen=True)
class JoinResult:
    outcome: JoinOutcome
    account: Account | None = None
    member: PointsMember | None = None


def join(account: Account | None, link: MailLink | None, service: str, info: dict,
         pair: dict, password_hash: str | None = None,
         user_agent: str | None = None) -> JoinResult:
    """登録する, in the caller's transaction (the wizard commits it with the end of its
    draft): mail-first (`link`), spend the link and create an opened individual ID with
    a sign-in session; signed in, update the ID with STEP4. Then the PointsMember for the
    pair's running eco membership, and 【会員登録完了のお知らせ】.

    Raises WizardError (everything is rolled back) when the pair no longer holds, or
    the ID or the gateway became a member meanwhile."""
    if link is not None:
        if not spend_link(link):
            return JoinResult(JoinOutcome.LINK_USED)
        name = {"email": link.email, "family_name": info["family_name"],
                "given_name": info["given_name"], "family_kana": info["family_kana"],
                "given_kana": info["given_kana"]}
        account = create_account(name, "personal",
                                 {"address": info["address"], "phone": info["phone"]},
                                 password_hash, opened=True)
        if account is None:  # create_account mailed the owner of the address
            return JoinResult(JoinOutcome.ALREADY_REGISTERED)
        membership = running_membership(pair["gateway_code"], pair["pcs_serial"])
    else:
        reason = refusal(account)
        if reason is not None:
            raise WizardError("service", "service", _refusal_message(reason))
        _apply_info(account, info)
        membership = running_membership(pair["gateway_code"], pair["pcs_serial"], account.id)
    if membership is None:
        raise WizardError("pair", "pcs_serial", _pair_message("wrong"))
    now = utcnow()
    member = PointsMember(account_id=account.id, gateway_id=membership.gateway_id,
                          eco_membership_id=membership.id, service=service,
                          terms_accepted_at=now, privacy_accepted_at=now, joined_at=now)
    _store_install_address(member, info)
    try:
        with db.session.begin_nested():  # only this insert is undone if it loses a race
            db.session.add(member)
    except IntegrityError:
        if member_of(account) is not None:
            raise WizardError("service", "service", _refusal_message(Refusal.MEMBER)) from None
        raise WizardError("pair", "pcs_serial", _pair_message("taken")) from None
    if link is not None:
        open_login_session(account, False, current_app.config["SESSION_LIFETIME"], user_agent)
    messages.send_points_welcome_mail(account, membership)
    audit.record("points.signup", actor_id=account.id, subject_id=account.id,
                 gateway=membership.gateway_code, mail_first=link is not None)
    return JoinResult(JoinOutcome.JOINED, account, member)


def _pair_message(outcome: str):
    from forms.points_signup import PAIR_REJECTED, PAIR_TAKEN

    return PAIR_TAKEN if outcome == "taken" else PAIR_REJECTED


def _refusal_message(reason: Refusal):
    from flask_babel import lazy_gettext as _l

    return {
        Refusal.MEMBER: _l("このIDはすでにポイントサービスの会員です"),
        Refusal.LEFT: _l("一度退会したIDでは、再度会員登録することはできません"),
        Refusal.COMMERCIAL: _l("ポイントサービスは個人のお客様のみご登録いただけます"),
    }[reason]


# -- the member's お客様情報 (/points/info) -------------------------------------------------
def running_member(account: Account) -> PointsMember | None:
    member = member_of(account)
    return member if member is not None and member.left_at is None else None


def update_member_info(account: Account, info: dict) -> bool:
    """変更する: STEP4's fields again; the ID and the member's install address change
    together. False (nothing changed) when the ID is not a running member. Commits."""
    member = running_member(account)
    if member is None:
        return False
    _apply_info(account, info)
    _store_install_address(member, info)
    audit.record("points.info_update", actor_id=account.id, subject_id=account.id)
    db.session.commit()
    return True


def membership_of(member: PointsMember) -> EcoMembership | None:
    return db.session.get(EcoMembership, member.eco_membership_id) \
        if member.eco_membership_id else None
