"""The production path on AWS: S3 objects with SSE-KMS, the Glue Data Catalog, the KMS check.

Nothing here creates a boto3 client at import; callers pass clients (from dagster-aws's
`S3Resource` or the Glue catalog resource) when a run, sensor or check needs one.
"""
