"""Row-level validation rules named by the contracts (CONTRACT §3, domain rules).

Pure Python with no Spark import: the silver job ships these to its executors, and the simulator
and tests use the same definitions. A failed rule is a reject with the rule's name, never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

_ICD10CM = re.compile(r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$")
_CPT = re.compile(r"^[0-9]{4}[0-9FTU]$")
_HCPCS = re.compile(r"^[A-V][0-9]{4}$")
_POS = re.compile(r"^[0-9]{2}$")
_REVENUE = re.compile(r"^[0-9]{4}$")


def luhn_check_digit(digits: str) -> int:
    """Luhn check digit for a string of digits (the check digit itself not included)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


# The card issuer prefix an NPI's check digit is computed with (health applications, USA).
NPI_PREFIX = "80840"


def npi_is_valid(npi: str) -> bool:
    """10 digits whose last digit is the Luhn check digit of '80840' + the first nine."""
    return (
        len(npi) == 10
        and npi.isascii()
        and npi.isdigit()
        and luhn_check_digit(NPI_PREFIX + npi[:9]) == int(npi[9])
    )


COLUMN_RULES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "npi": ("NPI must be 10 digits with a valid check digit", lambda v: npi_is_valid(str(v))),
    "icd10cm": (
        "ICD-10-CM code must match ^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$",
        lambda v: bool(_ICD10CM.match(str(v))),
    ),
    "cpt_hcpcs": (
        "procedure code must be a CPT (^[0-9]{4}[0-9FTU]$) or HCPCS (^[A-V][0-9]{4}$) code",
        lambda v: bool(_CPT.match(str(v)) or _HCPCS.match(str(v))),
    ),
    "place_of_service": (
        "place of service must be two digits",
        lambda v: bool(_POS.match(str(v))),
    ),
    "revenue_code": ("revenue code must be four digits", lambda v: bool(_REVENUE.match(str(v)))),
}


def _re2(pattern: str) -> Callable[[Any], Any]:
    """A bare pattern's rule over an Arrow string array (RE2; Python's `$` also allows a final
    newline)."""

    def check(values: Any) -> Any:
        import pyarrow.compute as pc

        return pc.match_substring_regex(values, f"^(?:{pattern})\\n?$")

    return check


def _npi_vector(values: Any) -> Any:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    shaped = pc.fill_null(pc.match_substring_regex(values, r"^[0-9]{10}$"), False)
    digits = pc.if_else(shaped, values, pa.scalar("0000000000"))
    # Luhn over "80840" + the first nine digits; counted from the right, the ninth is doubled.
    total = np.full(len(values), sum(_luhn_terms(NPI_PREFIX, 9)), dtype=np.int64)
    for k in range(9):
        d = pc.cast(pc.utf8_slice_codeunits(digits, k, k + 1), pa.int64()).to_numpy()
        if (8 - k) % 2 == 0:
            d = d * 2
            d = np.where(d > 9, d - 9, d)
        total += d
    check = pc.cast(pc.utf8_slice_codeunits(digits, 9, 10), pa.int64()).to_numpy()
    ok = np.asarray(shaped.to_numpy(zero_copy_only=False), bool) & (check == (10 - total % 10) % 10)
    return pa.array(ok) if values.null_count == 0 else pc.if_else(values.is_valid(), ok, None)


def _luhn_terms(prefix: str, following: int) -> list[int]:
    """Luhn terms of a constant prefix followed by `following` more digits."""
    terms = []
    for j, ch in enumerate(prefix):
        i = len(prefix) + following - 1 - j  # position from the right, 0 = rightmost
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        terms.append(d)
    return terms


def _all_present(row: Mapping[str, Any], names: tuple[str, ...]) -> bool:
    return all(row.get(n) is not None for n in names)


# Operands of the row rules: the first equals (line_balance) or covers (billed_covers_allowed)
# the sum of the others. Named here once for every engine that states the rules (pushdown SQL).
LINE_BALANCE = ("ALLOWED_AMT", "PAID_AMT", "DEDUCTIBLE_AMT", "COPAY_AMT", "COINSURANCE_AMT")
BILLED_COVERS_ALLOWED = ("BILLED_AMT", "ALLOWED_AMT")


def _line_balance(row: Mapping[str, Any]) -> bool:
    if not _all_present(row, LINE_BALANCE):
        return True
    allowed, *parts = (Decimal(row[n]) for n in LINE_BALANCE)
    return allowed == sum(parts, Decimal(0))


def _billed_covers_allowed(row: Mapping[str, Any]) -> bool:
    if not _all_present(row, BILLED_COVERS_ALLOWED):
        return True
    billed, allowed = (Decimal(row[n]) for n in BILLED_COVERS_ALLOWED)
    return billed >= allowed


ROW_RULES: dict[str, tuple[str, Callable[[Mapping[str, Any]], bool]]] = {
    "line_balance": (
        "ALLOWED_AMT must equal PAID_AMT + DEDUCTIBLE_AMT + COPAY_AMT + COINSURANCE_AMT",
        _line_balance,
    ),
    "billed_covers_allowed": ("BILLED_AMT must be at least ALLOWED_AMT", _billed_covers_allowed),
}


# Regex-only column rules as bare patterns (no anchors), for parsers that inline them.
RULE_PATTERNS: dict[str, str] = {
    "icd10cm": _ICD10CM.pattern[1:-1],
    "cpt_hcpcs": f"(?:{_CPT.pattern[1:-1]}|{_HCPCS.pattern[1:-1]})",
    "place_of_service": _POS.pattern[1:-1],
    "revenue_code": _REVENUE.pattern[1:-1],
}

# The column rules over Arrow string arrays, for the silver parser (same names, same verdicts).
VECTOR_COLUMN_RULES: dict[str, Callable[[Any], Any]] = {
    "npi": _npi_vector,
    **{name: _re2(pattern) for name, pattern in RULE_PATTERNS.items()},
}
