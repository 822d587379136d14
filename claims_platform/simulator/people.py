"""Fake identities: names, SSNs, addresses, phones, e-mails and provider NPIs.

Everything is drawn from the simulator's one random stream, so the same seed gives the same people.
Identifiers are fake by construction where a safe range exists: NPIs start with 99 (no NPI is issued
there yet) and phones use the 555 prefix; e-mails use the reserved example.com domain.
"""

from __future__ import annotations

import random
import unicodedata

from claims_platform.contracts.rules import luhn_check_digit

from .codes import (
    FIRST_NAMES_F,
    FIRST_NAMES_M,
    FIRST_NAMES_U,
    LAST_NAMES,
    PLACES,
    STREET_SUFFIXES,
    STREETS,
    UNIT_PREFIXES,
)


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


class Identities:
    """Draws fake people and places; SSNs and NPIs are unique within one simulation."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._ssns: set[str] = set()
        self._npis: set[str] = set()

    def _pick(self, seq: tuple[str, ...]) -> str:
        return seq[int(self._rng.random() * len(seq))]

    def gender(self) -> str:
        r = self._rng.random()
        return "F" if r < 0.495 else "M" if r < 0.99 else "U"

    def first_name(self, gender: str) -> str:
        names = (
            FIRST_NAMES_F if gender == "F" else FIRST_NAMES_M if gender == "M" else FIRST_NAMES_U
        )
        return self._pick(names)

    def last_name(self) -> str:
        return self._pick(LAST_NAMES)

    def ssn(self) -> str:
        """Nine digits shaped like an SSN: area not 000, 666 or 9xx; group, serial non-zero."""
        rng = self._rng
        while True:
            area = rng.randint(1, 898)
            area += area >= 666  # skip 666
            value = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
            if value not in self._ssns:
                self._ssns.add(value)
                return value

    def npi(self) -> str:
        """A ten-digit NPI starting with 99 whose last digit is the Luhn check over 80840 + nine."""
        rng = self._rng
        while True:
            base = f"99{rng.randint(0, 9_999_999):07d}"
            value = base + str(luhn_check_digit("80840" + base))
            if value not in self._npis:
                self._npis.add(value)
                return value

    def place(self) -> tuple[str, str, str]:
        """(city, state, zip5)."""
        return PLACES[int(self._rng.random() * len(PLACES))]

    def street_address(self) -> str:
        rng = self._rng
        line = f"{rng.randint(10, 9899)} {self._pick(STREETS)} {self._pick(STREET_SUFFIXES)}"
        if rng.random() < 0.12:
            # "123 Main St, Apt 4": the comma makes DMS quote the CSV field, as real addresses do.
            line += (
                f", {self._pick(UNIT_PREFIXES)} {rng.randint(1, 40)}{self._pick(('', 'A', 'B'))}"
            )
        return line

    def phone(self) -> str:
        rng = self._rng
        return f"555-{rng.randint(200, 999):03d}-{rng.randint(0, 9999):04d}"

    def email(self, first: str, last: str) -> str:
        return f"{_ascii_slug(first)}.{_ascii_slug(last)}{self._rng.randint(1, 99)}@example.com"
