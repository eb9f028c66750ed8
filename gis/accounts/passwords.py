"""Password hashing with argon2id (argon2-cffi), never stored or compared in clear.

``verify`` against an unknown user still runs a full hash check (against a
hash made once at import), so a wrong user and a wrong password take the same
time as well as giving the same answer.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gis.errors import InvalidParameterError

MIN_LENGTH = 8
MAX_LENGTH = 256

_HASHER = PasswordHasher()  # argon2id, the library's current recommended parameters
_NOBODY = _HASHER.hash("no account has this password, it only costs the same time")


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidParameterError(
            f"the password has {len(password)} characters; use at least {MIN_LENGTH}"
        )
    if len(password) > MAX_LENGTH:
        raise InvalidParameterError(f"the password is longer than {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_strength(password)
    return _HASHER.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; ``stored_hash`` None (no such user) is always False,
    and so is a password longer than any account can have (only its first
    ``MAX_LENGTH`` characters are hashed: a megabyte would be a cheap attack)."""
    too_long = len(password) > MAX_LENGTH  # no account has one: checked, at the same cost
    try:
        _HASHER.verify(stored_hash or _NOBODY, password[:MAX_LENGTH])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return stored_hash is not None and not too_long


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with older parameters than today's."""
    return _HASHER.check_needs_rehash(stored_hash)
