"""Gold in Dagster: the dbt project as assets, its dbt resource and downstream exposures."""
