"""Keyed HMAC tokens for direct identifiers (SSN): joinable, irreversible without the key."""

from __future__ import annotations

import hashlib
import hmac

# Development-only key: local data is synthetic. Outside local the key must come from a secret
# (see environment.Settings.tokenization_key); the resources module refuses to run without one.
LOCAL_DEVELOPMENT_KEY = "claims-platform-local-development-key-not-a-secret"


def tokenize(value: str | None, key: str) -> str | None:
    """HMAC-SHA256 of the value's text, hex encoded; NULL stays NULL."""
    if value is None:
        return None
    return hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()
