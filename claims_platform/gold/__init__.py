"""Gold: the warm dbt server; the dbt project as Dagster assets is in
claims_platform.orchestration.gold."""
