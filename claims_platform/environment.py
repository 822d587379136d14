"""The one environment switch: `local | branch | prod`, and the settings that follow from it.

Nothing here runs at import time; callers ask for settings when a run, sensor or CLI needs them, so
`dagster definitions validate` stays offline and independent of the shell it runs in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from claims_platform.governance.tokenize import LOCAL_DEVELOPMENT_KEY

Env = Literal["local", "branch", "prod"]
_ENVS: tuple[Env, ...] = ("local", "branch", "prod")

# The checkout root: local state defaults to `.data/` beside the code (CONTRACT §1).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigurationError(RuntimeError):
    """A setting is missing or invalid; the message says which and how to fix it."""


def get_env() -> Env:
    """Dagster+ deployment variables win over CLAIMS_ENV; the default is `local`."""
    if os.environ.get("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT") == "1":
        return "branch"
    if os.environ.get("DAGSTER_CLOUD_DEPLOYMENT_NAME"):
        return "prod"
    env = os.environ.get("CLAIMS_ENV", "local").strip().lower() or "local"
    if env not in _ENVS:
        raise ConfigurationError(f"CLAIMS_ENV must be one of {', '.join(_ENVS)}, not {env!r}")
    return env  # type: ignore[return-value]


@dataclass(frozen=True)
class Settings:
    env: Env
    data_dir: Path
    landing_uri: str
    duckdb_path: Path
    tokenization_key: str

    @property
    def lake_dir(self) -> Path:
        """Scratch space of the silver job (batch outputs before they are committed)."""
        return self.data_dir / "lake"

    @property
    def dbt_target(self) -> str:
        return self.env

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "warehouse.lock"

    def dbt_environ(self) -> dict[str, str]:
        """Variables of the dbt subprocess: the warehouse location profiles.yml reads, and
        cautious test selection, so a partial build (automation materialises subsets) never runs
        a relationships test whose other parent is not built yet."""
        return {
            "CLAIMS_DUCKDB_PATH": str(self.duckdb_path),
            "CLAIMS_DATA_DIR": str(self.data_dir),
            "DBT_INDIRECT_SELECTION": "cautious",
        }


def get_settings() -> Settings:
    env = get_env()
    data_dir = Path(os.environ.get("CLAIMS_DATA_DIR") or PROJECT_ROOT / ".data").resolve()
    landing = os.environ.get("CLAIMS_LANDING_URI") or str(data_dir / "landing")
    if not landing.startswith("s3://"):
        landing = str(Path(landing).resolve())
    duckdb_path = Path(os.environ.get("CLAIMS_DUCKDB_PATH") or data_dir / "warehouse.duckdb")
    key = os.environ.get("CLAIMS_TOKENIZATION_KEY")
    if not key:
        if env != "local":
            raise ConfigurationError(
                "CLAIMS_TOKENIZATION_KEY is not set: outside local the SSN tokenization key "
                "must come from a secret (set it in the deployment's environment variables)"
            )
        key = LOCAL_DEVELOPMENT_KEY
    return Settings(
        env=env,
        data_dir=data_dir,
        landing_uri=landing,
        duckdb_path=duckdb_path.resolve(),
        tokenization_key=key,
    )
