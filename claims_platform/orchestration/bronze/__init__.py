"""Bronze in Dagster: the Oracle source and landing-zone assets and the landing sensor."""
