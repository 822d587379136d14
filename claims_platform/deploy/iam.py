"""Least-privilege IAM policies of the two roles the platform runs as, generated from configuration.

- the **Glue job role**: reads the landed files a manifest names, reads and writes its batch in
  the lake (SSE-KMS with the platform key only), reads its script, wheel and Pipes context, reads
  the tokenization secret, writes its CloudWatch logs;
- the **Dagster code-location role**: lists and reads the landing zone (sensor, KMS check), writes
  and cleans batches in the lake, hands Pipes context to the job, starts / watches / stops that
  one Glue job, reads its CloudWatch output, and registers silver in that one Glue database.

Every resource is one of the configured buckets, prefixes, key, job, database, secret or log
groups; no statement grants `*` actions or `*` resources. Nothing may write to the landing zone:
bronze is immutable (DESIGN principle 3), DMS alone writes there.

`python -m claims_platform.deploy.iam` prints both documents as JSON; options default to the
deployment's environment variables (CLAIMS_LANDING_URI, CLAIMS_LAKE_URI, CLAIMS_KMS_KEY_ID as a
key ARN, CLAIMS_GLUE_JOB_NAME, CLAIMS_GLUE_DATABASE, CLAIMS_GLUE_ARTIFACTS_URI,
CLAIMS_PIPES_BUCKET, CLAIMS_TOKENIZATION_KEY_SECRET_ID).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from claims_platform.aws.s3 import split_s3_uri
from claims_platform.environment import ConfigurationError

PIPES_PREFIX = "dagster-pipes"  # GlueSilverRunner's default key prefix for Pipes context objects
GLUE_LOG_GROUPS = ("/aws-glue/jobs/output", "/aws-glue/jobs/error", "/aws-glue/jobs/logs-v2")
# What sync_silver_catalog calls (claims_platform/aws/glue_catalog.py).
GLUE_CATALOG_ACTIONS = (
    "glue:GetDatabase",
    "glue:CreateDatabase",
    "glue:GetTable",
    "glue:CreateTable",
    "glue:UpdateTable",
)
# What dagster_aws.pipes.PipesGlueClient calls (start, poll, stop on interruption).
GLUE_JOB_ACTIONS = ("glue:StartJobRun", "glue:GetJobRun", "glue:BatchStopJobRun")
# What PipesCloudWatchMessageReader calls to follow the job's output stream.
LOG_READ_ACTIONS = ("logs:DescribeLogStreams", "logs:GetLogEvents")


def _s3(uri: str, what: str) -> tuple[str, str]:
    try:
        return split_s3_uri(uri)
    except ValueError:
        raise ConfigurationError(
            f"{what} must be an s3:// URI with a bucket for the IAM policies, not {uri!r}"
        ) from None


@dataclass(frozen=True)
class IamConfig:
    landing_uri: str  # s3://bucket/prefix DMS writes to
    lake_uri: str  # s3://bucket/prefix of the silver batches (the runner's scratch)
    kms_key_arn: str  # arn:aws:kms:<region>:<account>:key/<id>; region and account come from it
    glue_job_name: str
    glue_database: str
    artifacts_uri: str  # s3://bucket/prefix: Glue script, wheel, Spark temp dir
    pipes_bucket: str
    tokenization_secret: str  # Secrets Manager ARN or name of the SSN tokenization key
    landing_kms_key_arn: str | None = None  # DMS's key, when it is not the platform key

    def __post_init__(self) -> None:
        parts = self.kms_key_arn.split(":")
        if len(parts) != 6 or parts[2] != "kms" or not parts[5].startswith("key/"):
            raise ConfigurationError(
                "the KMS key must be given as a key ARN (arn:aws:kms:<region>:<account>:key/<id>)"
                " so the policies can name it"
            )
        for uri, what in (
            (self.landing_uri, "landing"),
            (self.lake_uri, "lake"),
            (self.artifacts_uri, "Glue artifacts"),
        ):
            _s3(uri, what)

    @property
    def partition(self) -> str:
        return self.kms_key_arn.split(":")[1]

    @property
    def region(self) -> str:
        return self.kms_key_arn.split(":")[3]

    @property
    def account_id(self) -> str:
        return self.kms_key_arn.split(":")[4]

    def _arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region, account = (self.region, self.account_id) if regional else ("", "")
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"

    def bucket_arn(self, uri: str, what: str) -> str:
        return self._arn("s3", _s3(uri, what)[0], regional=False)

    def objects_arn(self, uri: str, what: str, sub: str = "") -> str:
        bucket, prefix = _s3(uri, what)
        path = "/".join(p for p in (prefix, sub) if p)
        return self._arn("s3", f"{bucket}/{path + '/' if path else ''}*", regional=False)

    def prefix_condition(self, uri: str, what: str, sub: str = "") -> dict[str, Any]:
        _, prefix = _s3(uri, what)
        path = "/".join(p for p in (prefix, sub) if p)
        if not path:
            return {}
        return {"StringLike": {"s3:prefix": [path, f"{path}/*"]}}

    @property
    def batches_uri(self) -> str:
        return self.lake_uri.rstrip("/") + "/batches"

    @property
    def pipes_uri(self) -> str:
        return f"s3://{self.pipes_bucket}/{PIPES_PREFIX}"

    @property
    def job_arn(self) -> str:
        return self._arn("glue", f"job/{self.glue_job_name}")

    @property
    def catalog_arns(self) -> list[str]:
        return [
            self._arn("glue", "catalog"),
            self._arn("glue", f"database/{self.glue_database}"),
            self._arn("glue", f"table/{self.glue_database}/*"),
        ]

    @property
    def secret_arn(self) -> str:
        if self.tokenization_secret.startswith("arn:"):
            return self.tokenization_secret
        # Secrets Manager appends six random characters to a secret's name in its ARN.
        return self._arn("secretsmanager", f"secret:{self.tokenization_secret}-??????")

    def log_group_arns(self, *, streams: bool) -> list[str]:
        return [
            self._arn("logs", f"log-group:{g}" + (":*" if streams else "")) for g in GLUE_LOG_GROUPS
        ]

    @property
    def read_key_arns(self) -> list[str]:
        keys = [self.kms_key_arn]
        if self.landing_kms_key_arn and self.landing_kms_key_arn != self.kms_key_arn:
            keys.append(self.landing_kms_key_arn)
        return keys

    @classmethod
    def from_env(cls, **overrides: str | None) -> IamConfig:
        env = {
            "landing_uri": "CLAIMS_LANDING_URI",
            "lake_uri": "CLAIMS_LAKE_URI",
            "kms_key_arn": "CLAIMS_KMS_KEY_ID",
            "glue_job_name": "CLAIMS_GLUE_JOB_NAME",
            "glue_database": "CLAIMS_GLUE_DATABASE",
            "artifacts_uri": "CLAIMS_GLUE_ARTIFACTS_URI",
            "pipes_bucket": "CLAIMS_PIPES_BUCKET",
            "tokenization_secret": "CLAIMS_TOKENIZATION_KEY_SECRET_ID",
            "landing_kms_key_arn": "CLAIMS_LANDING_KMS_KEY_ARN",
        }
        values = {f: overrides.get(f) or os.environ.get(var, "").strip() for f, var in env.items()}
        values["glue_job_name"] = values["glue_job_name"] or "claims-platform-silver"
        missing = [env[f] for f, v in values.items() if not v and f != "landing_kms_key_arn"]
        if missing:
            raise ConfigurationError(f"set {', '.join(missing)} (or pass them as options)")
        values["landing_kms_key_arn"] = values["landing_kms_key_arn"] or None
        return cls(**values)


def _statement(sid: str, actions: Sequence[str], resources: Sequence[str], **extra: Any) -> dict:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": list(resources),
        **extra,
    }


def _kms_put_condition(cfg: IamConfig) -> dict[str, Any]:
    """PutObject only with SSE-KMS under the platform key: a write without the headers, or with
    another key, is denied rather than encrypted by whatever the bucket default is."""
    return {
        "StringEquals": {
            "s3:x-amz-server-side-encryption": "aws:kms",
            "s3:x-amz-server-side-encryption-aws-kms-key-id": cfg.kms_key_arn,
        }
    }


def _policy(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def glue_job_role_policy(cfg: IamConfig) -> dict[str, Any]:
    """The policy of the role the silver Glue job runs as."""
    return _policy(
        [
            # The job reads exactly the files its manifest names; listing is not needed.
            _statement(
                "ReadLandedFiles", ["s3:GetObject"], [cfg.objects_arn(cfg.landing_uri, "landing")]
            ),
            _statement(
                "ListBatchOutput",
                ["s3:ListBucket"],
                [cfg.bucket_arn(cfg.lake_uri, "lake")],
                Condition=cfg.prefix_condition(cfg.batches_uri, "lake"),
            ),
            # Spark's overwrite mode and output committer delete and list under the batch.
            _statement(
                "ReadCleanBatch",
                ["s3:GetObject", "s3:DeleteObject"],
                [cfg.objects_arn(cfg.batches_uri, "lake")],
            ),
            _statement(
                "WriteBatchEncrypted",
                ["s3:PutObject"],
                [cfg.objects_arn(cfg.batches_uri, "lake")],
                Condition=_kms_put_condition(cfg),
            ),
            _statement(
                "ReadScriptAndWheel",
                ["s3:GetObject"],
                [
                    cfg.objects_arn(cfg.artifacts_uri, "Glue artifacts", "scripts"),
                    cfg.objects_arn(cfg.artifacts_uri, "Glue artifacts", "wheels"),
                ],
            ),
            _statement(
                "SparkTempDir",
                ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                [cfg.objects_arn(cfg.artifacts_uri, "Glue artifacts", "tmp")],
            ),
            _statement(
                "ReadPipesContext", ["s3:GetObject"], [cfg.objects_arn(cfg.pipes_uri, "Pipes")]
            ),
            _statement("UsePlatformKey", ["kms:Decrypt", "kms:GenerateDataKey"], [cfg.kms_key_arn]),
            *(
                [_statement("DecryptLandingKey", ["kms:Decrypt"], cfg.read_key_arns[1:])]
                if len(cfg.read_key_arns) > 1
                else []
            ),
            _statement("ReadTokenizationKey", ["secretsmanager:GetSecretValue"], [cfg.secret_arn]),
            _statement(
                "CreateGlueLogGroups", ["logs:CreateLogGroup"], cfg.log_group_arns(streams=False)
            ),
            _statement(
                "WriteGlueLogs",
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                cfg.log_group_arns(streams=True),
            ),
        ]
    )


def code_location_role_policy(cfg: IamConfig) -> dict[str, Any]:
    """The policy of the role the Dagster code location (sensors, runs) runs as."""
    return _policy(
        [
            _statement(
                "ListLanding",
                ["s3:ListBucket"],
                [cfg.bucket_arn(cfg.landing_uri, "landing")],
                Condition=cfg.prefix_condition(cfg.landing_uri, "landing"),
            ),
            # GetObject also authorises the HEAD of the KMS check; there is no PutObject here.
            _statement(
                "ReadLanding", ["s3:GetObject"], [cfg.objects_arn(cfg.landing_uri, "landing")]
            ),
            _statement(
                "ListBatches",
                ["s3:ListBucket"],
                [cfg.bucket_arn(cfg.lake_uri, "lake")],
                Condition=cfg.prefix_condition(cfg.batches_uri, "lake"),
            ),
            _statement(
                "ReadDiscardBatches",
                ["s3:GetObject", "s3:DeleteObject"],
                [cfg.objects_arn(cfg.batches_uri, "lake")],
            ),
            _statement(
                "WriteBatchesEncrypted",
                ["s3:PutObject"],
                [cfg.objects_arn(cfg.batches_uri, "lake")],
                Condition=_kms_put_condition(cfg),
            ),
            # dagster-aws's S3 context injector writes, and later deletes, the Pipes context
            # without encryption headers; it holds run ids and asset keys, never data, and the
            # bucket's default SSE-KMS encrypts it.
            _statement(
                "PipesContext",
                ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                [cfg.objects_arn(cfg.pipes_uri, "Pipes")],
            ),
            _statement("UsePlatformKey", ["kms:Decrypt", "kms:GenerateDataKey"], [cfg.kms_key_arn]),
            *(
                [_statement("DecryptLandingKey", ["kms:Decrypt"], cfg.read_key_arns[1:])]
                if len(cfg.read_key_arns) > 1
                else []
            ),
            _statement("RunSilverGlueJob", GLUE_JOB_ACTIONS, [cfg.job_arn]),
            _statement("ReadGlueJobLogs", LOG_READ_ACTIONS, cfg.log_group_arns(streams=True)),
            _statement("RegisterSilverCatalog", GLUE_CATALOG_ACTIONS, cfg.catalog_arns),
        ]
    )


def policies(cfg: IamConfig) -> dict[str, dict[str, Any]]:
    return {
        "glue_job_role": glue_job_role_policy(cfg),
        "code_location_role": code_location_role_policy(cfg),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m claims_platform.deploy.iam",
        description="Print the IAM policies of the Glue job role and the Dagster code-location "
        "role as JSON. Options default to the deployment's environment variables.",
    )
    for name in (
        "landing-uri",
        "lake-uri",
        "kms-key-arn",
        "glue-job-name",
        "glue-database",
        "artifacts-uri",
        "pipes-bucket",
        "tokenization-secret",
        "landing-kms-key-arn",
    ):
        parser.add_argument(f"--{name}")
    parser.add_argument("--role", choices=["glue_job_role", "code_location_role"])
    args = parser.parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k != "role"}
    try:
        cfg = IamConfig.from_env(**options)
    except ConfigurationError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    docs = policies(cfg)
    print(json.dumps(docs[args.role] if args.role else docs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
