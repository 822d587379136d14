"""Every suite expectation as SQL in the warehouse (quality/pushdown.py) against Great
Expectations on the same rows, and the contract rules' SQL against contracts/rules.py.

On DuckDB a suite's table gets six rows (one of them a delete), some broken for one rule at a time
(and some near-misses that pass), and the SQL run of the whole suite must report what the GX run
reports: the same rules, counts and sample rows. On Snowflake (fakesnow's server) the same rows
give the same results, with every query through the warehouse seam and no batch read out.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from claims_platform.contracts import load_contracts
from claims_platform.contracts.rules import (
    COLUMN_RULES,
    NPI_PREFIX,
    ROW_RULES,
    RULE_PATTERNS,
    luhn_check_digit,
)
from claims_platform.quality import pushdown
from claims_platform.quality.results import SAMPLE_ROWS
from claims_platform.quality.sql import ident
from claims_platform.quality.suites import Expectation, TableSuite, table_suites
from claims_platform.quality.validate import FrameRefused, SuiteRun, read_frame, run_suite
from claims_platform.warehouse.duckdb import DuckDBReader
from claims_platform_tests.quality import warehouse
from claims_platform_tests.quality.warehouse import BATCH

CONTRACTS = load_contracts()
SUITES = {s.table.name: s for s in table_suites(CONTRACTS)}
EXTRA_ROWS = (2, 3, 4, 5, 6)
BROKEN = (2, 4, 5)  # 5 is a delete: outside the domain of the changes-only expectations
DELETED = 5


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path_factory.mktemp("pushdown") / "warehouse.duckdb"))
    warehouse.build(connection, CONTRACTS)
    yield connection
    connection.close()


@pytest.fixture
def tx(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    finally:
        con.execute("ROLLBACK")


def _position(suite: TableSuite) -> str:
    """The column numbering a suite's rows (row position, or the child's element position)."""
    return suite.order_by[1]  # (_source_file, _row_number, …) or (_change_id, position, …)


def _widen(con: duckdb.DuckDBPyConnection, suite: TableSuite) -> None:
    """Six rows of the batch instead of one: the same key, other changes / element positions."""
    table = f"silver.{ident(suite.table.name)}"
    pos = _position(suite)
    for n in EXTRA_ROWS:
        if suite.is_child:
            replace = f"{n} AS {ident(pos)}"
        else:
            replace = f"{n} AS _row_number, _change_id || '-{n}' AS _change_id"
        con.execute(
            f"INSERT INTO {table} SELECT * REPLACE ({replace}) FROM {table} WHERE {ident(pos)} = 1"
        )
    if not suite.is_child:
        con.execute(f"UPDATE {table} SET _op = 'D' WHERE _row_number = {DELETED}")


def _rows(suite: TableSuite, which: tuple[int, ...]) -> str:
    return f"{ident(_position(suite))} IN ({', '.join(map(str, which))})"


# Per contract column rule: values that break it (one per broken row) and a near-miss that
# passes (it goes to row 3). Python's `$` lets a final newline through, as rules.py does.
RULE_VALUES: dict[str, tuple[tuple[str, ...], str]] = {
    "npi": (("1234567890", "123456789\uff13", "1234567893\n"), "1234567893"),
    "icd10cm": (("e119", "E119\n\n", "E1"), "E119\n"),
    "cpt_hcpcs": (("9921X", "W1234", "992134"), "A1234\n"),
    "place_of_service": (("1", "\u0661\u0661", "111"), "11\n"),
    "revenue_code": (("045", "04500", "045O"), "0450\n"),
}


def _break(con: duckdb.DuckDBPyConnection, suite: TableSuite, e: Expectation) -> None:
    """Break expectation `e` on rows BROKEN of the widened table."""
    table = f"silver.{ident(suite.table.name)}"

    def set_(column: str, values: tuple[Any, ...], near_miss: Any = None) -> None:
        for row, value in zip(BROKEN, values * 3, strict=False):
            con.execute(
                f"UPDATE {table} SET {ident(column)} = ? WHERE {_rows(suite, (row,))}", [value]
            )
        if near_miss is not None:
            con.execute(
                f"UPDATE {table} SET {ident(column)} = ? WHERE {_rows(suite, (3,))}", [near_miss]
            )

    kw = e.kwargs
    if e.type == "ExpectColumnValuesToNotBeNull":
        set_(kw["column"], (None,))
    elif e.type == "ExpectColumnValuesToBeInSet" and kw["column"] == "_qc_parent_change_exists":
        set_("_change_id", ("no-such-change",))
    elif e.type == "ExpectColumnValuesToBeInSet":
        set_(kw["column"], ("NOT-AN-ACCEPTED-VALUE", "x"))
    elif e.type == "ExpectColumnValuesToMatchRegex":
        # A valid value with a final newline passes, as in Python (`$`).
        valid = warehouse.PATTERN_SAMPLES.get(kw["regex"], "12")
        set_(kw["column"], ("!!", " " + valid, valid + "\n\n"), valid + "\n")
    elif e.type == "ExpectColumnValuesToBeBetween" and kw["column"].startswith("_qc_"):
        # Two changes under one change id with different keys; a landed row loaded twice.
        if kw["column"] == "_qc_keys_per_change_id":
            set_("_change_id", ("chg-shared",))
            set_(suite.key_columns[0], ("K2", "K3", "K4"))
        else:
            set_("_row_number", (1,))
    elif e.type == "ExpectColumnValuesToBeBetween":
        set_(kw["column"], (0, -3))
    elif e.type == "ExpectColumnValuesToSatisfyContractRule":
        bad, near_miss = RULE_VALUES[kw["rule"]]
        set_(kw["column"], bad, near_miss)
    elif e.type == "ExpectRowsToSatisfyContractRule" and kw["rule"] == "line_balance":
        set_("paid_amt", (Decimal("1.00"), Decimal("0.01")))
        # A null operand passes, however the others add up.
        con.execute(f"UPDATE {table} SET paid_amt = 7, copay_amt = NULL WHERE {_rows(suite, (3,))}")
    elif e.type == "ExpectRowsToSatisfyContractRule" and kw["rule"] == "billed_covers_allowed":
        set_("billed_amt", (Decimal("-0.01"), Decimal("-1")))
        con.execute(f"UPDATE {table} SET billed_amt = NULL WHERE {_rows(suite, (3,))}")
    elif e.type == "ExpectColumnPairValuesToBeEqual":
        # Only the current change of the key has line totals: break the total of every row.
        con.execute(f"UPDATE {table} SET {ident(kw['column_A'])} = 5")
    elif e.type == "ExpectColumnValuesToBeInTypeList":
        con.execute(f"ALTER TABLE {table} ALTER {ident(kw['column'])} TYPE VARCHAR")
    elif e.type == "ExpectTableColumnsToMatchSet":
        # Not a key or position: the rows query itself needs those.
        kept = {*suite.key_columns, *suite.order_by}
        column = next(c for c in kw["column_set"] if not c.startswith("_") and c not in kept)
        con.execute(f"ALTER TABLE {table} DROP COLUMN {ident(column)}")
    else:
        raise AssertionError(f"no way to break {e.type}: add one to _break")


def _plain(run: SuiteRun) -> dict[str, Any]:
    """A run's outcomes, a null key of a sample row read as None (GX's pandas index says NaN),
    failures by rule (GX does not keep the suite's order in its results)."""
    out = {}
    for name, outcome in run.outcomes.items():
        out[name] = (
            outcome.expectations,
            [
                {
                    **f.as_metadata(),
                    "sample_rows": [
                        {c: None if v != v else v for c, v in row.items()} for row in f.sample_rows
                    ],
                }
                for f in sorted(outcome.failures, key=lambda f: f.rule)
            ],
        )
    return out


def _types_to_break(suite: TableSuite) -> list[Expectation]:
    """One expectation of each type and rule per suite, and every contract rule."""
    seen: set[tuple[str, str]] = set()
    out = []
    for e in suite.expectations:
        kind = (e.type, e.kwargs.get("rule") or "")
        if e.type == "ExpectColumnValuesToBeBetween":
            kind = (e.type, e.kwargs["column"] if e.kwargs["column"].startswith("_qc_") else "")
        if e.kwargs.get("column") == "_batch_id":
            continue  # a row without it is in no batch
        if e.type == "ExpectColumnValuesToBeInTypeList" and e.kwargs["type_list"] == ["str"]:
            continue  # a string column altered to VARCHAR breaks nothing
        if kind in seen:
            continue
        seen.add(kind)
        out.append(e)
    return out


CASES = [(s, e) for s in SUITES.values() for e in _types_to_break(s)]


def test_every_generated_expectation_has_a_sql_form():
    generated = {e.type for s in SUITES.values() for e in s.expectations}
    assert generated <= pushdown.PUSHDOWN_TYPES
    assert set(pushdown.COLUMN_RULE_SQL) == set(COLUMN_RULES)
    assert set(pushdown.ROW_RULE_SQL) == set(ROW_RULES)
    # Every rule and expectation type is broken below on some table.
    assert {e.type for _, e in CASES} == generated
    rules = {e.kwargs["rule"] for _, e in CASES if "rule" in e.kwargs}
    assert rules == {
        r for s in SUITES.values() for e in s.expectations for r in [e.kwargs.get("rule")] if r
    }


def test_valid_rows_pass_in_sql_as_in_great_expectations(tx):
    for suite in SUITES.values():
        _widen(tx, suite)
    for suite in SUITES.values():
        in_sql = run_suite(DuckDBReader(tx), suite, engine="sql")
        in_gx = run_suite(DuckDBReader(tx), suite, engine="gx")
        assert in_sql.rows == in_gx.rows == 1 + len(EXTRA_ROWS)
        assert _plain(in_sql) == _plain(in_gx)
        assert all(o.passed for o in in_sql.outcomes.values()), suite.table.name


@pytest.mark.parametrize(
    ("suite", "e"), CASES, ids=[f"{s.table.name}:{e.type[6:]}:{e.rule}" for s, e in CASES]
)
def test_a_broken_expectation_reports_in_sql_what_great_expectations_reports(
    tx, suite: TableSuite, e: Expectation
):
    _widen(tx, suite)
    _break(tx, suite, e)
    in_sql = run_suite(DuckDBReader(tx), suite, engine="sql")
    in_gx = run_suite(DuckDBReader(tx), suite, engine="gx")
    assert (in_sql.engine, in_gx.engine) == ("warehouse_sql", "great_expectations")
    assert in_sql.rows == in_gx.rows > 0
    failed = [f.rule for o in in_sql.outcomes.values() for f in o.failures]
    assert e.rule in failed, "the breaking case fails the expectation"
    assert _plain(in_sql) == _plain(in_gx)
    # Counted rows: not every row (the passing ones), and the samples name no tested value.
    for o in in_sql.outcomes.values():
        for f in o.failures:
            assert len(f.sample_rows) <= SAMPLE_ROWS
            for row in f.sample_rows:
                assert set(row) <= set(suite.sample_columns)


# ------------------------------------------------------------------------------------------
# the contract rules' SQL against rules.py


@pytest.fixture(scope="module")
def mem() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def _sql_verdict(con: duckdb.DuckDBPyConnection, rule: str, value: str) -> bool:
    ok = pushdown.COLUMN_RULE_SQL[rule]("v")
    [(verdict,)] = con.execute(
        f"SELECT coalesce({ok}, FALSE) FROM (SELECT ? AS v)", [value]
    ).fetchall()
    return bool(verdict)


def _npi(nine: str) -> str:
    return nine + str(luhn_check_digit(NPI_PREFIX + nine))


_DIGITS = st.text(alphabet="0123456789", min_size=9, max_size=9)
_NEAR = st.sampled_from(["", "\n", "\n\n", " ", "0", "\uff13", "\u0663", "a", "\x85", "\r\n"])
_ODD = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)


@st.composite
def _npi_like(draw: st.DrawFn) -> str:
    value = _npi(draw(_DIGITS))
    how = draw(st.sampled_from(["valid", "digit", "swap", "unicode", "affix"]))
    if how == "digit":
        i = draw(st.integers(0, 9))
        value = value[:i] + str((int(value[i]) + draw(st.integers(1, 9))) % 10) + value[i + 1 :]
    elif how == "swap":
        i = draw(st.integers(0, 8))
        value = value[:i] + value[i + 1] + value[i] + value[i + 2 :]
    elif how == "unicode":
        i = draw(st.integers(0, 9))
        value = value[:i] + chr(0xFF10 + int(value[i])) + value[i + 1 :]
    elif how == "affix":
        value = draw(_NEAR) + value + draw(_NEAR)
    return value


@settings(max_examples=400, deadline=None)
@given(st.one_of(_npi_like(), _ODD))
@example("1234567893")
@example("1234567893\n")
@example("123456789\uff13")
@example("0000000000")
@example("9999999999")
def test_npi_sql_agrees_with_the_rule(mem, value: str):
    assert _sql_verdict(mem, "npi", value) == COLUMN_RULES["npi"][1](value)


@st.composite
def _pattern_like(draw: st.DrawFn, pattern: str) -> str:
    value = draw(st.from_regex(re.compile(pattern), fullmatch=True))
    how = draw(st.sampled_from(["valid", "affix", "drop", "char"]))
    if how == "affix":
        value = draw(_NEAR) + value + draw(_NEAR)
    elif how == "drop" and value:
        i = draw(st.integers(0, len(value) - 1))
        value = value[:i] + value[i + 1 :]
    elif how == "char" and value:
        i = draw(st.integers(0, len(value) - 1))
        value = value[:i] + draw(st.sampled_from("aZ9\uff13\u0661_\n-")) + value[i + 1 :]
    return value


REGEX_RULES = sorted(RULE_PATTERNS)


@pytest.mark.parametrize("rule", REGEX_RULES)
def test_regex_rule_sql_agrees_with_the_rule(mem, rule: str):
    @settings(max_examples=300, deadline=None)
    @given(st.one_of(_pattern_like(RULE_PATTERNS[rule]), _ODD))
    def check(value: str) -> None:
        assert _sql_verdict(mem, rule, value) == COLUMN_RULES[rule][1](value)

    check()


def test_the_npi_constant_is_the_prefix_luhn_sum():
    """The prefix's terms come from rules.py, not a number copied here: an NPI whose nine
    digits are zero has the check digit of the prefix alone."""
    zero = _npi("000000000")
    assert COLUMN_RULES["npi"][1](zero)
    assert "80840" not in pushdown.COLUMN_RULE_SQL["npi"]("v")


# ------------------------------------------------------------------------------------------
# Snowflake: the same rows, through the warehouse seam on fakesnow's server


SNOWFLAKE_VALUES = sorted(
    {v for bad, near in RULE_VALUES.values() for v in (*bad, near)}
    | {"1234567893", _npi("808400000"), "E119", "99213", "A1234", "11", "0450", "E119\n\n"}
)


def test_rule_sql_transpiles_to_snowflake():
    from claims_platform.warehouse.snowflake import transpile
    from claims_platform_tests.warehouse.snowflake_sql import problems

    for rule, build in pushdown.COLUMN_RULE_SQL.items():
        sql, _ = transpile(f"SELECT {build('v')} AS ok FROM (SELECT ? AS v) AS t", ["x"])
        assert problems(sql, rule) == []
        assert "%" not in sql.replace("%(p0)s", "")  # the connector's pyformat reads `%`
    for suite in SUITES.values():
        sql, _ = transpile(
            "SELECT "
            + ", ".join(
                f"count(*) FILTER (WHERE {pushdown.unexpected_sql(e)}) AS u{i}"
                for i, e in enumerate(suite.expectations)
                if e.type not in pushdown.CATALOG_TYPES
            )
            + f" FROM ({suite.rows_sql}) AS t",
            [BATCH],
        )
        assert problems(sql, suite.table.name) == []


class _Recording:
    """The reader a check gets, keeping each query it sent and how many rows came back."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self.kind = reader.kind
        self.calls: list[tuple[str, int]] = []

    def read_rows(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        rows = self._reader.read_rows(sql, params)
        self.calls.append((sql, len(rows)))
        return rows

    def open_changes(self, table: str | None = None) -> list[Any]:
        return self._reader.open_changes(table)


def _copy_to_snowflake(duck: duckdb.DuckDBPyConnection, sf_warehouse: Any) -> None:
    """The DuckDB warehouse's silver tables and batch records, row for row, into Snowflake's
    tables as the Snowflake warehouse creates them (types from the contracts)."""
    with sf_warehouse.writer() as writer:
        writer.ensure(sf_warehouse.contracts)
    lake = sf_warehouse.lake
    tables = [
        (lake.silver_schema, s.table.name, f"silver.{ident(s.table.name)}") for s in SUITES.values()
    ]
    tables.append((lake.audit_schema, "BATCHES", "audit.batches"))
    with sf_warehouse.connect() as connection:
        cursor = connection.cursor()
        for schema, name, source in tables:
            result = duck.execute(f"SELECT * FROM {source}")
            names = [d[0] for d in result.description]
            rows = result.fetchall()
            columns = ", ".join(f'"{n.upper()}"' for n in names)
            marks = ", ".join(f"%(c{i})s" for i in range(len(names)))
            cursor.executemany(
                f"INSERT INTO {lake.table(schema, name)} ({columns}) VALUES ({marks})",
                [{f"c{i}": v for i, v in enumerate(row)} for row in rows],
            )


@pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")
def test_on_snowflake_every_expectation_runs_in_snowflake_and_reports_what_gx_reports(
    tx, snowflake_servers
):
    from claims_platform.orchestration.quality.checks import evaluate_silver_table
    from claims_platform.warehouse import snowflake as sf
    from claims_platform.warehouse.base import reading

    for suite in SUITES.values():
        _widen(tx, suite)

    # Every breaking case that changes values (the type changes are DDL; one column is dropped
    # below), applied together: each table fails several rules at once, on some of its rows.
    def moves_rows(case: tuple[TableSuite, Expectation]) -> bool:
        """Breaks that change the position later breaks select their rows by: last."""
        suite, e = case
        return e.kwargs.get("column") in (_position(suite), "_qc_loads_of_landed_row")

    for suite, e in sorted(CASES, key=moves_rows):
        if e.type not in pushdown.CATALOG_TYPES:
            _break(tx, suite, e)
    dropped = ("claim_line", "line_status")
    tx.execute(f"ALTER TABLE silver.{ident(dropped[0])} DROP COLUMN {ident(dropped[1])}")
    database = snowflake_servers.database()
    warehouse_sf = sf.SnowflakeWarehouse(
        sf.SnowflakeLake(database, f"s3://{snowflake_servers.bucket}/pushdown/"),
        snowflake_servers.connect(database),
        poll_s=0.05,
        wait_s=5,
    )
    _copy_to_snowflake(tx, warehouse_sf)
    with warehouse_sf.connect() as connection:
        connection.cursor().execute(
            f"ALTER TABLE {warehouse_sf.lake.table('SILVER', dropped[0])} "
            f'DROP COLUMN "{dropped[1].upper()}"'
        )

    failed_somewhere: set[str] = set()
    with reading(warehouse_sf) as reader:
        recording = _Recording(reader)
        for suite in SUITES.values():
            in_gx = run_suite(DuckDBReader(tx), suite, engine="gx")
            in_snowflake = run_suite(recording, suite)
            assert in_snowflake.engine == "warehouse_sql"
            assert in_snowflake.rows == in_gx.rows > 0
            assert _plain(in_snowflake) == _plain(in_gx), suite.table.name
            failed_somewhere |= {f.rule for o in in_snowflake.outcomes.values() for f in o.failures}
            # The check itself, as its op runs it on Snowflake.
            results = evaluate_silver_table(recording, suite, set(suite.checks))
            for result in results:
                assert result.metadata["engine"].value == "warehouse_sql"
                assert warehouse.PHI_MARKER not in repr(result.metadata)
        with pytest.raises(FrameRefused):
            read_frame(recording, SUITES["claim_line"], BATCH)
        with pytest.raises(FrameRefused):
            run_suite(recording, SUITES["claim_line"], engine="gx")
    # Every contract rule, type of expectation and the dropped column failed on some table.
    assert {r for r in failed_somewhere if ":" not in r} >= {"line_balance", "columns_present"}
    assert {r.partition(":")[0] for r in failed_somewhere} >= {*COLUMN_RULES, "not_null", "type"}
    # No query read a batch out: none is the rows query, and none but the catalog's returned
    # more rows than a sample holds (every batch has six).
    sqls = {s.rows_sql for s in SUITES.values()}
    assert not any(sql in sqls for sql, _ in recording.calls)
    assert all(n <= SAMPLE_ROWS for sql, n in recording.calls if "information_schema" not in sql)


def _tricky_values(seed: int = 14, n: int = 120) -> list[str]:
    """Valid values, one-character near-misses, unicode digits and newlines, for each rule."""
    rng = random.Random(seed)
    found = set(SNOWFLAKE_VALUES)
    alphabet = "0123456789ABCEFTUVWZaz \n\uff13\u0663-"
    for _ in range(n):
        nine = "".join(rng.choice("0123456789") for _ in range(9))
        value = _npi(nine)
        found.add(value)
        i = rng.randrange(10)
        found.add(value[:i] + rng.choice(alphabet) + value[i + 1 :])
        found.add(value + "\n")
        word = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))
        found |= {word, word + "\n", word.upper()}
    for samples in ("E119", "E11", "Z99ABCD", "99213", "0001F", "A0001", "V9999", "11", "0450"):
        found |= {samples, samples + "\n", samples + "\n\n", "\n" + samples, samples[:-1]}
    return sorted(found)


@pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")
def test_rule_sql_gives_the_rules_verdicts_on_snowflake(snowflake_servers):
    from claims_platform.warehouse import snowflake as sf

    database = snowflake_servers.database()
    warehouse_sf = sf.SnowflakeWarehouse(
        sf.SnowflakeLake(database, f"s3://{snowflake_servers.bucket}/rules/"),
        snowflake_servers.connect(database),
    )
    values = _tricky_values()
    rows = ", ".join("(?)" for _ in values)
    verdicts = ", ".join(
        f"coalesce({build('v')}, FALSE) AS {ident(rule)}"
        for rule, build in pushdown.COLUMN_RULE_SQL.items()
    )
    found = warehouse_sf.read_rows(
        f"SELECT v AS v, {verdicts} FROM (VALUES {rows}) AS t(v) ORDER BY v", values
    )
    assert len(found) == len(values)
    wrong = [
        (rule, row["v"])
        for row in found
        for rule in pushdown.COLUMN_RULE_SQL
        if bool(row[rule]) != COLUMN_RULES[rule][1](row["v"])
    ]
    assert wrong == []
    # Both verdicts occur for every rule: the values test something.
    for rule in pushdown.COLUMN_RULE_SQL:
        assert {bool(row[rule]) for row in found} == {True, False}, rule


def test_a_column_of_a_numeric_type_other_than_the_contracts_fails_in_both_engines(tx):
    """GX sees a DOUBLE column as a float64 dtype and reports the dtype only; SQL reads the
    catalog and counts the values: the same verdict on the same rule."""
    suite = SUITES["plan"]
    tx.execute("ALTER TABLE silver.plan ALTER _row_number TYPE DOUBLE")
    in_sql = run_suite(DuckDBReader(tx), suite, {"contract_types"}, engine="sql")
    in_gx = run_suite(DuckDBReader(tx), suite, {"contract_types"}, engine="gx")
    [sql_failure] = in_sql.outcomes["contract_types"].failures
    [gx_failure] = in_gx.outcomes["contract_types"].failures
    assert sql_failure.rule == gx_failure.rule == "type:_row_number"
    assert (sql_failure.unexpected_rows, gx_failure.unexpected_rows) == (1, None)
