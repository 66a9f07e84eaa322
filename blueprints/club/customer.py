"""お客様情報: the owner's registration data as the club shows it, and its change.

One person, one record: what is changed here is the ID's own data (the same as
/account/settings/personal), through the account service's `update_personal_info`.
A commercial account changes its name, フリガナ and main phone here too (they are the
person's); its address is the company's and is changed on 会社情報, not here."""
from __future__ import annotations

from blueprints.account.services import personal_form_data, update_personal_info
from blueprints.club import permissions
from models import db
from models.account import Account


def customer_form_data(account: Account) -> dict:
    """お客様情報 as stored, for its form."""
    data = personal_form_data(account)
    phone = account.primary_phone
    data.update(phone=phone.number if phone else "",
                newsletter="yes" if account.newsletter else "no",
                permission_email="", step="entry")
    return data


def update_customer_info(account: Account, data: dict,
                         granting: bool = True) -> permissions.GrantProblem | None:
    """Keep the changed お客様情報 and, when an address is given (and `granting`), record a
    login permission for it (see permissions.request_permission), in one transaction.
    Returns why the address cannot be named (nothing is changed then)."""
    address = data.get("permission_email") if granting else None
    if address:
        problem = permissions.request_permission(account, address)
        if problem is not None:
            db.session.rollback()
            return problem
    merged = personal_form_data(account)
    merged.update(family_name=data["family_name"], given_name=data["given_name"],
                  family_kana=data.get("family_kana"), given_kana=data.get("given_kana"))
    if "address" in data and not account.is_commercial:
        merged["address"] = data["address"]
    else:
        merged.pop("address", None)
    first = dict(merged["phones"][0]) if merged["phones"] and merged["phones"][0] else {}
    merged["phones"] = [{"kind": first.get("kind") or "mobile", "number": data["phone"]},
                        *merged["phones"][1:]]
    account.newsletter = data.get("newsletter") == "yes"
    update_personal_info(account, merged)  # audits and commits
    return None
