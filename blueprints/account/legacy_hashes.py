"""Password hashes of the old portal, and finding an account by e-mail or old user name.

An imported account keeps the old portal's hash (`LegacyLogin.old_hash`) until its
one-time migration step; this module checks such a hash once. The formats accepted (the
`hash_format` column of `flask --app app accounts import`):

- `bcrypt`: the modular crypt string `$2a$`, `$2b$` or `$2y$` + cost (04-14) + 53
  characters of salt and hash (60 in all). Like every bcrypt, only the first 72 bytes of
  the password count.
- `pbkdf2_sha256` and `pbkdf2_sha1`: Django's `<algorithm>$<iterations>$<salt>$<base64
  hash>` (iterations 1,000-1,200,000; salt 1-64 characters without `$`; the hash 32
  resp. 20 bytes).

Costs above those bounds are refused at import: the check runs on the sign-in path, and
a hash that takes seconds would be a way to tie up the server.

No import of the account services here: they import this module."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

import bcrypt
from sqlalchemy import func, select, union

from models import db
from models.account import Account, LegacyLogin

BCRYPT_MAX_COST = 14
PBKDF2_MIN_ITERATIONS = 1_000
PBKDF2_MAX_ITERATIONS = 1_200_000
_BCRYPT = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")
_PBKDF2 = {"pbkdf2_sha256": ("sha256", 32), "pbkdf2_sha1": ("sha1", 20)}
HASH_FORMATS = ("bcrypt", *_PBKDF2)
USERNAME_MAX = 64


def hash_problem(hash_format: str, old_hash: str) -> str | None:
    """Why the hash cannot be used (unknown format, malformed, too costly), or None."""
    if hash_format not in HASH_FORMATS:
        return f"unknown hash format {hash_format[:30]!r} (known: {', '.join(HASH_FORMATS)})"
    if not old_hash.isascii() or len(old_hash) > 255:
        return "malformed hash"
    if hash_format == "bcrypt":
        match = _BCRYPT.fullmatch(old_hash)
        if match is None:
            return "malformed bcrypt hash"
        if not 4 <= int(match.group(1)) <= BCRYPT_MAX_COST:
            return f"bcrypt cost outside 04-{BCRYPT_MAX_COST}"
        return None
    parts = old_hash.split("$")
    if len(parts) != 4 or parts[0] != hash_format:
        return f"malformed {hash_format} hash (expected {hash_format}$iterations$salt$hash)"
    _name, iterations, salt, encoded = parts
    if not iterations.isdigit() or not (
            PBKDF2_MIN_ITERATIONS <= int(iterations) <= PBKDF2_MAX_ITERATIONS):
        return (f"{hash_format} iterations outside "
                f"{PBKDF2_MIN_ITERATIONS}-{PBKDF2_MAX_ITERATIONS}")
    if not 1 <= len(salt) <= 64:
        return f"{hash_format} salt of 1-64 characters expected"
    try:
        digest = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return f"{hash_format} hash is not base64"
    if len(digest) != _PBKDF2[hash_format][1]:
        return f"{hash_format} hash of {_PBKDF2[hash_format][1]} bytes expected"
    return None


def verify_old_hash(hash_format: str | None, old_hash: str | None, password: str) -> bool:
    """Whether `password` is the one the old portal hashed. Constant-time comparison;
    a hash that is not usable (see hash_problem) never matches."""
    if not hash_format or not old_hash or hash_problem(hash_format, old_hash) is not None:
        return False
    secret = password.encode("utf-8")
    if hash_format == "bcrypt":
        try:
            return bcrypt.checkpw(secret[:72], old_hash.encode("ascii"))
        except ValueError:
            return False
    _name, iterations, salt, encoded = old_hash.split("$")
    algorithm, _size = _PBKDF2[hash_format]
    computed = hashlib.pbkdf2_hmac(algorithm, secret, salt.encode("ascii"), int(iterations))
    return hmac.compare_digest(computed, base64.b64decode(encoded))


def find_for_sign_in(login: str) -> tuple[Account | None, LegacyLogin | None]:
    """The account whose e-mail, or old portal user name, is `login` (case-insensitive),
    with its LegacyLogin when it was imported. One statement, the same text for an e-mail
    and a user name, known or not: what sign-in does tells nobody which it was."""
    if not login:
        return None, None
    lowered = login.lower()
    ids = union(
        select(Account.id).where(func.lower(Account.email) == lowered),
        select(LegacyLogin.account_id).where(func.lower(LegacyLogin.username) == lowered),
    ).subquery()
    row = db.session.execute(
        select(Account, LegacyLogin)
        .outerjoin(LegacyLogin, LegacyLogin.account_id == Account.id)
        .where(Account.id.in_(select(ids.c[0])))
        .limit(1)
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)


def forget_old_hash(account: Account) -> None:
    """A new password was set (password reset): the old portal's hash is deleted. The
    account still goes through the rest of the one-time step (data, terms) at its next
    sign-in; `migrated_at` is set there."""
    legacy = db.session.scalar(select(LegacyLogin).where(LegacyLogin.account_id == account.id))
    if legacy is not None and legacy.old_hash is not None:
        legacy.old_hash = None
        legacy.hash_format = None
