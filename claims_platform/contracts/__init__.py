"""Table contracts: one YAML per replicated source table, loaded into typed models.

Everything that differs per table (keys, types, PHI classes, nested JSON columns, validation rules,
gold shape) lives in the YAML files beside this module; code reads it from here.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

PhiClass = Literal["P", "Q"]
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_SIMPLE_TYPES = {"string", "integer", "double", "boolean", "date", "timestamp", "json", "binary"}


def parse_type(type_name: str) -> tuple[str, int | None, int | None]:
    """Split a contract type into (base, precision, scale); precision/scale only for decimals."""
    m = _DECIMAL.match(type_name)
    if m:
        return "decimal", int(m.group(1)), int(m.group(2))
    if type_name not in _SIMPLE_TYPES:
        raise ValueError(f"unknown contract type {type_name!r}")
    return type_name, None, None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NestedField(_Model):
    """One attribute of the objects inside a JSON array column."""

    name: str
    column: str
    type: str
    description: str
    nullable: bool = True
    rules: tuple[str, ...] = ()
    pattern: str | None = None
    accepted_values: tuple[str, ...] | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        parse_type(v)
        return v


class Nested(_Model):
    """How a JSON array column flattens into a child change table."""

    child: str
    description: str
    position: str = Field(description="1-based position of the element in the array")
    fields: tuple[NestedField, ...]


class Column(_Model):
    name: str
    type: str
    description: str
    nullable: bool = True
    phi: PhiClass | None = None
    rules: tuple[str, ...] = ()
    pattern: str | None = None
    accepted_values: tuple[str, ...] | None = None
    references: str | None = None
    tokenize: str | None = Field(
        default=None, description="silver column holding a keyed HMAC token instead of the value"
    )
    nested: Nested | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        parse_type(v)
        return v

    @property
    def silver_name(self) -> str:
        return self.tokenize or self.name.lower()

    @property
    def base_type(self) -> str:
        return parse_type(self.type)[0]


class GoldSpec(_Model):
    kind: Literal["scd2", "current"]
    model: str | None = None
    surrogate_key: str | None = None


class TableContract(_Model):
    name: str
    description: str
    owner: str
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    schema_name: str = Field(default="CLAIMS", alias="schema")
    rules: tuple[str, ...] = ()
    gold: GoldSpec | None = None

    @property
    def silver_table(self) -> str:
        return self.name.lower()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def nested_columns(self) -> list[Column]:
        return [c for c in self.columns if c.nested is not None]

    def model_post_init(self, _context: object) -> None:
        names = self.column_names
        missing = [k for k in self.primary_key if k not in names]
        if missing:
            raise ValueError(f"contract {self.name}: primary key columns {missing} are not columns")
        if len(set(names)) != len(names):
            raise ValueError(f"contract {self.name}: duplicate column names")


def _contract_dir() -> Path:
    return Path(str(resources.files(__package__).joinpath("tables")))


def load_contract(path: Path | str) -> TableContract:
    with open(path, encoding="utf-8") as f:
        return TableContract.model_validate(yaml.safe_load(f))


@cache
def load_contracts(directory: str | None = None) -> dict[str, TableContract]:
    """All contracts by upper-case table name, in a stable (dependency-friendly) order."""
    folder = Path(directory) if directory else _contract_dir()
    contracts = [load_contract(p) for p in sorted(folder.glob("*.yaml"))]
    order = ["PLAN", "MEMBER", "ENROLLMENT", "PROVIDER", "CLAIM", "CLAIM_LINE"]
    contracts.sort(key=lambda c: (order.index(c.name) if c.name in order else len(order), c.name))
    return {c.name: c for c in contracts}
