"""A real S3/KMS/Glue endpoint for the AWS tests: moto's server on a free local port.

boto3 is pointed at it the way a deployment points it at AWS, through the environment
(AWS_ENDPOINT_URL, credentials, region), so the code under test runs unpatched.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    # The server logs every request at INFO; a failing test's report needs none of it.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Environment of a deployment whose AWS endpoint is the moto server (dummy credentials)."""
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    # Never read a developer's ~/.aws (profiles, SSO) in tests.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    return moto_endpoint


@pytest.fixture
def s3(aws_env: str) -> Any:
    return boto3.client("s3")


@pytest.fixture
def kms_key_arn(aws_env: str) -> str:
    return boto3.client("kms").create_key(Description="claims platform test key")["KeyMetadata"][
        "Arn"
    ]


@pytest.fixture
def bucket(s3: Any) -> str:
    """A fresh bucket per test: tests share one server, never its state."""
    name = f"claims-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


def put_landed(
    s3: Any, bucket: str, key: str, body: bytes, *, kms_key_arn: str | None = None
) -> None:
    """Land one object as DMS would: SSE-KMS when the endpoint has `EncryptionMode: SSE_KMS`."""
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn} if kms_key_arn else {}
    s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)


def upload_tree(s3: Any, root: Path, bucket: str, prefix: str, *, kms_key_arn: str) -> list[str]:
    keys = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(root).as_posix()}"
        put_landed(s3, bucket, key, path.read_bytes(), kms_key_arn=kms_key_arn)
        keys.append(key)
    return keys


def all_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys
