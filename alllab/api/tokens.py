"""Token format and hashing, kept apart so the rules are stated once.

A token reads ``alllab_<lookup>_<secret>``: ``lookup`` (12 hex characters) finds the client row, ``secret`` (43
URL-safe characters, 256 bits) is what makes it unguessable. Only ``sha256(token)`` is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

PREFIX = "alllab"
_TOKEN_RE = re.compile(r"^alllab_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


def token_generate() -> tuple[str, str]:
    """A new random token and its lookup prefix."""
    lookup = secrets.token_hex(6)
    return f"{PREFIX}_{lookup}_{secrets.token_urlsafe(32)}", lookup


def token_hash(token: str) -> str:
    """Hex SHA-256 of the whole token (a plain hash suffices: the token has 256 bits of entropy, unlike a password)."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_lookup(token: str) -> str | None:
    """The lookup prefix of a well-formed token, or None for anything else."""
    match = _TOKEN_RE.match(token)
    return match.group(1) if match else None


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token with a stored hash."""
    return hmac.compare_digest(token_hash(token), stored_hash)
