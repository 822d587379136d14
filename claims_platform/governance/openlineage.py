"""OpenLineage: the client of this environment, the schema facet, and the events it wrote.

Transport. The openlineage-python client's own configuration wins when present (`OPENLINEAGE_URL`
[+ `OPENLINEAGE_ENDPOINT`, `OPENLINEAGE_API_KEY`] for a Marquez-compatible HTTP endpoint,
`OPENLINEAGE_CONFIG` / `openlineage.yml`, `OPENLINEAGE__TRANSPORT__*`, `OPENLINEAGE_DISABLED`).
Without any, a local run appends JSON lines to `$CLAIMS_DATA_DIR/openlineage/events.jsonl`;
branch and prod fall back to the client's console transport.

The steps emit their START / COMPLETE / FAIL events through
claims_platform.orchestration.governance.openlineage.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openlineage.client import OpenLineageClient

NAMESPACE = "claims_platform"
PRODUCER = "https://github.com/claims-platform/claims_platform/tree/main/claims_platform/governance"
EVENTS_FILE = "events.jsonl"
_CLIENT_CONFIG_VARS = ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE_DISABLED")


def local_events_path(data_dir: Path) -> Path:
    return data_dir / "openlineage" / EVENTS_FILE


def _client_is_configured() -> bool:
    return (
        any(os.environ.get(v) for v in _CLIENT_CONFIG_VARS)
        or any(k.startswith("OPENLINEAGE__TRANSPORT") for k in os.environ)
        or Path("openlineage.yml").is_file()
        or (Path.home() / ".openlineage" / "openlineage.yml").is_file()
    )


def make_client() -> OpenLineageClient:
    """The client of this environment (see the module docstring); built when a step runs."""
    from openlineage.client import OpenLineageClient

    if _client_is_configured():
        return OpenLineageClient()
    from claims_platform.environment import get_settings

    settings = get_settings()
    if settings.env != "local":
        return OpenLineageClient()  # the client's console transport, with its own warning
    from openlineage.client.transport.file import FileConfig, FileTransport

    path = local_events_path(settings.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    return OpenLineageClient(
        transport=FileTransport(FileConfig(log_file_path=str(path), append=True))
    )


def schema_facet(columns: Iterable[tuple[str, str | None, str | None]]) -> Any:
    """The schema facet of a dataset's (name, type, description) columns; no values."""
    from openlineage.client.facet_v2 import schema_dataset

    return schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(name=name, type=type_, description=description)
            for name, type_, description in columns
        ]
    )


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events a file transport wrote (one JSON object per line)."""
    import json

    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
