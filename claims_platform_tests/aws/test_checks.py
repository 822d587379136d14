import dagster as dg

from claims_platform.orchestration.aws.checks import KMS_CHECK, build_landing_encryption_check
from claims_platform.orchestration.bronze.assets import build_bronze_assets
from claims_platform.orchestration.resources import PlatformResource
from claims_platform_tests.aws.conftest import put_landed


def _run_bronze_with_check() -> dict[str, dg.AssetCheckEvaluation]:
    result = dg.materialize(
        [build_bronze_assets(), build_landing_encryption_check()],
        resources={"platform": PlatformResource()},
        selection=["bronze/member", "bronze/claim"],
    )
    assert result.success  # a warning never fails the run
    return {
        e.asset_key.to_user_string(): e
        for e in result.get_asset_check_evaluations()
        if e.check_name == KMS_CHECK
    }


def test_unencrypted_landing_object_is_a_warning_naming_the_file(
    s3, bucket, kms_key_arn, platform_env, monkeypatch
):
    monkeypatch.setenv("CLAIMS_LANDING_URI", f"s3://{bucket}/dms")
    put_landed(s3, bucket, "dms/CLAIMS/MEMBER/LOAD00000001.csv", b"x", kms_key_arn=kms_key_arn)
    # Landed by a DMS endpoint without `EncryptionMode: SSE_KMS`.
    put_landed(s3, bucket, "dms/CLAIMS/MEMBER/20240102-100000000.csv", b"y")
    put_landed(s3, bucket, "dms/CLAIMS/CLAIM/LOAD00000001.csv", b"z", kms_key_arn=kms_key_arn)

    checks = _run_bronze_with_check()
    member, claim = checks["bronze/member"], checks["bronze/claim"]
    assert not member.passed
    assert member.severity == dg.AssetCheckSeverity.WARN
    assert "CLAIMS/MEMBER/20240102-100000000.csv" in member.description
    assert member.metadata["unencrypted_files"].value == 1
    assert member.metadata["files_checked"].value == 2
    assert member.metadata["unencrypted_paths"].value == ["CLAIMS/MEMBER/20240102-100000000.csv"]
    assert claim.passed and claim.metadata["files_checked"].value == 1


def test_local_landing_passes_without_inspecting_anything(platform_env):
    checks = _run_bronze_with_check()
    assert all(c.passed for c in checks.values()) and len(checks) == 2
    assert checks["bronze/member"].metadata["landing"].value == "local"
