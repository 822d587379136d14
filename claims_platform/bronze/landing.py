"""The landing zone as the platform sees it: list DMS files and read them, never modify them.

Local runs use a directory; production uses `s3://bucket/prefix` behind the same interface.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from claims_platform.aws.s3 import ObjectEncryption, object_encryption, split_s3_uri
from claims_platform.bronze.listing import KeyRange, LedgerFront
from claims_platform.dms.files import (
    SCHEMA,
    DmsFile,
    canonical_path,
    noncanonical_dms_path,
    parse_path,
)

# Folders under the schema: <TABLE>/[YYYY/MM/DD/]; deeper ones are never DMS files.
_MAX_DEPTH = 6
_CHUNK = 1 << 20


@dataclass(frozen=True)
class LandedFile:
    file: DmsFile
    size_bytes: int
    modified_at: dt.datetime  # naive UTC
    # Why the platform must not read it (not a regular file, an S3 key no path can name): the
    # silver step records it quarantined with this reason instead of reading it.
    problem: str | None = None

    @property
    def path(self) -> str:
        return self.file.path


class Landing(Protocol):
    uri: str
    # Whether listing everything costs little (a directory walk) or pages through every key
    # ever landed (S3): the landing sensor lists everything on each tick only when it is cheap.
    full_listing_is_cheap: bool

    def list_files(
        self, since: dt.datetime | None = None, after: LedgerFront | None = None
    ) -> Iterator[LandedFile]:
        """DMS files landed, those modified at or after `since` (naive UTC) when it is given,
        and only those after the ledger's front (bronze.listing) when `after` is given."""
        ...

    def stat(self, path: str) -> LandedFile | None:
        """The landed file at `path` relative to the landing root, or None when there is none."""
        ...

    def read_bytes(self, path: str) -> bytes:
        """The bytes of a landed file, by its path relative to the landing root."""
        ...

    def checksum(self, path: str) -> str:
        """SHA-256 (hex) of a landed file's bytes, read in chunks (files reach 1 GB)."""
        ...


def _not_regular(mode: int) -> str | None:
    """The ledger reason for a landed entry that is not a regular file, or None for a file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        kind = "a symbolic link"
    elif stat.S_ISFIFO(mode):
        kind = "a named pipe (FIFO)"
    elif stat.S_ISDIR(mode):
        kind = "a directory"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    else:
        kind = "a device or other special file"
    return (
        f"not read: {kind}, not a regular file (only regular files under "
        f"{SCHEMA}/<TABLE>/ are read)"
    )


class LocalLanding:
    """A directory laid out as DMS lays out its S3 target."""

    full_listing_is_cheap = True

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.uri = str(self.root)

    def list_files(
        self, since: dt.datetime | None = None, after: LedgerFront | None = None
    ) -> Iterator[LandedFile]:
        """Entries named like DMS files under `CLAIMS/<TABLE>/[YYYY/MM/DD/]`, from `lstat`: a
        symbolic link, FIFO, directory or device is listed with its `problem` and never opened
        (opening a FIFO blocks until a writer comes). Other schemas' folders and symbolically
        linked folders are not entered. With `after`, the S3 listing's key ranges apply to the
        walk: folders before the front are not entered, files before it are not stat'ed."""
        if not self.root.is_dir():
            return
        yield from self._walk(self.root, (), since, after)

    def _walk(
        self,
        folder: Path,
        parts: tuple[str, ...],
        since: dt.datetime | None,
        after: LedgerFront | None,
    ) -> Iterator[LandedFile]:
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return  # removed or unreadable meanwhile: nothing landed there to list
        ranges: list[KeyRange] = []
        if after is not None and len(parts) >= 2:
            ranges = after.ranges(f"{parts[0]}/{parts[1]}/")
        for entry in entries:
            rel = (*parts, entry.name)
            if not parts and entry.name != SCHEMA:
                continue
            path = "/".join(rel)
            if (
                ranges
                and not any(r.admits(path) for r in ranges)
                and not any(r.may_hold_under(path + "/") for r in ranges)
            ):
                continue
            dms_file = parse_path(path)
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if dms_file is None:
                if stat.S_ISDIR(st.st_mode) and len(rel) < _MAX_DEPTH:
                    yield from self._walk(Path(entry.path), rel, since, after)
                continue
            if ranges and not any(r.admits(path) for r in ranges):
                continue
            modified = dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).replace(tzinfo=None)
            if since is not None and modified < since:
                continue
            yield LandedFile(
                file=dms_file,
                size_bytes=st.st_size,
                modified_at=modified,
                problem=_not_regular(st.st_mode),
            )

    def stat(self, path: str) -> LandedFile | None:
        """The landed file at `path` (one `lstat`), or None when there is none."""
        dms_file = parse_path(path)
        if dms_file is None:
            return None
        try:
            st = os.lstat(self.root / path)
        except OSError:
            return None
        return LandedFile(
            file=dms_file,
            size_bytes=st.st_size,
            modified_at=dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).replace(tzinfo=None),
            problem=_not_regular(st.st_mode),
        )

    def read_bytes(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    def checksum(self, path: str) -> str:
        # O_NONBLOCK: an entry swapped for a FIFO after listing must not block the caller.
        fd = os.open(self.root / path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            problem = _not_regular(os.fstat(fd).st_mode)
            if problem:
                raise OSError(f"{path}: {problem}")
            return hashlib.file_digest(f, "sha256").hexdigest()


class S3Landing:
    """`s3://bucket/prefix` as DMS's S3 target endpoint writes it (BucketName + BucketFolder).

    The client (the platform resource's, from dagster-aws's `S3Resource`) is only created when
    first used, so building definitions or a sensor never opens a connection.
    """

    full_listing_is_cheap = False

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

    def list_files(
        self, since: dt.datetime | None = None, after: LedgerFront | None = None
    ) -> Iterator[LandedFile]:
        for obj in self._objects(since, after):
            landed = self._landed(obj["Key"][len(self.prefix) :], obj["Size"], obj["LastModified"])
            if landed is not None:
                yield landed

    def stat(self, path: str) -> LandedFile | None:
        """The landed file at `path` (one HEAD), or None when there is none."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key(path))
        except self.client.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return self._landed(path, head["ContentLength"], head["LastModified"])

    def _landed(self, rel: str, size: int, modified: dt.datetime) -> LandedFile | None:
        problem = None
        dms_file = parse_path(rel)
        if dms_file is None:
            dms_file = noncanonical_dms_path(rel)
            if dms_file is None:
                return None
            problem = (
                "not read: the S3 key is not canonical (an empty or '.' path segment, as "
                "in '//'), and a path joined from it names another key; copy the object to "
                f"{self.uri}/{canonical_path(rel)} to load it"
            )
        return LandedFile(
            file=dms_file,
            size_bytes=int(size or 0),
            modified_at=modified.astimezone(dt.UTC).replace(tzinfo=None),
            problem=problem,
        )

    def _objects(
        self, since: dt.datetime | None, after: LedgerFront | None = None
    ) -> list[dict[str, Any]]:
        """The objects under the prefix modified at or after `since`, oldest first; with
        `after`, only those in the key ranges after the ledger's front (bronze.listing).

        What dagster-aws's `get_objects` does (pages of list_objects_v2, sorted by LastModified),
        without Dagster in the core; and `>= since`, where get_objects keeps `> since`: objects
        sharing the boundary second must not be lost. S3 cannot filter by LastModified, so
        `since` alone still pages through every key; `after` is what bounds the listing.
        """
        paginator = self.client.get_paginator("list_objects_v2")
        if after is None:
            pages = paginator.paginate(Bucket=self.bucket, Prefix=self.prefix)
            objects = [obj for page in pages for obj in page.get("Contents", [])]
        else:
            objects = [
                obj
                for folder in self._table_folders(paginator)
                for key_range in after.ranges(folder)
                for obj in self._range(paginator, key_range)
            ]
        if since is not None:
            aware = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
            objects = [obj for obj in objects if obj["LastModified"] >= aware]
        return sorted(objects, key=lambda obj: obj["LastModified"])

    def _table_folders(self, paginator: Any) -> list[str]:
        """`CLAIMS/<TABLE>/` of every table folder landed (one call per 1,000 folders); keys
        outside a canonical folder (`CLAIMS//…`, `/CLAIMS/…`) only a full listing sees."""
        pages = paginator.paginate(Bucket=self.bucket, Prefix=self.key(f"{SCHEMA}/"), Delimiter="/")
        return [
            p["Prefix"][len(self.prefix) :]
            for page in pages
            for p in page.get("CommonPrefixes", [])
        ]

    def _range(self, paginator: Any, key_range: KeyRange) -> Iterator[dict[str, Any]]:
        """The objects of one key range; stops paging at `stop` (the full-load files after the
        change files are another range's)."""
        params = {"Bucket": self.bucket, "Prefix": self.key(key_range.prefix)}
        if key_range.start_after is not None:
            params["StartAfter"] = self.key(key_range.start_after)
        stop = self.key(key_range.stop) if key_range.stop is not None else None
        for page in paginator.paginate(**params):
            for obj in page.get("Contents", []):
                if stop is not None and obj["Key"] >= stop:
                    return
                yield obj

    def read_bytes(self, path: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.key(path))["Body"].read()

    def checksum(self, path: str) -> str:
        body = self.client.get_object(Bucket=self.bucket, Key=self.key(path))["Body"]
        digest = hashlib.sha256()
        for chunk in body.iter_chunks(_CHUNK):
            digest.update(chunk)
        return digest.hexdigest()

    def encryption(self, path: str) -> ObjectEncryption:
        return object_encryption(self.client, self.bucket, self.key(path))


def _ambient_s3_client() -> Any:
    """An S3 client of the ambient AWS configuration (credentials, AWS_REGION, endpoint)."""
    import boto3

    return boto3.client("s3")


def landing_for(uri: str, s3_client: Callable[[], Any] | None = None) -> Landing:
    """The landing zone at `uri`; `s3_client` makes the S3 client of an `s3://` landing."""
    if uri.startswith("s3://"):
        return S3Landing(uri, s3_client or _ambient_s3_client)
    return LocalLanding(uri)
