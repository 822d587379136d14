"""Keyed HMAC tokens for direct identifiers (SSN): joinable, irreversible without the key."""

from __future__ import annotations

import hashlib
import hmac

# Development-only key: local data is synthetic. It is public (it is in git), so a token made with
# it is reversed by hashing every possible SSN: outside local the key must come from a secret, and
# environment.tokenization_key_refusal refuses this one there.
LOCAL_DEVELOPMENT_KEY = "claims-platform-local-development-key-not-a-secret"
# HMAC-SHA256's block is 64 bytes and its output 32: a shorter key is the weakest link (NIST SP
# 800-107 asks for a key at least as long as the security strength wanted, here 256 bits).
MIN_KEY_BYTES = 32


def key_weakness(key: str) -> str | None:
    """Why `key` must not tokenize real SSNs (never quoting it), or None if it may."""
    if key == LOCAL_DEVELOPMENT_KEY:
        return "is the public development key"
    if len(key.encode("utf-8")) < MIN_KEY_BYTES:
        return f"is shorter than {MIN_KEY_BYTES} bytes"
    return None


def tokenize(value: str | None, key: str) -> str | None:
    """HMAC-SHA256 of the value's text, hex encoded; NULL stays NULL."""
    if value is None:
        return None
    return hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()
