"""Governance in Dagster: PHI column tags, OpenLineage events of the steps, dbt column lineage."""
