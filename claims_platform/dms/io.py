"""Byte-level access to landing and lake URIs: a local path or `s3://bucket/key`.

Kept free of Dagster so the silver job can use it on Glue executors.
"""

from __future__ import annotations

from pathlib import Path


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def join_uri(base: str, *parts: str) -> str:
    if base.startswith("s3://"):
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return str(Path(base, *parts))


def read_bytes(uri: str) -> bytes:
    if uri.startswith("s3://"):
        import boto3

        bucket, key = _split_s3(uri)
        return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return Path(uri).read_bytes()


def write_text(uri: str, text: str) -> None:
    if uri.startswith("s3://"):
        import boto3

        bucket, key = _split_s3(uri)
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def read_text(uri: str) -> str:
    return read_bytes(uri).decode("utf-8")
