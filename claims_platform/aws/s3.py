"""S3 object I/O the platform does itself: split URIs, write with SSE-KMS, read encryption.

Free of Dagster so the silver job can use it on Glue. Every `put` here carries
`ServerSideEncryption='aws:kms'` (and the configured key id when there is one): the platform never
relies on a bucket's default encryption for PHI.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KMS = "aws:kms"
# DSSE-KMS (two layers, both KMS) is at least as strong, so it counts as KMS-encrypted.
KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` → (`bucket`, `some/prefix`), without a trailing slash."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, key.strip("/")


def sse_kms_args(kms_key_id: str | None) -> dict[str, str]:
    """The put_object / upload arguments that encrypt an object with SSE-KMS."""
    args = {"ServerSideEncryption": KMS}
    if kms_key_id:
        args["SSEKMSKeyId"] = kms_key_id
    return args


def put_object(client: Any, uri: str, body: bytes, *, kms_key_id: str | None) -> None:
    bucket, key = split_s3_uri(uri)
    client.put_object(Bucket=bucket, Key=key, Body=body, **sse_kms_args(kms_key_id))


def _files_under(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        # Spark's checksum side files (.crc) carry nothing a reader needs.
        if path.is_file() and not path.name.endswith(".crc"):
            yield path


def upload_dir(client: Any, local_dir: Path, uri: str, *, kms_key_id: str | None) -> list[str]:
    """Copy a finished local folder (e.g. a silver batch) under `uri`; returns the keys written."""
    bucket, prefix = split_s3_uri(uri)
    keys = []
    for path in _files_under(local_dir):
        key = "/".join(p for p in (prefix, path.relative_to(local_dir).as_posix()) if p)
        with path.open("rb") as body:
            client.put_object(Bucket=bucket, Key=key, Body=body, **sse_kms_args(kms_key_id))
        keys.append(key)
    return keys


@dataclass(frozen=True)
class ObjectEncryption:
    algorithm: str | None  # `aws:kms`, `aws:kms:dsse`, `AES256` (SSE-S3), or None
    kms_key_id: str | None

    @property
    def is_kms(self) -> bool:
        return self.algorithm in KMS_ALGORITHMS


def object_encryption(client: Any, bucket: str, key: str) -> ObjectEncryption:
    """How an object is encrypted at rest, from its headers (a HEAD, no data read)."""
    head = client.head_object(Bucket=bucket, Key=key)
    return ObjectEncryption(head.get("ServerSideEncryption"), head.get("SSEKMSKeyId"))
