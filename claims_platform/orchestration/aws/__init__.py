"""AWS in Dagster: the landing-zone encryption check and the Glue catalog sync job."""
