"""The moto AWS endpoint of claims_platform_tests/aws, for the Glue stand-in's own test here."""

from claims_platform_tests.aws.conftest import (  # noqa: F401 (pytest fixtures)
    aws_env,
    kms_key_arn,
    moto_endpoint,
    s3,
)
