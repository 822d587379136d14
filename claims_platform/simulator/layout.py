"""Column positions of a contract table, so the model builds rows in contract order by name."""

from __future__ import annotations

from typing import Any

from claims_platform.contracts import TableContract


class TableLayout:
    """Positions of a table's columns as attributes: `layout.CLAIM_ID` is the index of CLAIM_ID.

    Rows are plain lists in contract order; the model never hard-codes the order, it asks the
    layout. A column the model does not know stays NULL; a column the model needs but the contract
    lacks is an error at start-up, not a silent gap.
    """

    def __init__(self, contract: TableContract) -> None:
        self.name = contract.name
        self.names: tuple[str, ...] = tuple(contract.column_names)
        self.types: tuple[str, ...] = tuple(c.type for c in contract.columns)
        self.width = len(self.names)
        self.key_positions: tuple[int, ...] = tuple(
            self.names.index(k) for k in contract.primary_key
        )
        for i, name in enumerate(self.names):
            setattr(self, name, i)

    def __getattr__(self, name: str) -> int:
        # Only reached for names that are not columns (columns are set in __init__).
        raise AttributeError(f"contract {self.__dict__.get('name')} has no column {name}")

    def blank(self) -> list[Any]:
        return [None] * self.width

    def key_only(self, row: list[Any]) -> list[Any]:
        """The row of a key-only delete: the key columns, every other column NULL."""
        out: list[Any] = [None] * self.width
        for i in self.key_positions:
            out[i] = row[i]
        return out
