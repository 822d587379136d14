"""A reference model of gold in plain Python: the oracle the pipeline is tested against.

Written from ``/work/shared/CONTRACT.md`` alone and sharing no code with the pipeline (only the SSN
tokenizer is imported, because a token cannot be predicted any other way). It favours being
obviously right over being fast: every rule is one small function over lists of dicts.

Input: per source table, a list of change events as the simulator's truth files hold them::

    {"op": "I"|"U"|"D", "dms_timestamp": "YYYY-MM-DD HH:MM:SS.ffffff", "change_seq": str | None,
     "file": "CLAIMS/MEMBER/20240102-101500123.csv", "row": 1, "values": {"MEMBER_ID": ..., ...}}

Output of :func:`expected_gold`: every gold table of CONTRACT §4 as a list of row dicts with
lower-case column names and Python values (``str``, ``int``, ``Decimal`` quantized to 0.01,
``date``, naive-UTC ``datetime``, ``bool``, ``None``), rows sorted by the table's natural key.
The SCD2 surrogate keys (``member_sk``, ``provider_sk``) are left out: they are not predictable.

Interpretations where CONTRACT.md and the brief are silent (the plain reading, written down):

* Values are typed by the column types of CONTRACT §3 (amounts NUMBER(12,2) -> ``Decimal``; the
  ``*_DATE`` columns -> ``date``; ``UPDATED_AT`` -> ``datetime``; ``LINE_NUMBER`` and ``UNITS`` ->
  ``int``; every other column, codes included, -> ``str``). An empty string in a non-text column
  is NULL. Columns a table does not list in CONTRACT §3 (e.g. added later by DDL) are ignored,
  and a column missing from an event is NULL.
* Change order: events without a change_seq first, then by change_seq (compared as an integer);
  then DMS_TIMESTAMP, full-load files (base name ``LOAD…``) before CDC files, file base name (date
  folders do not count), row. The full path, op and values break any remaining tie, so the result
  never depends on arrival order. A missing op means ``I`` (full load without the Op column).
* Duplicates: equal key, op, DMS_TIMESTAMP, change_seq and every typed value (so ``'12.3'`` and
  ``'12.30'`` are equal) are one change; the first in change order is kept, wherever the copies
  sit in the order.
* SCD2: a version row carries the column values of the change that opened it (a later ``U``
  that changes only UPDATED_AT opens nothing and changes nothing, so the version keeps the
  UPDATED_AT it was opened with). Versions opened and closed at the same instant (two changes
  with the same DMS_TIMESTAMP) are kept, with ``valid_from == valid_to``. A ``D`` without an open
  version does nothing. Tracked columns are compared on raw SSN (equivalent to comparing tokens).
* Facts are per row of their own table: a claim line exists if its own last change is not a
  ``D``, whether or not its claim exists; the same for enrollments and member months (the member
  need not exist).
* ``is_final_action`` ignores a claim naming itself as ORIGINAL_CLAIM_ID; a replacement or void
  counts only while it exists (its last change is not a ``D``).
* ``primary_dx_code``: the element with the lowest ``seq``; ties go to the earlier element in the
  array, elements without ``seq`` come last. An empty string or NULL DIAGNOSIS_CODES / ADJUSTMENTS
  has no elements. A missing ``poa``/``group``/``carc``/``amount`` is NULL.
* Enrollment coverage: EFFECTIVE_DATE..TERMINATION_DATE inclusive; NULL TERMINATION_DATE runs to
  the last day of the valuation month (also when the claim date is looked up for mart_pmpm, so an
  open enrollment never covers a date after the valuation month). An enrollment with a NULL
  EFFECTIVE_DATE or MEMBER_ID covers nothing. A non-NULL TERMINATION_DATE is taken as given,
  even when it is after the valuation month.
* Ties between enrollments: most days covered in the month, then latest EFFECTIVE_DATE, then the
  highest ENROLLMENT_ID compared as text (it is a string column).
* line_of_business is ``'UNKNOWN'`` when the plan does not exist, PLAN_ID is NULL, or the
  plan's LINE_OF_BUSINESS is NULL.
* mart_pmpm / mart_claim_lag skip claims whose STATEMENT_FROM_DATE is NULL; the incurred month
  of mart_claim_lag is the month of STATEMENT_FROM_DATE. A claim whose MEMBER_ID is NULL is
  attributed to ``'UNKNOWN'``. ``pmpm_paid`` rounds half away from zero (ROUND_HALF_UP).
* The valuation month is the month of the largest DMS_TIMESTAMP over all events of all tables
  given (deleted keys and duplicates included).
"""

from __future__ import annotations

import calendar
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path, PurePosixPath
from typing import Any

from claims_platform.governance.tokenize import LOCAL_DEVELOPMENT_KEY, tokenize

__all__ = [
    "GOLD_TABLES",
    "SOURCE_TABLES",
    "expected_gold",
    "load_truth",
]

CENT = Decimal("0.01")
UNKNOWN = "UNKNOWN"

# Column types, written out from CONTRACT §3 (not read from the pipeline's contracts on purpose).
_S, _INT, _DEC, _DATE, _TS, _JSON = "string", "integer", "decimal", "date", "timestamp", "json"


@dataclass(frozen=True)
class SourceTable:
    name: str
    key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


SOURCE_TABLES: dict[str, SourceTable] = {
    t.name: t
    for t in (
        SourceTable(
            "PLAN",
            ("PLAN_ID",),
            (
                ("PLAN_ID", _S),
                ("PLAN_NAME", _S),
                ("LINE_OF_BUSINESS", _S),
                ("PRODUCT_TYPE", _S),
                ("FUNDING_TYPE", _S),
                ("UPDATED_AT", _TS),
            ),
        ),
        SourceTable(
            "MEMBER",
            ("MEMBER_ID",),
            (
                ("MEMBER_ID", _S),
                ("SUBSCRIBER_ID", _S),
                ("RELATIONSHIP_CODE", _S),
                ("FIRST_NAME", _S),
                ("LAST_NAME", _S),
                ("BIRTH_DATE", _DATE),
                ("GENDER", _S),
                ("SSN", _S),
                ("ADDRESS_LINE1", _S),
                ("CITY", _S),
                ("STATE", _S),
                ("ZIP5", _S),
                ("PHONE", _S),
                ("EMAIL", _S),
                ("UPDATED_AT", _TS),
            ),
        ),
        SourceTable(
            "ENROLLMENT",
            ("ENROLLMENT_ID",),
            (
                ("ENROLLMENT_ID", _S),
                ("MEMBER_ID", _S),
                ("PLAN_ID", _S),
                ("EFFECTIVE_DATE", _DATE),
                ("TERMINATION_DATE", _DATE),
                ("UPDATED_AT", _TS),
            ),
        ),
        SourceTable(
            "PROVIDER",
            ("PROVIDER_ID",),
            (
                ("PROVIDER_ID", _S),
                ("NPI", _S),
                ("ENTITY_TYPE_CODE", _S),
                ("PROVIDER_NAME", _S),
                ("TAXONOMY_CODE", _S),
                ("STATE", _S),
                ("ZIP5", _S),
                ("NETWORK_STATUS", _S),
                ("UPDATED_AT", _TS),
            ),
        ),
        SourceTable(
            "CLAIM",
            ("CLAIM_ID",),
            (
                ("CLAIM_ID", _S),
                ("ORIGINAL_CLAIM_ID", _S),
                ("FREQUENCY_CODE", _S),
                ("CLAIM_FORM_TYPE", _S),
                ("MEMBER_ID", _S),
                ("BILLING_PROVIDER_ID", _S),
                ("BILL_TYPE_CODE", _S),
                ("STATEMENT_FROM_DATE", _DATE),
                ("STATEMENT_THRU_DATE", _DATE),
                ("RECEIVED_DATE", _DATE),
                ("ADJUDICATED_DATE", _DATE),
                ("PAID_DATE", _DATE),
                ("CLAIM_STATUS", _S),
                ("TOTAL_BILLED", _DEC),
                ("TOTAL_ALLOWED", _DEC),
                ("TOTAL_PAID", _DEC),
                ("DIAGNOSIS_CODES", _JSON),
                ("UPDATED_AT", _TS),
            ),
        ),
        SourceTable(
            "CLAIM_LINE",
            ("CLAIM_ID", "LINE_NUMBER"),
            (
                ("CLAIM_ID", _S),
                ("LINE_NUMBER", _INT),
                ("SERVICE_FROM_DATE", _DATE),
                ("SERVICE_THRU_DATE", _DATE),
                ("PROCEDURE_CODE", _S),
                ("MODIFIER_1", _S),
                ("MODIFIER_2", _S),
                ("REVENUE_CODE", _S),
                ("PLACE_OF_SERVICE", _S),
                ("UNITS", _INT),
                ("RENDERING_PROVIDER_ID", _S),
                ("BILLED_AMT", _DEC),
                ("ALLOWED_AMT", _DEC),
                ("PAID_AMT", _DEC),
                ("DEDUCTIBLE_AMT", _DEC),
                ("COPAY_AMT", _DEC),
                ("COINSURANCE_AMT", _DEC),
                ("LINE_STATUS", _S),
                ("ADJUSTMENTS", _JSON),
                ("UPDATED_AT", _TS),
            ),
        ),
    )
}

GOLD_TABLES: tuple[str, ...] = (
    "dim_member",
    "dim_provider",
    "dim_plan",
    "fct_claim",
    "fct_claim_line",
    "fct_claim_diagnosis",
    "fct_claim_line_adjustment",
    "fct_member_month",
    "mart_pmpm",
    "mart_claim_lag",
)


# --------------------------------------------------------------------------------------------
# Typing values
# --------------------------------------------------------------------------------------------


def _to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _to_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _to_timestamp(value).date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if len(text) == 10:
        return date.fromisoformat(text)
    return _to_timestamp(text).date()


def _to_timestamp(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _to_json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _typed(column_type: str, value: Any) -> Any:
    if column_type == _S:
        return None if value is None else str(value)
    if column_type == _INT:
        return None if value is None or value == "" else int(value)
    if column_type == _DEC:
        return _to_decimal(value)
    if column_type == _DATE:
        return _to_date(value)
    if column_type == _TS:
        return _to_timestamp(value)
    if column_type == _JSON:
        return _to_json_text(value)
    raise ValueError(f"unknown column type {column_type!r}")


# --------------------------------------------------------------------------------------------
# Change order and current state
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One change event, typed."""

    op: str
    dms_timestamp: datetime
    change_seq: int | None
    file: str
    row: int
    values: tuple[Any, ...]  # in SourceTable.columns order
    table: SourceTable

    @property
    def base_name(self) -> str:
        return PurePosixPath(self.file).name

    @property
    def is_full_load(self) -> bool:
        return self.base_name.upper().startswith("LOAD")

    @property
    def key(self) -> tuple[Any, ...]:
        return tuple(self.get(column) for column in self.table.key)

    def get(self, column: str) -> Any:
        return self.values[self.table.column_names.index(column)]

    def as_dict(self) -> dict[str, Any]:
        return dict(zip(self.table.column_names, self.values, strict=True))

    def identity(self) -> tuple[Any, ...]:
        """What makes two deliveries one change (CONTRACT §2)."""
        return (self.op, self.dms_timestamp, self.change_seq, self.values)

    def order_key(self) -> tuple[Any, ...]:
        return (
            self.change_seq is not None,
            self.change_seq if self.change_seq is not None else 0,
            self.dms_timestamp,
            not self.is_full_load,
            self.base_name,
            self.row,
            # Tie-breakers that only matter for inconsistent input; they keep the result
            # independent of arrival order.
            self.file,
            self.op,
            repr(self.values),
        )


def _parse_change(table: SourceTable, event: Mapping[str, Any]) -> Change:
    raw_values = event.get("values") or {}
    upper = {str(k).upper(): v for k, v in raw_values.items()}
    values = tuple(_typed(ctype, upper.get(name)) for name, ctype in table.columns)
    seq = event.get("change_seq")
    op = (event.get("op") or "I").upper()
    if op not in ("I", "U", "D"):
        raise ValueError(
            f"{table.name}: unknown op {op!r} in {event.get('file')} row {event.get('row')}"
        )
    timestamp = _to_timestamp(event["dms_timestamp"])
    assert timestamp is not None
    return Change(
        op=op,
        dms_timestamp=timestamp,
        change_seq=None if seq is None or str(seq).strip() == "" else int(str(seq)),
        file=str(event.get("file") or ""),
        row=int(event.get("row") or 0),
        values=values,
        table=table,
    )


def ordered_changes(
    table_name: str, events: Iterable[Mapping[str, Any]]
) -> dict[tuple, list[Change]]:
    """Changes per key, in change order, each duplicate delivery counted once."""
    table = SOURCE_TABLES[table_name.upper()]
    by_key: dict[tuple, list[Change]] = defaultdict(list)
    for event in events:
        change = _parse_change(table, event)
        by_key[change.key].append(change)
    result: dict[tuple, list[Change]] = {}
    for key, changes in by_key.items():
        seen: set[tuple] = set()
        kept: list[Change] = []
        for change in sorted(changes, key=Change.order_key):
            if change.identity() not in seen:
                seen.add(change.identity())
                kept.append(change)
        result[key] = kept
    return result


def current_rows(history: Mapping[tuple, list[Change]]) -> list[dict[str, Any]]:
    """Rows whose last change is not a delete, as upper-case dicts."""
    return [changes[-1].as_dict() for changes in history.values() if changes[-1].op != "D"]


# --------------------------------------------------------------------------------------------
# SCD2
# --------------------------------------------------------------------------------------------


def scd2_versions(table_name: str, history: Mapping[tuple, list[Change]]) -> list[dict[str, Any]]:
    """SCD2 versions (CONTRACT §4): upper-case source columns, valid_from, valid_to, is_current."""
    table = SOURCE_TABLES[table_name]
    tracked = [c for c in table.column_names if c != "UPDATED_AT"]
    versions: list[dict[str, Any]] = []
    for changes in history.values():
        open_version: dict[str, Any] | None = None
        for change in changes:
            if change.op == "D":
                if open_version is not None:
                    open_version["valid_to"] = change.dms_timestamp
                    open_version = None
                continue
            row = change.as_dict()
            if open_version is not None and all(open_version[c] == row[c] for c in tracked):
                continue
            if open_version is not None:
                open_version["valid_to"] = change.dms_timestamp
            open_version = {**row, "valid_from": change.dms_timestamp, "valid_to": None}
            versions.append(open_version)
    for version in versions:
        version["is_current"] = version["valid_to"] is None
    return versions


def _lower(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k.lower(): v for k, v in row.items()}


# --------------------------------------------------------------------------------------------
# Claims
# --------------------------------------------------------------------------------------------


def _json_array(text: str | None, what: str) -> list[Any]:
    if text is None or text.strip() == "":
        return []
    parsed = json.loads(text, parse_float=Decimal)
    if parsed is None:
        return []
    if not isinstance(parsed, list):
        raise ValueError(f"{what} is not a JSON array")
    return parsed


def _diagnoses(claim: Mapping[str, Any]) -> list[dict[str, Any]]:
    elements = _json_array(
        claim["DIAGNOSIS_CODES"], f"DIAGNOSIS_CODES of claim {claim['CLAIM_ID']}"
    )
    return [
        {
            "claim_id": claim["CLAIM_ID"],
            "dx_seq": None if e.get("seq") is None else int(e["seq"]),
            "dx_code": e.get("code"),
            "poa": e.get("poa"),
        }
        for e in elements
    ]


def _primary_dx_code(diagnoses: list[dict[str, Any]]) -> str | None:
    if not diagnoses:
        return None
    ranked = sorted(
        enumerate(diagnoses),
        key=lambda p: (p[1]["dx_seq"] is None, p[1]["dx_seq"] or 0, p[0]),
    )
    return ranked[0][1]["dx_code"]


def _final_action_flags(claims: list[dict[str, Any]]) -> dict[str, bool]:
    superseded = {
        c["ORIGINAL_CLAIM_ID"]
        for c in claims
        if c["FREQUENCY_CODE"] in ("7", "8")
        and c["ORIGINAL_CLAIM_ID"] is not None
        and c["ORIGINAL_CLAIM_ID"] != c["CLAIM_ID"]
    }
    return {
        c["CLAIM_ID"]: not (
            c["FREQUENCY_CODE"] == "8" or c["CLAIM_STATUS"] == "VOID" or c["CLAIM_ID"] in superseded
        )
        for c in claims
    }


def _adjustments(line: Mapping[str, Any]) -> list[dict[str, Any]]:
    what = f"ADJUSTMENTS of claim line {line['CLAIM_ID']}/{line['LINE_NUMBER']}"
    return [
        {
            "claim_id": line["CLAIM_ID"],
            "line_number": line["LINE_NUMBER"],
            "adj_seq": position,
            "group_code": e.get("group"),
            "carc_code": e.get("carc"),
            "amount": _to_decimal(e.get("amount")),
        }
        for position, e in enumerate(_json_array(line["ADJUSTMENTS"], what), start=1)
    ]


# --------------------------------------------------------------------------------------------
# Enrollment coverage
# --------------------------------------------------------------------------------------------


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _coverage(
    enrollment: Mapping[str, Any], valuation_end: date | None
) -> tuple[date, date] | None:
    """Inclusive covered span of an enrollment, or None when it covers nothing."""
    start = enrollment["EFFECTIVE_DATE"]
    end = enrollment["TERMINATION_DATE"] or valuation_end
    if start is None or end is None or enrollment["MEMBER_ID"] is None or end < start:
        return None
    return start, end


def _days_covered_in_month(span: tuple[date, date], month: date) -> int:
    first = max(span[0], _month_start(month))
    last = min(span[1], _month_end(month))
    return max(0, (last - first).days + 1)


def _preference(enrollment: Mapping[str, Any], days: int) -> tuple[Any, ...]:
    return (days, enrollment["EFFECTIVE_DATE"], enrollment["ENROLLMENT_ID"] or "")


class _Coverage:
    """Existing enrollments per member with their covered spans; picks one per month or day."""

    def __init__(
        self,
        enrollments: list[dict[str, Any]],
        plans: dict[str, dict[str, Any]],
        valuation_end: date | None,
    ):
        self.plans = plans
        self.spans: dict[str, list[tuple[dict[str, Any], tuple[date, date]]]] = defaultdict(list)
        for enrollment in enrollments:
            span = _coverage(enrollment, valuation_end)
            if span is not None:
                self.spans[enrollment["MEMBER_ID"]].append((enrollment, span))

    def line_of_business(self, enrollment: Mapping[str, Any] | None) -> str:
        if enrollment is None or enrollment["PLAN_ID"] is None:
            return UNKNOWN
        plan = self.plans.get(enrollment["PLAN_ID"])
        if plan is None or plan["LINE_OF_BUSINESS"] is None:
            return UNKNOWN
        return plan["LINE_OF_BUSINESS"]

    def _best(
        self, candidates: list[tuple[dict[str, Any], tuple[date, date]]], month: date
    ) -> dict[str, Any] | None:
        scored = [(e, _days_covered_in_month(span, month)) for e, span in candidates]
        scored = [(e, days) for e, days in scored if days > 0]
        if not scored:
            return None
        return max(scored, key=lambda p: _preference(p[0], p[1]))[0]

    def member_months(self) -> list[dict[str, Any]]:
        rows = []
        for member_id, candidates in self.spans.items():
            months: set[date] = set()
            for _, (start, end) in candidates:
                month = _month_start(start)
                while month <= end:
                    months.add(month)
                    month = _next_month(month)
            for month in sorted(months):
                chosen = self._best(candidates, month)
                assert chosen is not None
                rows.append(
                    {
                        "member_id": member_id,
                        "year_month": month,
                        "plan_id": chosen["PLAN_ID"],
                        "line_of_business": self.line_of_business(chosen),
                    }
                )
        return rows

    def line_of_business_on(self, member_id: str | None, day: date) -> str:
        if member_id is None:
            return UNKNOWN
        covering = [(e, s) for e, s in self.spans.get(member_id, []) if s[0] <= day <= s[1]]
        return self.line_of_business(self._best(covering, day))


# --------------------------------------------------------------------------------------------
# Gold
# --------------------------------------------------------------------------------------------


def _sorted(rows: list[dict[str, Any]], *columns: str) -> list[dict[str, Any]]:
    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple((row[c] is None, row[c] if row[c] is not None else 0) for c in columns)

    return sorted(rows, key=key)


def _amount(value: Decimal | None) -> Decimal:
    return value if value is not None else Decimal("0.00")


def expected_gold(
    events_by_table: Mapping[str, Iterable[Mapping[str, Any]]],
    *,
    tokenization_key: str = LOCAL_DEVELOPMENT_KEY,
) -> dict[str, list[dict[str, Any]]]:
    """Every gold table of CONTRACT §4 computed from the source change events.

    ``events_by_table`` maps a source table name (PLAN, MEMBER, …; missing tables have no events)
    to its change events in any order. See the module docstring for the interpretations.
    """
    events = {name.upper(): list(evs) for name, evs in events_by_table.items()}
    unknown = set(events) - set(SOURCE_TABLES)
    if unknown:
        raise ValueError(f"unknown source tables: {sorted(unknown)}")
    history = {name: ordered_changes(name, events.get(name, [])) for name in SOURCE_TABLES}

    all_timestamps = [
        c.dms_timestamp for per_key in history.values() for cs in per_key.values() for c in cs
    ]
    valuation_end = _month_end(max(all_timestamps).date()) if all_timestamps else None

    current = {name: current_rows(history[name]) for name in SOURCE_TABLES}

    # Dimensions
    dim_member = []
    for version in scd2_versions("MEMBER", history["MEMBER"]):
        row = _lower(version)
        row["ssn_token"] = tokenize(row.pop("ssn"), tokenization_key)
        dim_member.append(row)
    dim_provider = [_lower(v) for v in scd2_versions("PROVIDER", history["PROVIDER"])]
    dim_plan = [_lower(p) for p in current["PLAN"]]

    # Claims
    claims = current["CLAIM"]
    final_action = _final_action_flags(claims)
    fct_claim, fct_claim_diagnosis = [], []
    for claim in claims:
        diagnoses = _diagnoses(claim)
        fct_claim_diagnosis.extend(diagnoses)
        row = _lower({k: v for k, v in claim.items() if k != "DIAGNOSIS_CODES"})
        row["primary_dx_code"] = _primary_dx_code(diagnoses)
        row["is_final_action"] = final_action[claim["CLAIM_ID"]]
        fct_claim.append(row)

    fct_claim_line, fct_claim_line_adjustment = [], []
    for line in current["CLAIM_LINE"]:
        fct_claim_line.append(_lower({k: v for k, v in line.items() if k != "ADJUSTMENTS"}))
        fct_claim_line_adjustment.extend(_adjustments(line))

    # Member months
    plans = {p["PLAN_ID"]: p for p in current["PLAN"]}
    coverage = _Coverage(current["ENROLLMENT"], plans, valuation_end)
    fct_member_month = coverage.member_months()

    # PMPM
    member_months: Counter[tuple[date, str]] = Counter(
        (mm["year_month"], mm["line_of_business"]) for mm in fct_member_month
    )
    paid: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    allowed: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    final_claims = [c for c in claims if final_action[c["CLAIM_ID"]]]
    for claim in final_claims:
        incurred = claim["STATEMENT_FROM_DATE"]
        if incurred is None:
            continue
        group = (_month_start(incurred), coverage.line_of_business_on(claim["MEMBER_ID"], incurred))
        paid[group] += _amount(claim["TOTAL_PAID"])
        allowed[group] += _amount(claim["TOTAL_ALLOWED"])
    mart_pmpm = []
    for group in set(member_months) | set(paid):
        months = member_months.get(group, 0)
        paid_amount = _amount(paid.get(group)).quantize(CENT)
        mart_pmpm.append(
            {
                "year_month": group[0],
                "line_of_business": group[1],
                "member_months": months,
                "paid_amount": paid_amount,
                "allowed_amount": _amount(allowed.get(group)).quantize(CENT),
                "pmpm_paid": (paid_amount / months).quantize(CENT, rounding=ROUND_HALF_UP)
                if months
                else None,
            }
        )

    # Claim lag
    lag_count: Counter[tuple[date, date]] = Counter()
    lag_paid: dict[tuple[date, date], Decimal] = defaultdict(Decimal)
    for claim in final_claims:
        if claim["PAID_DATE"] is None or claim["STATEMENT_FROM_DATE"] is None:
            continue
        group = (_month_start(claim["STATEMENT_FROM_DATE"]), _month_start(claim["PAID_DATE"]))
        lag_count[group] += 1
        lag_paid[group] += _amount(claim["TOTAL_PAID"])
    mart_claim_lag = [
        {
            "incurred_month": incurred,
            "paid_month": paid_month,
            "lag_months": (paid_month.year * 12 + paid_month.month)
            - (incurred.year * 12 + incurred.month),
            "claim_count": count,
            "paid_amount": lag_paid[(incurred, paid_month)].quantize(CENT),
        }
        for (incurred, paid_month), count in lag_count.items()
    ]

    return {
        "dim_member": _sorted(dim_member, "member_id", "valid_from"),
        "dim_provider": _sorted(dim_provider, "provider_id", "valid_from"),
        "dim_plan": _sorted(dim_plan, "plan_id"),
        "fct_claim": _sorted(fct_claim, "claim_id"),
        "fct_claim_line": _sorted(fct_claim_line, "claim_id", "line_number"),
        "fct_claim_diagnosis": _sorted(fct_claim_diagnosis, "claim_id", "dx_seq", "dx_code"),
        "fct_claim_line_adjustment": _sorted(
            fct_claim_line_adjustment, "claim_id", "line_number", "adj_seq"
        ),
        "fct_member_month": _sorted(fct_member_month, "member_id", "year_month"),
        "mart_pmpm": _sorted(mart_pmpm, "year_month", "line_of_business"),
        "mart_claim_lag": _sorted(mart_claim_lag, "incurred_month", "paid_month"),
    }


def load_truth(truth_dir: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Read ``<truth_dir>/<TABLE>.changes.jsonl`` (one event per line) for every source table.

    A table without a file has no events; blank lines are skipped.
    """
    root = Path(truth_dir)
    truth: dict[str, list[dict[str, Any]]] = {}
    for name in SOURCE_TABLES:
        path = root / f"{name}.changes.jsonl"
        events: list[dict[str, Any]] = []
        if path.exists():
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        # Decimal, not float: an amount written as a number keeps its digits.
                        events.append(json.loads(line, parse_float=Decimal))
        truth[name] = events
    return truth
