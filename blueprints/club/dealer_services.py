"""Dealer sign-up, mail-first (seed 003 §1), and the dealer info page (販売店情報).

A dealer of the club is what the dealers service already knows: a commercial ID, its
company and the company's `Dealer` record with a 販売店ID. The sign-up makes all three
at once from one form, after the address was proved by a mailed link (1 hour, single
use). Whether that link or a "you already have an ID" mail goes out is decided off the
request path (`request_mail` → `dealer_signup_requested`), so the page and the work are
the same for every address."""
from __future__ import annotations

import enum
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from blueprints.account.services import create_account
from blueprints.core import audit
from blueprints.core.links import (LinkCheck, check_link, check_link_id, link_or_sign_in_mail,
                                   spend_link)
from blueprints.dealers.services import add_dealer, dealer_company, dealer_for_account
from forms.fields import address_data, store_address
from mail import messages, request_mail
from models import db
from models.account import Account, AccountPhone, Company, CompanyRole
from models.gateway import Dealer
from models.link import MailLink

DEALER_SIGNUP = "dealer_signup"  # the link's purpose and the mail request's kind
# The mail to an address that already has an ID (messages.send_dealer_signup_existing_mail).
DEALER_SIGNUP_EXISTING = "club_dealer_signup_existing"
DEALER_COMPANY_KIND = "dealer"


# -- 1. the address, the 仮登録 mail -----------------------------------------------------
def request_dealer_signup(email: str) -> None:
    """送信する: only a mail request is written, the same for every address; the relay
    decides what it becomes (`dealer_signup_requested`)."""
    request_mail(DEALER_SIGNUP, email)
    db.session.commit()


def dealer_signup_requested(email: str) -> None:
    """The relay's decision: an address without an ID gets the 仮登録 mail with a one-hour
    link; the owner of an existing ID gets a mail saying to sign in and register the
    company as a dealer from there (never the sign-up link). Runs in the relay's
    transaction."""
    link_or_sign_in_mail(email, DEALER_SIGNUP, current_app.config["DEALER_SIGNUP_LINK_TTL"],
                         DEALER_SIGNUP_EXISTING, messages.send_dealer_signup_mail,
                         messages.send_dealer_signup_existing_mail, "club.dealer_signup")


def check_signup_link(token: str) -> LinkCheck:
    return check_link(DEALER_SIGNUP, token)


def opened_signup_link(link_id) -> LinkCheck:
    """The link this browser opened (its id in the session), checked again."""
    return check_link_id(DEALER_SIGNUP, link_id)



# -- 2. 販売店情報 → 確認 → 登録する --------------------------------------------------------
class SignupOutcome(str, enum.Enum):
    REGISTERED = "registered"
    ALREADY_REGISTERED = "already_registered"  # the address got an ID meanwhile
    LINK_USED = "link_used"                    # another tab or browser used the link first


@dataclass(frozen=True)
class SignupResult:
    outcome: SignupOutcome
    dealer_code: str | None = None


def register_dealer(link: MailLink, info: dict, password_hash: str,
                    newsletter: bool = False) -> SignupResult:
    """登録する: spend the link and create, in the caller's transaction (the wizard
    commits it with the end of its draft), an opened commercial ID for the link's
    address (the company's administrator), its company and the dealer record (phone =
    the phone given, maintenance contact = the address), and queue the welcome mail.

    A link spent meanwhile creates nothing. An address that got an ID meanwhile gets no
    second one: `create_account` mails its owner instead."""
    if not spend_link(link):
        return SignupResult(SignupOutcome.LINK_USED)
    email = link.email
    name = {"email": email, "family_name": info["family_name"],
            "given_name": info["given_name"], "family_kana": info["family_kana"],
            "given_kana": info["given_kana"]}
    details = {
        "company_name": info["company_name"], "company_kind": DEALER_COMPANY_KIND,
        "company_address": info["address"], "company_email": email,
        "company_phone": info["phone"], "department": None, "position": None,
        "phones": [{"kind": "office", "number": info["phone"]}], "newsletter": newsletter,
    }
    account = create_account(name, "commercial", details, password_hash, opened=True)
    if account is None:
        return SignupResult(SignupOutcome.ALREADY_REGISTERED)
    dealer = add_dealer(account.company, info["phone"], [email])
    messages.send_dealer_welcome_mail(account, dealer)
    audit.record("club.dealer_signup", actor_id=account.id, subject_id=account.id,
                 company_id=account.company_id, dealer_code=dealer.dealer_code)
    return SignupResult(SignupOutcome.REGISTERED, dealer.dealer_code)


# -- the dealer info page (販売店情報) ----------------------------------------------------
@dataclass(frozen=True)
class DealerInfo:
    dealer: Dealer
    company: Company
    person: Account  # whose 氏名, フリガナ the page shows: the company's administrator

    @property
    def phone(self) -> str:
        return self.dealer.phone


def dealer_info(account: Account) -> DealerInfo | None:
    """販売店情報 for a member of a dealer company, or None. The person shown is the
    viewer when they administer the company, otherwise its first administrator."""
    dealer = dealer_for_account(account)
    if dealer is None:
        return None
    person = account
    if not account.is_company_admin:
        person = db.session.scalar(
            select(Account).where(Account.company_id == account.company_id,
                                  Account.company_role == CompanyRole.ADMIN)
            .order_by(Account.id).limit(1)) or account
    return DealerInfo(dealer, dealer_company(dealer), person)


def info_form_data(info: DealerInfo) -> dict:
    """販売店情報 as stored, for the edit form."""
    person = info.person
    return {
        "company_name": info.company.name,
        "family_name": person.family_name, "given_name": person.given_name,
        "family_kana": person.family_kana or "", "given_kana": person.given_kana or "",
        "address": address_data(info.company), "phone": info.dealer.phone,
        "person_phone": person.phones[0].number if person.phones else info.dealer.phone,
    }


def update_dealer_info(account: Account, data: dict) -> bool:
    """販売店情報更新 by the company administrator: the company's name and address, the
    dealer phone (also the company's phone), the administrator's own name, フリガナ and
    first phone. False (nothing changed) for anyone else."""
    info = dealer_info(account)
    if info is None or not account.is_company_admin:
        return False
    company, dealer = info.company, info.dealer
    company.name = data["company_name"]
    store_address(company, data["address"])
    company.phone = data["phone"]
    dealer.phone = data["phone"]
    account.family_name = data["family_name"]
    account.given_name = data["given_name"]
    account.family_kana = data["family_kana"]
    account.given_kana = data["given_kana"]
    if account.phones:
        account.phones[0].number = data["person_phone"]
    else:
        account.phones = [AccountPhone(position=0, kind="office", number=data["person_phone"])]
    audit.record("club.dealer_info_update", actor_id=account.id, subject_id=account.id,
                 company_id=company.id, dealer_code=dealer.dealer_code)
    db.session.commit()
    return True
