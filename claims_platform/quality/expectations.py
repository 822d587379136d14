"""Custom Great Expectations for the contract rules GX has no expectation for (NPI check digit,
code shapes shipped as Python predicates, and the per-line money balance).

They evaluate the very predicates of `contracts/rules.py` that the silver job rejects rows with, so
a check and the silver validation cannot drift apart. Importing this module imports GX (≈ 3 s) and
registers the metrics: only `validate.py` imports it, when a check runs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import (
    ColumnMapExpectation,
    MulticolumnMapExpectation,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    MulticolumnMapMetricProvider,
    column_condition_partial,
    multicolumn_condition_partial,
)

from claims_platform.contracts.rules import COLUMN_RULES, ROW_RULES


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str | Decimal) and pd.isna(value)):
        return None
    return value


class ColumnValuesSatisfyContractRule(ColumnMapMetricProvider):
    condition_metric_name = "column_values.claims_contract_rule"
    condition_value_keys = ("rule",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, rule: str, **kwargs: Any) -> pd.Series:
        ok = COLUMN_RULES[rule][1]
        return column.map(lambda v: bool(ok(v))).astype(bool)


class ExpectColumnValuesToSatisfyContractRule(ColumnMapExpectation):
    """Expect every non-null value of the column to satisfy a contract column rule (rules.py)."""

    rule: str
    map_metric = "column_values.claims_contract_rule"
    success_keys = ("rule", "mostly")
    args_keys = ("column", "rule")
    library_metadata: ClassVar[dict[str, Any]] = {"tags": ["claims_platform"]}


class RowsSatisfyContractRule(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.claims_contract_row_rule"
    condition_domain_keys = (
        "batch_id",
        "table",
        "row_condition",
        "condition_parser",
        "column_list",
        "ignore_row_if",
    )
    condition_value_keys = ("rule",)

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, rule: str, **kwargs: Any) -> pd.Series:
        ok = ROW_RULES[rule][1]
        if column_list.empty:
            return pd.Series([], index=column_list.index, dtype=bool)
        upper = {c: c.upper() for c in column_list.columns}
        return column_list.apply(
            lambda row: bool(ok({upper[c]: _plain(row[c]) for c in column_list.columns})), axis=1
        ).astype(bool)


class ExpectRowsToSatisfyContractRule(MulticolumnMapExpectation):
    """Expect every row to satisfy a contract row rule (rules.py), given its contract columns."""

    rule: str
    map_metric = "multicolumn_values.claims_contract_row_rule"
    success_keys = ("rule", "mostly", "ignore_row_if")
    args_keys = ("column_list", "rule")
    library_metadata: ClassVar[dict[str, Any]] = {"tags": ["claims_platform"]}


CUSTOM = {
    "ExpectColumnValuesToSatisfyContractRule": ExpectColumnValuesToSatisfyContractRule,
    "ExpectRowsToSatisfyContractRule": ExpectRowsToSatisfyContractRule,
}
