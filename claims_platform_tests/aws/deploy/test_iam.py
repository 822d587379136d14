"""The generated IAM policies: nothing beyond the configured resources, and enough for the code."""

import fnmatch
import json

import pytest

from claims_platform.deploy.iam import (
    GLUE_CATALOG_ACTIONS,
    GLUE_JOB_ACTIONS,
    LOG_READ_ACTIONS,
    IamConfig,
    code_location_role_policy,
    glue_job_role_policy,
    main,
    policies,
)
from claims_platform.environment import ConfigurationError

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1111aaaa-2222-bbbb-3333-cccc4444dddd"
OTHER_KEY = "arn:aws:kms:eu-west-1:123456789012:key/9999ffff-0000-eeee-1111-aaaa2222bbbb"
CFG = IamConfig(
    landing_uri="s3://payer-dms-landing/claims",
    lake_uri="s3://payer-lake/claims",
    kms_key_arn=KEY,
    glue_job_name="claims-platform-silver",
    glue_database="claims_silver",
    artifacts_uri="s3://payer-lake/glue-artifacts",
    pipes_bucket="payer-lake",
    tokenization_secret="claims/tokenization-key",
)
S3 = "arn:aws:s3:::"
GLUE = "arn:aws:glue:eu-west-1:123456789012:"
LOGS = "arn:aws:logs:eu-west-1:123456789012:log-group:"
KMS_PUT = {
    "s3:x-amz-server-side-encryption": "aws:kms",
    "s3:x-amz-server-side-encryption-aws-kms-key-id": KEY,
}


def _as_list(v) -> list[str]:
    return [v] if isinstance(v, str) else list(v)


def _conditions_hold(condition: dict, ctx: dict[str, str]) -> bool:
    for op, tests in condition.items():
        for key, wanted in tests.items():
            have = ctx.get(key)
            if have is None:
                return False
            if op == "StringEquals" and have not in _as_list(wanted):
                return False
            if op == "StringLike" and not any(
                fnmatch.fnmatchcase(have, w) for w in _as_list(wanted)
            ):
                return False
            if op not in ("StringEquals", "StringLike"):
                raise AssertionError(f"evaluator does not know condition operator {op}")
    return True


def allows(policy: dict, action: str, resource: str, **ctx: str) -> bool:
    """IAM's allow logic for these policies (they hold no Deny and no NotAction/NotResource)."""
    return any(
        s["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _as_list(s["Action"]))
        and any(fnmatch.fnmatchcase(resource, r) for r in _as_list(s["Resource"]))
        and _conditions_hold(s.get("Condition", {}), ctx)
        for s in policy["Statement"]
    )


@pytest.mark.parametrize("role", ["glue_job_role", "code_location_role"])
def test_no_wildcard_actions_and_only_configured_resources(role):
    policy = policies(CFG)[role]
    assert policy["Version"] == "2012-10-17"
    allowed_prefixes = (
        f"{S3}payer-dms-landing",
        f"{S3}payer-lake",
        KEY,
        f"{GLUE}job/claims-platform-silver",
        f"{GLUE}catalog",
        f"{GLUE}database/claims_silver",
        f"{GLUE}table/claims_silver/",
        f"{LOGS}/aws-glue/jobs/",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:claims/tokenization-key-",
    )
    for s in policy["Statement"]:
        assert s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s
        for action in _as_list(s["Action"]):
            assert "*" not in action, f"{s['Sid']} grants wildcard action {action}"
        for resource in _as_list(s["Resource"]):
            assert resource != "*" and resource.startswith(allowed_prefixes), (s["Sid"], resource)
            # A wildcard may only end a configured prefix, never stand for a bucket or account.
            assert "*" not in resource.rsplit("/", 1)[0].replace("-??????", ""), resource
    # Object wildcards stay under the configured prefixes.
    objects = [r for s in policy["Statement"] for r in _as_list(s["Resource"]) if r.endswith("/*")]
    assert all(
        r.startswith(
            (
                f"{S3}payer-dms-landing/claims/",
                f"{S3}payer-lake/claims/batches/",
                f"{S3}payer-lake/glue-artifacts/",
                f"{S3}payer-lake/dagster-pipes/",
                f"{GLUE}table/claims_silver/",
            )
        )
        for r in objects
    ), objects


def test_code_location_role_can_do_what_the_platform_does():
    p = code_location_role_policy(CFG)
    landing_obj = f"{S3}payer-dms-landing/claims/CLAIMS/MEMBER/LOAD00000001.csv"
    batch_obj = f"{S3}payer-lake/claims/batches/b1/_manifest.json"
    # landing sensor (ListObjectsV2 under the prefix), KMS check HEAD, reads
    assert allows(p, "s3:ListBucket", f"{S3}payer-dms-landing", **{"s3:prefix": "claims/"})
    assert allows(p, "s3:GetObject", landing_obj)
    assert allows(p, "kms:Decrypt", KEY)
    # manifest / batch output to the lake with SSE-KMS, read back, discard
    assert allows(p, "s3:PutObject", batch_obj, **KMS_PUT)
    assert allows(p, "kms:GenerateDataKey", KEY)
    assert allows(p, "s3:GetObject", batch_obj) and allows(p, "s3:DeleteObject", batch_obj)
    assert allows(p, "s3:ListBucket", f"{S3}payer-lake", **{"s3:prefix": "claims/batches/b1/"})
    # Pipes: context injector, Glue client, CloudWatch message reader
    assert allows(p, "s3:PutObject", f"{S3}payer-lake/dagster-pipes/ctx.json")
    for action in GLUE_JOB_ACTIONS:
        assert allows(p, action, f"{GLUE}job/claims-platform-silver")
    for action in LOG_READ_ACTIONS:
        assert allows(p, action, f"{LOGS}/aws-glue/jobs/output:log-stream:jr_1")
    # Glue Data Catalog registration of silver
    for action in GLUE_CATALOG_ACTIONS:
        for resource in (
            f"{GLUE}catalog",
            f"{GLUE}database/claims_silver",
            f"{GLUE}table/claims_silver/member",
        ):
            assert allows(p, action, resource)


def test_code_location_role_cannot_do_more():
    p = code_location_role_policy(CFG)
    landing_obj = f"{S3}payer-dms-landing/claims/CLAIMS/MEMBER/LOAD00000001.csv"
    batch_obj = f"{S3}payer-lake/claims/batches/b1/part-0.parquet"
    # bronze is immutable: no write or delete in the landing zone
    assert not allows(p, "s3:PutObject", landing_obj, **KMS_PUT)
    assert not allows(p, "s3:DeleteObject", landing_obj)
    # lake writes only with SSE-KMS under the platform key
    assert not allows(p, "s3:PutObject", batch_obj)
    assert not allows(
        p,
        "s3:PutObject",
        batch_obj,
        **{**KMS_PUT, "s3:x-amz-server-side-encryption-aws-kms-key-id": OTHER_KEY},
    )
    assert not allows(p, "s3:PutObject", f"{S3}payer-lake/elsewhere/x", **KMS_PUT)
    assert not allows(p, "s3:ListBucket", f"{S3}payer-dms-landing", **{"s3:prefix": "other/"})
    assert not allows(p, "s3:ListBucket", f"{S3}payer-dms-landing")
    assert not allows(p, "kms:Decrypt", OTHER_KEY)
    assert not allows(p, "glue:StartJobRun", f"{GLUE}job/another-job")
    assert not allows(p, "glue:DeleteTable", f"{GLUE}table/claims_silver/member")
    assert not allows(p, "glue:CreateTable", f"{GLUE}table/other_db/member")
    assert not allows(p, "secretsmanager:GetSecretValue", CFG.secret_arn)


def test_glue_job_role_can_do_what_the_silver_job_does_and_no_more():
    p = glue_job_role_policy(CFG)
    landing_obj = f"{S3}payer-dms-landing/claims/CLAIMS/CLAIM/20240102-100000000.csv.gz"
    out_obj = f"{S3}payer-lake/claims/batches/b1/output/claim/part-0.parquet"
    assert allows(p, "s3:GetObject", landing_obj) and allows(p, "kms:Decrypt", KEY)
    assert allows(p, "s3:GetObject", f"{S3}payer-lake/claims/batches/b1/_manifest.json")
    assert allows(p, "s3:PutObject", out_obj, **KMS_PUT)
    assert allows(p, "kms:GenerateDataKey", KEY)
    assert allows(p, "s3:DeleteObject", out_obj)  # Spark's overwrite of a retried batch
    assert allows(p, "s3:GetObject", f"{S3}payer-lake/glue-artifacts/scripts/silver_job.py")
    assert allows(p, "s3:GetObject", f"{S3}payer-lake/dagster-pipes/ctx.json")
    assert allows(
        p,
        "secretsmanager:GetSecretValue",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:claims/tokenization-key-AbCdEf",
    )
    assert allows(p, "logs:PutLogEvents", f"{LOGS}/aws-glue/jobs/output:log-stream:jr_1")
    assert allows(p, "logs:CreateLogGroup", f"{LOGS}/aws-glue/jobs/error")

    assert not allows(p, "s3:PutObject", landing_obj, **KMS_PUT)
    assert not allows(p, "s3:ListBucket", f"{S3}payer-dms-landing", **{"s3:prefix": "claims/"})
    assert not allows(p, "s3:PutObject", out_obj)  # unencrypted
    assert not allows(p, "kms:GenerateDataKey", OTHER_KEY)
    assert not allows(p, "glue:StartJobRun", f"{GLUE}job/claims-platform-silver")
    assert not allows(p, "glue:UpdateTable", f"{GLUE}table/claims_silver/member")
    assert not allows(
        p,
        "secretsmanager:GetSecretValue",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-AbCdEf",
    )


def test_a_separate_dms_key_is_decrypt_only():
    cfg = IamConfig(**{**CFG.__dict__, "landing_kms_key_arn": OTHER_KEY})
    for policy in policies(cfg).values():
        assert allows(policy, "kms:Decrypt", OTHER_KEY)
        assert not allows(policy, "kms:GenerateDataKey", OTHER_KEY)


def test_cli_prints_the_policies_from_the_environment(monkeypatch, capsys):
    for var, value in {
        "CLAIMS_LANDING_URI": CFG.landing_uri,
        "CLAIMS_LAKE_URI": CFG.lake_uri,
        "CLAIMS_KMS_KEY_ID": KEY,
        "CLAIMS_GLUE_DATABASE": CFG.glue_database,
        "CLAIMS_GLUE_ARTIFACTS_URI": CFG.artifacts_uri,
        "CLAIMS_PIPES_BUCKET": CFG.pipes_bucket,
        "CLAIMS_TOKENIZATION_KEY_SECRET_ID": CFG.tokenization_secret,
    }.items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("CLAIMS_GLUE_JOB_NAME", raising=False)
    monkeypatch.delenv("CLAIMS_LANDING_KMS_KEY_ARN", raising=False)
    assert main([]) == 0
    assert json.loads(capsys.readouterr().out) == policies(CFG)
    assert main(["--role", "glue_job_role", "--glue-job-name", "other"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == glue_job_role_policy(IamConfig(**{**CFG.__dict__, "glue_job_name": "other"}))


def test_a_key_id_instead_of_an_arn_is_refused():
    with pytest.raises(ConfigurationError, match="key ARN"):
        IamConfig(**{**CFG.__dict__, "kms_key_arn": "1111aaaa-2222-bbbb-3333-cccc4444dddd"})


@pytest.mark.parametrize("uri", ["landing-bucket/dms", "s3:///dms", "https://landing-bucket/dms"])
def test_a_landing_that_is_not_an_s3_uri_with_a_bucket_is_refused(uri):
    with pytest.raises(ConfigurationError, match="landing"):
        IamConfig(**{**CFG.__dict__, "landing_uri": uri})
