"""The production path on AWS: S3 objects with SSE-KMS, the Glue Data Catalog.

Nothing here creates a boto3 client at import; callers pass clients when a run, sensor or check
needs one. The KMS check and the catalog sync job are in claims_platform.orchestration.aws.
"""
