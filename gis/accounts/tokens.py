"""Random secrets (login tokens, API keys) and the digests they are stored as."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    """32 random bytes, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    """SHA-256: enough for a 256-bit random secret (a slow hash protects weak ones only)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def csrf_token(session_token: str) -> str:
    """The CSRF token of a browser session: derived from its cookie, which scripts of
    other sites can neither read nor guess, so a page can prove it is ours."""
    return hashlib.sha256(b"gridmap-csrf:" + session_token.encode()).hexdigest()[:40]


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
