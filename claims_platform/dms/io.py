"""Byte-level access to landing and lake URIs: a local path or `s3://bucket/key`.

Kept free of Dagster so the silver job can use it on Glue executors. boto3 clients are created
per call from the ambient configuration (role credentials, AWS_REGION, AWS_ENDPOINT_URL), which is
all a Glue executor has. Every object written to S3 is SSE-KMS encrypted with CLAIMS_KMS_KEY_ID.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path


def join_uri(base: str, *parts: str) -> str:
    if base.startswith("s3://"):
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return str(Path(base, *parts))


def read_bytes(uri: str) -> bytes:
    if uri.startswith("s3://"):
        import boto3

        from claims_platform.aws.s3 import split_s3_uri

        bucket, key = split_s3_uri(uri)
        return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    # O_NONBLOCK: a landed entry replaced by a FIFO after it was listed fails here instead of
    # blocking a Spark task until some writer opens the pipe.
    fd = os.open(uri, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"not a regular file: {uri}")
        return f.read()


def write_text(uri: str, text: str) -> None:
    if uri.startswith("s3://"):
        import boto3

        from claims_platform.aws.s3 import put_object
        from claims_platform.environment import kms_key_id_from_env

        put_object(boto3.client("s3"), uri, text.encode("utf-8"), kms_key_id=kms_key_id_from_env())
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def publish_file(local: Path, uri: str) -> None:
    """Move a finished local file to `uri`: a rename locally, an SSE-KMS upload to S3 (multipart
    for large files, so memory does not grow with the file)."""
    if uri.startswith("s3://"):
        import boto3

        from claims_platform.aws.s3 import split_s3_uri, sse_kms_args
        from claims_platform.environment import kms_key_id_from_env

        bucket, key = split_s3_uri(uri)
        boto3.client("s3").upload_file(
            str(local), bucket, key, ExtraArgs=sse_kms_args(kms_key_id_from_env())
        )
        local.unlink()
        return
    target = Path(uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(local, target)


def read_text(uri: str) -> str:
    return read_bytes(uri).decode("utf-8")
