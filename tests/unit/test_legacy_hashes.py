"""The old portal's password hashes: bcrypt and Django's PBKDF2 verify the right password
only; malformed, unknown or too costly hashes never verify (and are refused at import)."""
from __future__ import annotations

import base64
import hashlib

import bcrypt
import pytest

from blueprints.account.legacy_hashes import hash_problem, verify_old_hash

PASSWORD = "Old-Pass-2019"
# Django 4's own hash of "Old-Pass-2019" would look like this; computed here by its
# definition (PBKDF2-HMAC-SHA256, 1000 rounds, salt "pepper12", base64).
DJANGO_SHA256 = "pbkdf2_sha256$1000$pepper12$" + base64.b64encode(
    hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), b"pepper12", 1000)).decode()
DJANGO_SHA1 = "pbkdf2_sha1$1000$salt$" + base64.b64encode(
    hashlib.pbkdf2_hmac("sha1", PASSWORD.encode(), b"salt", 1000)).decode()


def test_bcrypt_verifies_the_right_password_only():
    stored = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    assert hash_problem("bcrypt", stored) is None
    assert verify_old_hash("bcrypt", stored, PASSWORD)
    assert not verify_old_hash("bcrypt", stored, PASSWORD.lower())
    assert not verify_old_hash("bcrypt", stored, "")
    # PHP's $2y$ and the old $2a$ prefixes are the same algorithm.
    assert verify_old_hash("bcrypt", "$2y$" + stored[4:], PASSWORD)
    assert verify_old_hash("bcrypt", "$2a$" + stored[4:], PASSWORD)


def test_bcrypt_counts_the_first_72_bytes_as_the_old_portal_did():
    long = "Aa1!" * 30  # 120 bytes
    stored = bcrypt.hashpw(long.encode()[:72], bcrypt.gensalt(4)).decode()
    assert verify_old_hash("bcrypt", stored, long)
    assert verify_old_hash("bcrypt", stored, "パスワード" * 10) is False


def test_django_pbkdf2_verifies_the_right_password_only():
    for stored, fmt in ((DJANGO_SHA256, "pbkdf2_sha256"), (DJANGO_SHA1, "pbkdf2_sha1")):
        assert hash_problem(fmt, stored) is None
        assert verify_old_hash(fmt, stored, PASSWORD)
        assert not verify_old_hash(fmt, stored, PASSWORD + "x")
    # The format must match the hash's own algorithm.
    assert not verify_old_hash("pbkdf2_sha1", DJANGO_SHA256, PASSWORD)
    assert not verify_old_hash("bcrypt", DJANGO_SHA256, PASSWORD)


@pytest.mark.parametrize("fmt, stored, problem", [
    ("md5", "5f4dcc3b5aa765d61d8327deb882cf99", "unknown hash format"),
    ("", "x", "unknown hash format"),
    ("bcrypt", "$2b$10$short", "malformed bcrypt hash"),
    ("bcrypt", "$2x$10$" + "a" * 53, "malformed bcrypt hash"),
    ("bcrypt", "$2b$31$" + "a" * 53, "bcrypt cost outside"),
    ("bcrypt", "$2b$03$" + "a" * 53, "bcrypt cost outside"),
    ("bcrypt", "＄2b＄10＄" + "a" * 53, "malformed hash"),
    ("pbkdf2_sha256", "pbkdf2_sha256$1000$salt", "malformed pbkdf2_sha256 hash"),
    ("pbkdf2_sha256", "pbkdf2_sha1$1000$salt$" + "A" * 44, "malformed pbkdf2_sha256 hash"),
    ("pbkdf2_sha256", "pbkdf2_sha256$99999999$salt$" + "A" * 44, "iterations outside"),
    ("pbkdf2_sha256", "pbkdf2_sha256$abc$salt$" + "A" * 44, "iterations outside"),
    ("pbkdf2_sha256", "pbkdf2_sha256$1000$$" + "A" * 44, "salt of 1-64"),
    ("pbkdf2_sha256", "pbkdf2_sha256$1000$salt$not base64!", "not base64"),
    ("pbkdf2_sha256", "pbkdf2_sha256$1000$salt$" + base64.b64encode(b"x" * 20).decode(),
     "of 32 bytes expected"),
    ("bcrypt", "$2b$10$" + "a" * 53 + "\x00", "malformed bcrypt hash"),
])
def test_unusable_hashes_are_named_and_never_verify(fmt, stored, problem):
    assert problem in hash_problem(fmt, stored)
    assert not verify_old_hash(fmt, stored, PASSWORD)


def test_nothing_verifies_without_a_hash():
    assert not verify_old_hash(None, None, PASSWORD)
    assert not verify_old_hash("bcrypt", None, PASSWORD)
