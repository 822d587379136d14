import pytest

from claims_platform.environment import ConfigurationError, get_settings


def test_s3_settings_come_from_the_environment_switch(platform_env, monkeypatch):
    # A landing zone on AWS S3 is deployed data: a secret key (test_tokenization_key.py).
    monkeypatch.setenv("CLAIMS_TOKENIZATION_KEY", "k" * 32)
    monkeypatch.setenv("CLAIMS_LANDING_URI", "s3://landing/dms")
    monkeypatch.setenv("CLAIMS_LAKE_URI", "s3://lake/claims")
    monkeypatch.setenv("CLAIMS_KMS_KEY_ID", "arn:aws:kms:us-east-1:123456789012:key/k1")
    s = get_settings()
    assert (s.landing_uri, s.lake_uri, s.lake_is_s3) == (
        "s3://landing/dms",
        "s3://lake/claims",
        True,
    )
    assert s.kms_key_id == "arn:aws:kms:us-east-1:123456789012:key/k1"
    assert s.glue_database is None  # the catalog is off unless configured


def test_local_defaults_keep_the_lake_under_the_data_dir(platform_env, monkeypatch):
    monkeypatch.delenv("CLAIMS_LAKE_URI", raising=False)
    s = get_settings()
    assert s.lake_uri == str(platform_env.resolve() / "lake") and not s.lake_is_s3


def test_outside_local_an_s3_lake_needs_the_kms_key(platform_env, monkeypatch):
    monkeypatch.setenv("CLAIMS_ENV", "prod")
    monkeypatch.setenv("CLAIMS_TOKENIZATION_KEY", "k" * 32)
    monkeypatch.setenv("CLAIMS_LAKE_URI", "s3://lake/claims")
    monkeypatch.delenv("CLAIMS_KMS_KEY_ID", raising=False)
    for var in ("DAGSTER_CLOUD_DEPLOYMENT_NAME", "DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigurationError, match="CLAIMS_KMS_KEY_ID"):
        get_settings()
    monkeypatch.setenv("CLAIMS_KMS_KEY_ID", "alias/claims-platform")
    assert get_settings().kms_key_id == "alias/claims-platform"
