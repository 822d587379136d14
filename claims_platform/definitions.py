"""The Dagster code location `claims_platform.definitions:defs` (CONTRACT §1).

The definitions are assembled in `claims_platform.orchestration.definitions`; this module only
names them where `workspace.yaml`, `dagster_cloud.yaml` and `dagster ... -m` look.
"""

from claims_platform.orchestration.definitions import defs

__all__ = ["defs"]
