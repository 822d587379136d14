"""The landing zone as the platform sees it: list DMS files, never modify them.

Local runs use a directory; production uses `s3://bucket/prefix` behind the same interface.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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

    def list_files(self) -> Iterator[LandedFile]: ...


class LocalLanding:
    """A directory laid out as DMS lays out its S3 target."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.uri = str(self.root)

    def list_files(self) -> Iterator[LandedFile]:
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
                yield LandedFile(
                    file=dms_file,
                    size_bytes=st.st_size,
                    modified_at=dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).replace(tzinfo=None),
                )


def landing_for(uri: str) -> Landing:
    if uri.startswith("s3://"):
        raise NotImplementedError("S3 landing arrives with the production path (issue 5)")
    return LocalLanding(uri)
