"""Columns added at the source (DDL), through dbt: default-deny, and quoted names.

A copy of the dbt project in which the silver source documents (as a contract classifying them
would make it) some added columns: `order`, `window`, `a#b`, `x$y` (legal Oracle names: a SQL
keyword, `#`, `$`) without a PHI class, `alt_phone` as P and documented by the member staging
view and dim_member too, `alt_id` as P and documented nowhere else. `alt_ssn` is documented
nowhere: unclassified. Silver first holds none of them (a full build), then a batch carries all
of them (an incremental run appends the columns to the existing gold tables); then dim_member
documents `order` too, so its analyst view shows it.

- a column no contract classifies reaches no staging view, gold table or analyst view, even when
  it sits in silver (the committer keeps it in `restricted`; this is the layer behind that);
- a classified column without PHI is carried, quoted, through staging, the dimension and facts;
- a classified PHI column reaches only models that document it (so their meta masks it: the
  analyst view shows NULL), never one that does not.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from claims_platform_tests.gold import scenario as s
from claims_platform_tests.gold.dbt_cli import REPO_ROOT, run_dbt
from claims_platform_tests.gold.silver_changes import Silver

ALT_SSN = "987-65-4329"  # reserved for advertising: never anyone's SSN
KEYWORDS = ("order", "window", "a#b", "x$y")
MEMBER_ADDED = {
    "order": "o-9",
    "window": "w-9",
    "a#b": "h-9",
    "x$y": "d-9",
    "alt_phone": "6175550123",
    "alt_id": "ID-0009",
    "alt_ssn": ALT_SSN,
}
SCHEMAS_AFTER_SILVER = ("staging", "intermediate", "gold", "analyst")


def _document(entries: list[dict[str, Any]], name: str, columns: dict[str, str | None]) -> None:
    entry = next(e for e in entries if e["name"] == name)
    for column, phi in columns.items():
        doc: dict[str, Any] = {"name": column, "description": f"Added at the source: {column}."}
        if phi:
            doc["config"] = {"meta": {"phi": phi}}
        entry["columns"].append(doc)


def _edit_yaml(path: Path, edit) -> None:
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _project_with_classified_columns(target: Path) -> Path:
    project = target / "dbt"
    shutil.copytree(
        REPO_ROOT / "dbt", project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb")
    )
    no_phi = dict.fromkeys(KEYWORDS)

    def sources(data: dict[str, Any]) -> None:
        tables = next(src for src in data["sources"] if src["name"] == "silver")["tables"]
        _document(tables, "member", no_phi | {"alt_phone": "P", "alt_id": "P"})
        _document(tables, "claim", {"order": None, "alt_ssn_note": None})
        _document(tables, "claim_line", {"x$y": None})

    _edit_yaml(project / "models" / "staging" / "_silver__sources.yml", sources)
    _edit_yaml(
        project / "models" / "staging" / "_silver__models.yml",
        lambda data: _document(data["models"], "stg_silver__member", {"alt_phone": "P"}),
    )
    _edit_yaml(
        project / "models" / "marts" / "_marts__models.yml",
        lambda data: _document(data["models"], "dim_member", {"alt_phone": "P"}),
    )
    return project


def _check(result, what: str) -> None:
    assert result.returncode == 0, f"{what}:\n{result.stdout[-6000:]}{result.stderr[-2000:]}"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("added_columns")
    project = _project_with_classified_columns(work)
    database = work / "warehouse.duckdb"
    silver, _ids = s.build_silver()
    silver.write(str(database))

    def dbt(*args: str) -> None:
        _check(run_dbt(*args, project_dir=project), f"dbt {' '.join(args[:1])}")

    dbt("seed", work, database)
    dbt("run", work, database)

    later = Silver()
    at = "2024-03-20 00:00:00"
    loaded_at = datetime(2024, 4, 30, 2, 0, 0)
    file = "20240320-000000000.csv"
    later.change(
        "member", "I", at, file, 1, s.member("M9"), loaded_at=loaded_at, added=MEMBER_ADDED
    )
    claim = s.claim("C99", "M9", "PR1", "2024-03-15")
    later.change(
        "claim",
        "I",
        at,
        file,
        1,
        claim,
        loaded_at=loaded_at,
        added={"order": "c-o", "alt_ssn_note": "n", "alt_ssn": ALT_SSN},
    )
    line = s.line("C99", 1, "2024-03-15")
    later.change("claim_line", "I", at, file, 1, line, loaded_at=loaded_at, added={"x$y": "l-x"})
    later.write(str(database))
    dbt("run", work, database)
    # Once the column is there, dim_member's YAML documents `order` too (its analyst view
    # shows what its model documents).
    _edit_yaml(
        project / "models" / "marts" / "_marts__models.yml",
        lambda data: _document(data["models"], "dim_member", {"order": None}),
    )
    dbt("run", work, database, "--select", "dim_member", "analyst_dim_member")
    return database


def _relations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        "select table_schema, table_name from information_schema.tables"
        " where table_schema in (select unnest(?::varchar[])) order by all",
        [list(SCHEMAS_AFTER_SILVER)],
    ).fetchall()


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns"
            " where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]


def _row(con: duckdb.DuckDBPyConnection, relation: str, where: str) -> dict[str, Any]:
    cursor = con.execute(f"select * from {relation} where {where}")
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    assert len(rows) == 1, (relation, rows)
    return dict(zip(names, rows[0], strict=True))


def test_an_unclassified_column_reaches_no_model(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        relations = _relations(con)
        assert {(schema, table) for schema, table in relations} >= {
            ("staging", "stg_silver__member"),
            ("gold", "dim_member"),
            ("gold", "fct_claim"),
            ("analyst", "analyst_dim_member"),
        }
        for schema, table in relations:
            assert "alt_ssn" not in _columns(con, schema, table), (schema, table)
            rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()
            assert not any(ALT_SSN in str(row) for row in rows), (schema, table)
        # It is in silver here (written there directly): the models read it and let it be.
        held = con.execute("select count(*) from silver.member where alt_ssn = ?", [ALT_SSN])
        assert held.fetchone()[0] == 1
    finally:
        con.close()


def test_classified_columns_named_like_keywords_or_with_oracle_signs_are_carried(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        expected = {c: MEMBER_ADDED[c] for c in KEYWORDS}
        for relation in ("staging.stg_silver__member", "gold.dim_member"):
            row = _row(con, relation, "member_id = 'M9'")
            assert {c: row[c] for c in KEYWORDS} == expected, relation
        # Appended after the contract and bookkeeping columns, to the table built before.
        assert _columns(con, "gold", "dim_member")[-len(KEYWORDS) - 1 :] == [
            *KEYWORDS,
            "alt_phone",
        ]
        assert _row(con, "gold.fct_claim", "claim_id = 'C99'")["order"] == "c-o"
        assert _row(con, "gold.fct_claim", "claim_id = 'C99'")["alt_ssn_note"] == "n"
        assert _row(con, "gold.fct_claim_line", "claim_id = 'C99'")["x$y"] == "l-x"
        # Older rows read NULL: history is not rewritten.
        others = con.execute(
            'select count(*), count("order") from gold.fct_claim where claim_id <> ?', ["C99"]
        ).fetchone()
        assert others[0] > 0 and others[1] == 0
    finally:
        con.close()


def test_a_phi_column_reaches_only_models_whose_meta_masks_it(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        member = _row(con, "gold.dim_member", "member_id = 'M9'")
        assert member["alt_phone"] == "6175550123"
        assert "alt_id" not in member
        assert "alt_id" not in _columns(con, "staging", "stg_silver__member")
        # The analyst view shows the columns dim_member documents, PHI masked: alt_phone NULL,
        # `order` as it is (quoted there too); the undocumented ones not at all.
        analyst = _columns(con, "analyst", "analyst_dim_member")
        assert {"alt_phone", "order"} <= set(analyst)
        assert not {"window", "a#b", "x$y", "alt_id"} & set(analyst)
        shown = con.execute(
            'select count(*), count(alt_phone), count(*) filter (where "order" = ?)'
            " from analyst.analyst_dim_member",
            [MEMBER_ADDED["order"]],
        ).fetchone()
        assert shown[0] > 0 and shown[1] == 0 and shown[2] == 1
    finally:
        con.close()
