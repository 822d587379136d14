"""Silver: the Glue-compatible PySpark job and the append-only change tables it feeds."""
