"""Random tokens stored only as hashes, and argon2 password hashes.

A link token is 32 random bytes (256 bits) in URL-safe base64; the database keeps its
SHA-256 only, so a copy of the database does not hand out working links. SHA-256 without a
salt is enough here because the token is uniformly random and long, unlike a password.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_BYTES = 32
_password_hasher = PasswordHasher()
# Verifying against this keeps a sign-in with an unknown name as slow as one with a known name.
_DUMMY_HASH = _password_hasher.hash("not a real password: keeps timing even")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
