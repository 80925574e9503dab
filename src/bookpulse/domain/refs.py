"""Public booking references: short, readable, unambiguous (``BP-7K3Q9X``)."""

from __future__ import annotations

import secrets

# Crockford-like alphabet without 0/O, 1/I/L, U: nothing to misread at a front desk.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "BP-"
LENGTH = 6


_SYSTEM_RANDOM = secrets.SystemRandom()


def new_reference(rng: secrets.SystemRandom | None = None) -> str:
    """A random reference; 30**6 = 729 million values, uniqueness is enforced by storage.
    One draw of a number below 30**6, written in the alphabet's 30 digits."""
    n = (rng or _SYSTEM_RANDOM).randrange(len(ALPHABET) ** LENGTH)
    digits = []
    for _ in range(LENGTH):
        n, d = divmod(n, len(ALPHABET))
        digits.append(ALPHABET[d])
    return PREFIX + "".join(digits)


def normalize_reference(text: str) -> str:
    """Accept what people type: lower case, spaces, a missing prefix."""
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    if cleaned.startswith("BP"):
        cleaned = cleaned[2:]
    return PREFIX + cleaned


def looks_like_reference(text: str) -> bool:
    ref = normalize_reference(text)
    body = ref[len(PREFIX):]
    return len(body) == LENGTH and all(ch in ALPHABET for ch in body)
