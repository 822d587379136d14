"""The contract tables as Dagster names and describes them: asset keys, column schemas (with PHI
classes as column tags) and the asset PHI tag. One definition for the asset builders, the sensor,
the checks and the lineage events."""

import dagster as dg

from claims_platform.contracts import TableContract


def source_key(contract: TableContract) -> dg.AssetKey:
    return dg.AssetKey(["oracle", contract.schema_name.lower(), contract.silver_table])


def bronze_key(contract: TableContract) -> dg.AssetKey:
    return dg.AssetKey(["bronze", contract.silver_table])


def column_schema(contract: TableContract, *, silver: bool) -> dg.TableSchema:
    cols = []
    for c in contract.columns:
        tags = {"phi": c.phi} if c.phi else {}
        if c.tokenize and silver:
            tags["phi"] = "token"
        cols.append(
            dg.TableColumn(
                name=c.silver_name if silver else c.name,
                type=c.type,
                description=c.description,
                constraints=dg.TableColumnConstraints(nullable=c.nullable),
                tags=tags,
            )
        )
    return dg.TableSchema(columns=cols)


def phi_tags(contract: TableContract) -> dict[str, str]:
    classes = {c.phi for c in contract.columns if c.phi}
    return {"phi": "direct" if "P" in classes else "quasi" if "Q" in classes else "none"}
