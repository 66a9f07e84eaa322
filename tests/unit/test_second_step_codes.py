"""The pieces of two-step sign-in on their own: what a typed code becomes, which time
steps a code is good for, recovery-code format, the seed's encryption, the relying party."""
from __future__ import annotations

from datetime import datetime, timezone

import pyotp
import pytest

from blueprints.account import second_step as rules
from forms.validators import (RECOVERY_ALPHABET, is_recovery_code, is_totp_code,
                              normalize_code)

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = datetime(2030, 1, 1, 0, 0, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("typed, expected", [
    ("123456", "123456"), ("１２３４５６", "123456"), ("123 456", "123456"),
    ("１２３\u3000４５６", "123456"), (" 123-456 ", "123456"), ("ABCD-EFGH", "abcdefgh"),
    ("ａｂｃｄ－ｅｆｇｈ", "abcdefgh"), ("abcd ー efgh", "abcdefgh"), ("", ""),
])
def test_typed_codes_are_normalised(typed, expected):
    assert normalize_code(typed) == expected


def test_what_is_a_code():
    assert is_totp_code("012345")
    assert not is_totp_code("01234") and not is_totp_code("0123456")
    assert not is_totp_code("１２３４５６")  # normalised first
    assert not is_totp_code("12345\x00")
    assert is_recovery_code("abcd2345")
    for bad in ["abcd234", "abcd23450", "abcd0123", "abcdlo23", "ABCD2345", "abcd-234"]:
        assert not is_recovery_code(bad), bad


def test_recovery_codes_use_no_look_alikes():
    for look_alike in "01ilo":
        assert look_alike not in RECOVERY_ALPHABET
    codes = {rules.generate_recovery_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 9 and code[4] == "-" and is_recovery_code(code.replace("-", ""))


def test_a_code_matches_its_step_and_the_window(app):
    with app.app_context():
        step = rules.time_step(NOW)
        totp = pyotp.TOTP(SECRET)
        assert rules.matching_step(SECRET, totp.at(NOW), NOW, None) == step
        assert rules.matching_step(SECRET, totp.at(step * 30 - 30), NOW, None) == step - 1
        assert rules.matching_step(SECRET, totp.at(step * 30 + 30), NOW, None) == step + 1
        assert rules.matching_step(SECRET, totp.at(step * 30 - 60), NOW, None) is None
        assert rules.matching_step(SECRET, totp.at(step * 30 + 60), NOW, None) is None
        # A step used once (or an earlier one) is never accepted again.
        assert rules.matching_step(SECRET, totp.at(NOW), NOW, step) is None
        assert rules.matching_step(SECRET, totp.at(step * 30 - 30), NOW, step) is None
        assert rules.matching_step(SECRET, totp.at(step * 30 + 30), NOW, step) == step + 1


def test_the_window_follows_the_config(make_app):
    app = make_app(TOTP_VALID_WINDOW=0)
    with app.app_context():
        step = rules.time_step(NOW)
        totp = pyotp.TOTP(SECRET)
        assert rules.matching_step(SECRET, totp.at(NOW), NOW, None) == step
        assert rules.matching_step(SECRET, totp.at(step * 30 - 30), NOW, None) is None


def test_the_seed_is_encrypted_with_the_secret_key(make_app):
    app = make_app()
    with app.app_context():
        token = rules.encrypt_secret(SECRET)
        assert SECRET not in token and rules.decrypt_secret(token) == SECRET
        assert rules.decrypt_secret("garbage") is None
    other = make_app(SECRET_KEY="another-secret-key-for-this-test-only")
    with other.app_context():
        assert rules.decrypt_secret(token) is None


@pytest.mark.parametrize("host, rp", [("enelink.test", "enelink.test"),
                                      ("127.0.0.1:5000", "127.0.0.1"),
                                      ("portal.example.jp", "portal.example.jp")])
def test_the_relying_party_is_the_public_host_without_port(make_app, host, rp):
    app = make_app(PUBLIC_HOST=host, PREFERRED_URL_SCHEME="https")
    with app.app_context():
        assert rules.rp_id() == rp
        assert rules.expected_origin() == f"https://{host}"


def test_the_key_is_shown_in_groups_of_four():
    assert rules.grouped("ABCDEFGHIJ") == "ABCD EFGH IJ"
