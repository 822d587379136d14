"""The one resources module: what every asset reaches the outside world through.

All of it follows from `environment.get_settings()`, evaluated when a run or sensor uses it, never
at import. Locally: a landing directory, PySpark in-process and a DuckDB file; production pieces
plug in behind the same methods.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from claims_platform.bronze.landing import Landing, landing_for
from claims_platform.environment import Settings, get_settings
from claims_platform.silver.commit import connect, warehouse_lock
from claims_platform.silver.job import BatchManifest, BatchResult


class PlatformResource(dg.ConfigurableResource):
    """Settings, landing zone and the single-writer warehouse of the current environment."""

    def settings(self) -> Settings:
        return get_settings()

    def landing(self) -> Landing:
        return landing_for(self.settings().landing_uri)

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Exclusive write access to the warehouse; other writers (runs, CLI) wait for it."""
        s = self.settings()
        with warehouse_lock(s.lock_path):
            con = connect(s.duckdb_path)
            try:
                yield con
            finally:
                con.close()

    @contextmanager
    def warehouse_lock(self) -> Iterator[None]:
        with warehouse_lock(self.settings().lock_path):
            yield


class LocalSparkSilverRunner(dg.ConfigurableResource):
    """Runs the silver job in this process on PySpark `local[*]`, as Glue would run the script."""

    def run(self, manifest: BatchManifest, settings: Settings) -> tuple[BatchResult, Path]:
        from claims_platform.silver.job import run_batch
        from claims_platform.silver.spark import get_spark

        batch_dir = settings.lake_dir / "batches" / manifest.batch_id
        if batch_dir.exists():
            shutil.rmtree(batch_dir)
        batch_dir.mkdir(parents=True)
        (batch_dir / "_manifest.json").write_text(manifest.to_json(), encoding="utf-8")
        result = run_batch(
            get_spark(), manifest, str(batch_dir), tokenization_key=settings.tokenization_key
        )
        return result, batch_dir

    @staticmethod
    def new_batch_id() -> str:
        return uuid.uuid4().hex

    @staticmethod
    def discard(batch_dir: Path) -> None:
        shutil.rmtree(batch_dir, ignore_errors=True)
