"""Demo data for `make run`: the demo company is a dealer (販売店ID), so that owners can
try linking it by 販売店ID + phone and its employees see the dealer console."""
from __future__ import annotations

from blueprints.account.services import find_account
from blueprints.dealers.services import become_dealer, dealer_for_account

DEMO_DEALER_PHONE = "0312345678"


def seed_demo_dealer() -> list[str]:
    """The demo company is a dealer, so owners can try linking it by 販売店ID + phone."""
    admin = find_account("dealer@example.com")
    dealer = dealer_for_account(admin) if admin is not None else None
    if dealer is None and admin is not None and admin.company is not None:
        dealer = become_dealer(admin.company, DEMO_DEALER_PHONE, ["maint@dealer.example"])
    if dealer is None:
        return []
    return [f"Demo dealer: 販売店ID {dealer.dealer_code} / 電話番号 {dealer.phone}"]
