"""The landing zone as the platform sees it: list DMS files and read them, never modify them.

Local runs use a directory; production uses `s3://bucket/prefix` behind the same interface.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from claims_platform.aws.s3 import ObjectEncryption, object_encryption, split_s3_uri
from claims_platform.dms.files import DmsFile, parse_path


@dataclass(frozen=True)
class LandedFile:
    file: DmsFile
    size_bytes: int
    modified_at: dt.datetime  # naive UTC

    @property
    def path(self) -> str:
        return self.file.path


class Landing(Protocol):
    uri: str

    def list_files(self, since: dt.datetime | None = None) -> Iterator[LandedFile]:
        """DMS files landed, those modified at or after `since` (naive UTC) when it is given."""
        ...

    def read_bytes(self, path: str) -> bytes:
        """The bytes of a landed file, by its path relative to the landing root."""
        ...


class LocalLanding:
    """A directory laid out as DMS lays out its S3 target."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.uri = str(self.root)

    def list_files(self, since: dt.datetime | None = None) -> Iterator[LandedFile]:
        if not self.root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for name in sorted(filenames):
                full = Path(dirpath, name)
                rel = full.relative_to(self.root).as_posix()
                dms_file = parse_path(rel)
                if dms_file is None:
                    continue
                try:
                    st = full.stat()
                except FileNotFoundError:
                    continue
                modified = dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).replace(tzinfo=None)
                if since is not None and modified < since:
                    continue
                yield LandedFile(file=dms_file, size_bytes=st.st_size, modified_at=modified)

    def read_bytes(self, path: str) -> bytes:
        return (self.root / path).read_bytes()


class S3Landing:
    """`s3://bucket/prefix` as DMS's S3 target endpoint writes it (BucketName + BucketFolder).

    The client comes from dagster-aws's `S3Resource` and is only created when first used, so
    building definitions or a sensor never opens a connection.
    """

    def __init__(self, uri: str, client_factory: Callable[[], Any]) -> None:
        self.bucket, prefix = split_s3_uri(uri)
        self.prefix = f"{prefix}/" if prefix else ""
        self.uri = f"s3://{self.bucket}/{prefix}".rstrip("/")
        self._client_factory = client_factory

    @cached_property
    def client(self) -> Any:
        return self._client_factory()

    def key(self, path: str) -> str:
        return self.prefix + path

    def list_files(self, since: dt.datetime | None = None) -> Iterator[LandedFile]:
        from dagster_aws.s3.sensor import get_objects

        # get_objects pages through list_objects_v2 and keeps LastModified > since (strict);
        # callers want >= since, since objects sharing the boundary second must not be lost.
        after = None
        if since is not None:
            aware = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
            after = aware - dt.timedelta(microseconds=1)
        objects = get_objects(
            self.bucket, self.prefix, since_last_modified=after, client=self.client
        )
        for obj in objects:
            rel = obj["Key"][len(self.prefix) :]
            dms_file = parse_path(rel)
            if dms_file is None:
                continue
            yield LandedFile(
                file=dms_file,
                size_bytes=int(obj.get("Size", 0)),
                modified_at=obj["LastModified"].astimezone(dt.UTC).replace(tzinfo=None),
            )

    def read_bytes(self, path: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.key(path))["Body"].read()

    def encryption(self, path: str) -> ObjectEncryption:
        return object_encryption(self.client, self.bucket, self.key(path))


def landing_for(uri: str, s3_client: Callable[[], Any] | None = None) -> Landing:
    """The landing zone at `uri`; `s3_client` makes the S3 client of an `s3://` landing."""
    if uri.startswith("s3://"):
        if s3_client is None:
            from dagster_aws.s3 import S3Resource

            s3_client = S3Resource().get_client
        return S3Landing(uri, s3_client)
    return LocalLanding(uri)
