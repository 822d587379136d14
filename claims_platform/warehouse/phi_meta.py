"""PHI classes in the dbt YAML, checked against the table contracts they come from.

The contracts classify source columns (CONTRACT §3: P direct identifier, Q quasi-identifier). dbt
carries the class in each column's `config.meta.phi` and the analyst mask in `phi_mask`; the dbt
macros (macros/governance/) mask and set Snowflake policies from that meta alone. This module
derives what the meta must be from the contracts and the dbt lineage in a manifest, and lists
every disagreement, so the YAML and the contracts cannot drift.

Verify rather than generate: the YAML stays hand-written, reviewed prose (descriptions, tests)
that other changes edit too, and a failing check names the file, node, column and the fix.

Rules, per model and source in the manifest:

* a column named like a contract column of a silver table upstream of the node (through the
  dbt lineage) has that column's class, the strictest one when several upstream tables have a
  column of that name; a column with no contract counterpart (derived) may declare a class;
* `phi_mask` fits the class (and `year` only a date column, per contract type);
* the node's `config.meta.contains_phi` says whether any column has a class;
* every silver table documents every silver column, so no classified column goes unlisted, and
  no other column: documenting a silver column is what lets a column added at the source into
  staging and gold (dbt's added_source_columns), so only a contract classifies it;
* an analyst view (`masked_view_of: <model>`) lists exactly its model's columns but the
  bookkeeping ones (leading `_`), with no class and the model's effective mask on each PHI column;
* every column is described.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from claims_platform.contracts import Column, TableContract, load_contracts
from claims_platform.silver.schema import all_silver_tables

# Mirrors phi_masks() in dbt/macros/governance/phi.sql: mask -> (class, contract base type).
MASKS: dict[str, tuple[str, str]] = {
    "redact": ("P", "string"),
    "suppress": ("Q", "string"),
    "year": ("Q", "date"),
    "zip3": ("Q", "string"),
}
DEFAULT_MASK = {"P": "redact", "Q": "suppress"}
_STRICTNESS = {None: 0, "Q": 1, "P": 2}
_SILVER_SOURCE = "source.claims_platform.silver."


@dataclass(frozen=True)
class Drift:
    """One disagreement between the dbt YAML and the contracts (names only, never values)."""

    path: str
    node: str
    column: str | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.node}.{self.column}" if self.column else self.node
        return f"{self.path}: {where}: {self.problem}"


def silver_contract_columns(
    contracts: Mapping[str, TableContract] | None = None,
) -> dict[str, dict[str, Column | None]]:
    """Silver table -> silver column -> the contract column it holds (None for metadata and
    flattened child fields, which the contracts do not classify)."""
    contracts = contracts or load_contracts()
    by_table: dict[str, dict[str, Column | None]] = {}
    contract_of = {c.silver_table: c for c in contracts.values()}
    for table in all_silver_tables(dict(contracts)):
        parent = contract_of.get(table.parent or table.name)
        by_name = {c.silver_name: c for c in parent.columns} if parent else {}
        by_table[table.name] = {name: by_name.get(name) for name, _ in table.columns}
    return by_table


def _meta(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {**(entry.get("meta") or {}), **((entry.get("config") or {}).get("meta") or {})}


def _upstream_silver_tables(manifest: Mapping[str, Any], unique_id: str) -> set[str]:
    parents = manifest["parent_map"]
    seen: set[str] = set()
    stack = [unique_id]
    while stack:
        for parent in parents.get(stack.pop(), []):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    if unique_id.startswith(_SILVER_SOURCE):
        seen.add(unique_id)
    return {p.removeprefix(_SILVER_SOURCE) for p in seen if p.startswith(_SILVER_SOURCE)}


def _yaml_path(node: Mapping[str, Any]) -> str:
    """The YAML file documenting the node (where a fix goes)."""
    patch = node.get("patch_path") or ""
    return patch.split("://", 1)[-1] if patch else node["original_file_path"]


def effective_mask(meta: Mapping[str, Any]) -> str | None:
    phi = meta.get("phi")
    return (meta.get("phi_mask") or DEFAULT_MASK.get(phi)) if phi else None


def phi_meta_drift(
    manifest: Mapping[str, Any], contracts: Mapping[str, TableContract] | None = None
) -> list[Drift]:
    """Every way the PHI meta of the manifest's models and sources disagrees with the contracts."""
    silver = silver_contract_columns(contracts)
    nodes = {
        uid: node
        for uid, node in [*manifest["nodes"].items(), *manifest["sources"].items()]
        if node["resource_type"] in ("model", "source")
        and node["package_name"] == manifest["metadata"].get("project_name", node["package_name"])
    }
    by_name = {n["name"]: n for n in nodes.values() if n["resource_type"] == "model"}
    drifts: list[Drift] = []
    for uid, node in sorted(nodes.items()):
        name = node["name"]
        path = _yaml_path(node)

        def drift(column: str | None, problem: str, path: str = path, name: str = name) -> None:
            drifts.append(Drift(path, name, column, problem))

        columns = node["columns"]
        node_meta = _meta(node)
        if node["resource_type"] == "source" and node["source_name"] == "silver":
            missing = [c for c in silver.get(name, {}) if c not in columns]
            if missing:
                drift(None, f"silver columns not documented: {', '.join(missing)}")
            unknown = [c for c in columns if c not in silver.get(name, {})]
            if unknown:
                drift(
                    None,
                    f"documents columns no contract has: {', '.join(unknown)} (an unclassified "
                    "column stays out of staging and gold until its contract classifies it)",
                )
        masked_of = node_meta.get("masked_view_of")
        if masked_of:
            drifts.extend(_masked_view_drift(node, by_name.get(masked_of), masked_of))
            continue
        upstream = _upstream_silver_tables(manifest, uid)
        any_phi = False
        for column_name, column in columns.items():
            meta = _meta(column)
            actual = meta.get("phi")
            any_phi = any_phi or actual is not None
            if not (column.get("description") or "").strip():
                drift(column_name, "has no description")
            sources = [
                silver[t][column_name]
                for t in sorted(upstream)
                if silver.get(t, {}).get(column_name) is not None
            ]
            contract = max(sources, key=lambda c: _STRICTNESS[c.phi], default=None)
            if contract is not None and actual != contract.phi:
                expected = f"phi: {contract.phi}" if contract.phi else "no phi"
                drift(column_name, f"contract {contract.name} says {expected}, YAML says {actual}")
            if actual not in (None, "P", "Q"):
                drift(column_name, f"phi must be P or Q, not {actual!r}")
                continue
            mask = meta.get("phi_mask")
            if mask is not None and actual is None:
                drift(column_name, "phi_mask without a phi class")
            elif mask is not None and (mask not in MASKS or MASKS[mask][0] != actual):
                drift(column_name, f"phi_mask {mask!r} does not apply to class {actual}")
            if contract is not None and actual is not None:
                base = contract.base_type
                chosen = effective_mask(meta)
                if chosen in MASKS and MASKS[chosen][1] != base and chosen != "suppress":
                    drift(column_name, f"phi_mask {chosen} needs a {MASKS[chosen][1]} column")
                if chosen in ("redact", "suppress") and base != "string":
                    drift(
                        column_name,
                        f"a {base} column can't be masked by {chosen} (a varchar policy); "
                        "give it a phi_mask for its type",
                    )
        declared = node_meta.get("contains_phi")
        if declared is not any_phi:
            drift(None, f"contains_phi should be {str(any_phi).lower()}, is {declared}")
    return drifts


def _masked_view_drift(
    node: Mapping[str, Any], masked: Mapping[str, Any] | None, masked_name: str
) -> list[Drift]:
    path, name = _yaml_path(node), node["name"]
    if masked is None:
        return [Drift(path, name, None, f"masked_view_of names no model {masked_name!r}")]
    out: list[Drift] = []
    business = [c for c in masked["columns"] if not c.startswith("_")]
    if list(node["columns"]) != business:
        out.append(Drift(path, name, None, f"columns differ from {masked_name}'s (but _…)"))
    if _meta(node).get("contains_phi") is not False:
        out.append(Drift(path, name, None, "an analyst view must say contains_phi: false"))
    for column_name, column in node["columns"].items():
        meta = _meta(column)
        if not (column.get("description") or "").strip():
            out.append(Drift(path, name, column_name, "has no description"))
        if meta.get("phi") is not None:
            out.append(Drift(path, name, column_name, "a masked column carries no phi class"))
        source = masked["columns"].get(column_name)
        expected = effective_mask(_meta(source)) if source else None
        if meta.get("phi_mask") != expected:
            out.append(
                Drift(path, name, column_name, f"phi_mask should be {expected} as in {masked_name}")
            )
    return out
